import { assert, assertClose } from "../testing/assert.ts";
import {
  CALIBRATION_KNOBS,
  CALIBRATION_TARGETS,
  calibrationObjective,
  calibrationReport,
  CENTRE_WEIGHT,
  measureCalibration,
  metBySeed,
  reportMarkdown,
  stagePlan,
  statsFromRanks,
  targetMiss,
  targetValues,
  TEXT_KNOBS,
} from "./calibration.ts";
import { syntheticConfig } from "../data/synthetic/generator.ts";
import { type BenchmarkName, BENCHMARKS } from "../data/benchmarks.ts";

Deno.test("calibration: misses and objective on hand cases", () => {
  const two = { lo: 0, hi: 2, scale: 1 };
  const up = { lo: 0, hi: Infinity, scale: 2 };
  assert.equal(targetMiss(two, 1), 0);
  assert.equal(targetMiss(two, 3), 1);
  assert.equal(targetMiss(two, -0.5), 0.5);
  assert.equal(targetMiss(up, -1), 0.5);
  assert.equal(targetMiss(up, 100), 0);
  // In the middle: nothing. At 3: miss 1 plus the centre pull ((3-1)/1)^2.
  assert.equal(calibrationObjective([1], [two]), 0);
  assertClose(calibrationObjective([3], [two]), 1 + CENTRE_WEIGHT * 4, 1e-12);
  assertClose(calibrationObjective([2], [two]), CENTRE_WEIGHT, 1e-12);
  // One-sided targets have no centre.
  assertClose(calibrationObjective([-1, 1], [up, two]), 0.25, 1e-12);
  assert.throws(() => calibrationObjective([1, 2], [two]), Error, "one value per target");
});

Deno.test("calibration: the table holds the issue's 42 targets with sane intervals", () => {
  assert.equal(CALIBRATION_TARGETS.length, 42);
  const ids = new Set(CALIBRATION_TARGETS.map((t) => t.id));
  assert.equal(ids.size, 42, "ids are unique");
  for (const t of CALIBRATION_TARGETS) {
    assert.ok(t.lo < t.hi && t.scale > 0, t.id);
    assert.ok(t.source.length > 0, t.id);
  }
  const r3 = CALIBRATION_TARGETS.find((t) => t.id === "chatir_visdial_r3")!;
  assert.deepEqual([r3.lo, r3.hi], [73.01 - 2.5, 73.01 + 2.5]);
});

Deno.test("calibration: statistics from a hand-made rank array", () => {
  // Two dialogues, three rounds. ChatIR ranks and DAR ranks, the same on all four benchmarks.
  const R = 3;
  const c = Int32Array.from([20, 5, 3, 100, 50, 12]);
  const d = Int32Array.from([30, 9, 1, 100, 5000, 11]);
  const rec = (a: Int32Array) =>
    Object.fromEntries(BENCHMARKS.map((b) => [b, a])) as Record<BenchmarkName, Int32Array>;
  const s = statsFromRanks(rec(c), rec(d), 2, R, 1000);
  // Cumulative Hits@10: ChatIR: round 0 none, round 1 dialogue 0 (5), round 2 still one.
  assert.deepEqual(s.chatir.visdial, [0, 50, 50]);
  assert.deepEqual(s.dar.visdial, [0, 50, 50]);
  // Degradation: round 0 dialogue 0 (30 > 20); round 1 dialogue 0 (9 > 5) and 1 (5000 > 50);
  // round 2 none (1 < 3, 11 < 12).
  assert.deepEqual(s.degradation, [50, 100, 0]);
  assert.equal(s.rankDrop[0], 10);
  assert.equal(s.rankDrop[1], (4 + 4950) / 2);
  assert.ok(Number.isNaN(s.rankDrop[2]));
  assert.equal(s.dialogues, 2);
});

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

Deno.test("calibration: the text stage moves the text knobs against ChatIR's targets only", async () => {
  const text = stagePlan("text");
  assert.deepEqual(text.knobs.map((k) => k.key).sort(), [...TEXT_KNOBS].sort());
  assert.ok(text.textOnly);
  assert.ok(text.targets.length > 0);
  for (const i of text.targets) assert.ok(CALIBRATION_TARGETS[i].id.startsWith("chatir"));
  const gen = stagePlan("generator");
  assert.equal(gen.knobs.length + text.knobs.length, CALIBRATION_KNOBS.length);
  assert.ok(gen.knobs.every((k) => !TEXT_KNOBS.includes(k.key)));
  assert.equal(gen.targets.length, CALIBRATION_TARGETS.length);
  // ranking ChatIR alone gives the same ChatIR curves and no DAR numbers
  const cfg = syntheticConfig("small", 3);
  const both = await measureCalibration(cfg, { dialogues: 8 });
  const alone = await measureCalibration(cfg, { dialogues: 8, textOnly: true });
  assert.deepEqual(alone.chatir, both.chatir);
  assert.ok(alone.dar.visdial.every(Number.isNaN) && alone.degradation.every(Number.isNaN));
});
