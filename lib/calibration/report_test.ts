import { assert } from "../testing/assert.ts";
import { CALIBRATION_TARGETS, targetValues } from "./targets.ts";
import { calibrationReport, metBySeed, reportMarkdown } from "./report.ts";
import { type BenchmarkName, BENCHMARKS } from "../data/benchmarks.ts";

Deno.test("calibration: report of a perfect and a failing seed", () => {
  // Stats where the visdial ChatIR curve is exactly the published one.
  const pub = [63.42, 67.54, 70.54, 73.01, 74.81, 76.79, 78.25, 79.51, 80.47, 80.86, 81.83];
  const curves = {} as Record<BenchmarkName, number[]>;
  for (const b of BENCHMARKS) curves[b] = pub.slice();
  const good = {
    chatir: curves,
    dar: curves,
    degradation: new Array(11).fill(52),
    rankDrop: new Array(11).fill(7500),
    dialogues: 10,
    corpusSize: 100,
  };
  const vals = targetValues(good);
  const byId = Object.fromEntries(CALIBRATION_TARGETS.map((t, i) => [t.id, vals[i]]));
  assert.equal(byId.chatir_visdial_r10, 81.83);
  assert.equal(byId.dar_rank_drop_visdial, 7500);
  assert.equal(byId.dar_minus_chatir_r0_visdial, 0);
  const bad = { ...good, rankDrop: new Array(11).fill(1000) };
  const rep = calibrationReport({ textGap: 4 }, { "1": good, "2": bad });
  const row = rep.rows.find((r) => r.id === "dar_rank_drop_visdial")!;
  assert.equal(row.met, false);
  assert.deepEqual(row.values, { "1": 7500, "2": 1000 });
  assert.ok(rep.rows.find((r) => r.id === "chatir_visdial_r5")!.met);
  const md = reportMarkdown(rep);
  assert.ok(md.includes("| DAR average rank drop, visdial, mean over rounds 2..10 |"), md);
  assert.ok(md.includes("**no**"));
  // seed 2 misses exactly the rank drop: per-seed counts say so
  const perSeed = metBySeed(rep);
  assert.equal(perSeed["2"], perSeed["1"] - 1);
  assert.equal(rep.met, perSeed["2"]);
  assert.ok(md.includes(`per seed: ${perSeed["1"]} on seed 1, ${perSeed["2"]} on seed 2.`), md);
});
