import { assert, assertClose } from "../testing/assert.ts";
import type { EvalOutput } from "../eval/evaluate.ts";
import { detectorComparison, detectorRounds, largeDropShare } from "./gate_detector.ts";
import { caseOf, casesFigure, caseTable, findCases, instructiveCases } from "./cases.ts";
import {
  ABLATION_VARIANTS,
  ablationConfig,
  ablationFigure,
  ablationTable,
  meanDegradation,
} from "./ablations.ts";
import { METHOD_COLORS } from "./reference.ts";
import { cellConfig, cellKnobs, robustnessCells, robustnessFigure } from "./robustness.ts";
import { syntheticConfig } from "../data/synthetic/generator.ts";

/** An evaluation of `ranks` `[count][rounds]` (optionally with gate and cos). */
function ev(method: string, ranks: number[][], gate?: number[][], cos?: number[][]): EvalOutput {
  return {
    method,
    benchmark: "visdial",
    data: "x",
    backend: "wasm",
    seconds: 0,
    count: ranks.length,
    rounds: ranks[0].length,
    corpusSize: 100_000,
    hits: {},
    ranks,
    warnings: [],
    ...(gate ? { gate, cos } : {}),
  };
}

// 4 dialogues × 2 rounds; round 1 of dialogues 0 and 1 went off-scene
const offScene = Uint8Array.from([0, 1, 0, 1, 0, 0, 0, 0]);
const latent = { hard: Uint8Array.from([1, 0, 0, 0]), offScene };
const chatir = ev("chatir", [[5, 4], [6, 3], [1, 1], [9, 2]]);
const dar = ev("dar", [[5, 5000], [6, 1500], [1, 2], [9, 40]]);
// the gate gives dialogue 0's off-scene round the least image weight (w highest), dialogue 1's
// the most: one of two off-scene pairs is ranked right
const ada = ev(
  "adafuse",
  [[4, 30], [6, 1000], [1, 1], [8, 2]],
  [[0.7, 0.9], [0.7, 0.5], [0.7, 0.8], [0.7, 0.6]],
  [[0.5, -0.1], [0.5, 0.0], [0.5, 0.4], [0.5, 0.3]],
);

Deno.test("detector: hand-worked AUCs per round, and the share of DAR's drops the gate caught", () => {
  const d = detectorRounds(ada, offScene);
  assert.equal(d.length, 2);
  assert.equal(d[1].offScene, 2);
  // image weights at round 1: 0.1 (off), 0.5 (off), 0.2, 0.4 → pairs (off < good): 0.1 beats
  // both, 0.5 beats neither → 2 of 4
  assertClose(d[1].imageWeight.auc, 0.5, 1e-12);
  // cos at round 1: −0.1, 0 (off) against 0.4, 0.3 → perfect
  assertClose(d[1].cos.auc, 1, 1e-12);
  assert.ok(Number.isNaN(d[0].imageWeight.auc)); // no off-scene generation at round 0
  // DAR drops ≥ 1000 at round 1: dialogues 0 (4996) and 1 (1497), both off-scene; the lowest
  // quarter of 1 − w at round 1 (index floor(0.25·3) = 0 of the sorted 0.1, 0.2, 0.4, 0.5) is
  // dialogue 0 alone
  const s = largeDropShare(ada, dar, chatir, offScene);
  assert.equal(s.drops, 2);
  assert.equal(s.offSceneShare, 1);
  assert.equal(s.downWeightedShare, 0.5);
  assert.equal(s.baseRate, 0.25);
  const rows = detectorComparison([d], [s]);
  assert.equal(rows.length, 2);
  assert.match(rows[1].ours, /50\.0% of 2 drops \(base rate 25\.0%; 100\.0% of the drops/);
});

Deno.test("detector and cases: mismatched inputs fail with the fix", () => {
  assert.throws(() => detectorRounds(chatir, offScene), /pass an ADaFuSE evaluation/);
  assert.throws(() => detectorRounds(ada, new Uint8Array(3)), /latent truths of the same split/);
  const short = ev("dar", [[1, 1]]);
  assert.throws(() => largeDropShare(ada, short, chatir, offScene), /same benchmark/);
  assert.throws(() => caseOf({ chatir, dar: short, adafuse: ada }, latent, 0), /same benchmark/);
  assert.throws(() => caseOf({ chatir, dar, adafuse: ada }, latent, 4), /not in 0\.\.3/);
});

Deno.test("cases: filters rank the dialogues; a case reads 1-based ranks, w, cos, off-scene", () => {
  const evals = { chatir, dar, adafuse: ada };
  const [worst] = findCases(evals, latent, { by: "darDrop" });
  assert.equal(worst.index, 0);
  assert.match(worst.why, /4996 places at round 1/);
  assert.deepEqual(findCases(evals, latent, { by: "darDrop", round: 0 }, 4).map((c) => c.index), [
    0,
    1,
    2,
    3,
  ]);
  assert.equal(findCases(evals, latent, { by: "adafuseGain" })[0].index, 0); // 5000 − 30
  assert.equal(findCases(evals, latent, { by: "adafuseLoss" })[0].index, 2); // 1 − 2: least behind
  assert.throws(() => findCases(evals, latent, { by: "darDrop", round: 2 }), /round 2/);
  const c = caseOf(evals, latent, 1);
  assert.deepEqual(c.ranks.dar, [7, 1501]);
  assert.deepEqual(c.offScene, [false, true]);
  assert.equal(c.hard, false);
  assert.equal(caseTable(c)[1]["off-scene"], "yes");
  const all = instructiveCases(evals, latent);
  assert.equal(new Set(all.map((x) => x.index)).size, all.length); // no repeats
  assert.equal(all.length, 4); // only 4 dialogues exist
  const fig = casesFigure(all);
  // 6 traces per case; the dropdown shows exactly one case's
  assert.equal(fig.data.length, 6 * all.length);
  const vis = fig.layout!.updatemenus[0].buttons[2].args[0].visible as boolean[];
  assert.deepEqual(vis.map((v, i) => (v ? i : -1)).filter((i) => i >= 0), [12, 13, 14, 15, 16, 17]);
});

Deno.test("ablations: each variant is the base config with its head fields", () => {
  const base = { dataSeed: 0, trainSeeds: [0, 1], overrides: { lr: 1e-4 } };
  const byId = Object.fromEntries(ABLATION_VARIANTS.map((v) => [v.id, v]));
  assert.equal(ablationConfig(base, byId.full), base);
  assert.deepEqual(ablationConfig(base, byId.k8).overrides, { lr: 1e-4, model: { experts: 8 } });
  assert.deepEqual(ablationConfig(base, byId.experts_only, 0.78).overrides, {
    lr: 1e-4,
    model: { variant: "moe_only", fixedTextWeight: 0.78 },
  });
  assert.throws(() => ablationConfig(base, byId.projection_only), /mean text weight/);
  const row = (id: string, v: number) => ({
    id,
    label: id,
    params: id === "dar" ? 0 : 10,
    hits: Object.fromEntries(
      ["visdial", "chatgpt_blip2", "human_blip2", "flan_alpaca_xxl_blip2"].map((b) => [
        b,
        // the baselines do not train: one entry, not one per seed
        id === "dar" ? [[v, v, v]] : [[v, v, v], [v + 2, v, v]],
      ]),
    ),
    degradation: id === "dar" ? [40] : [40, 42],
  });
  const t = ablationTable([row("full", 60), row("dar", 50)]);
  assert.equal(t[0]["VisDial val r0"], "61.00 ± 1.41");
  assert.equal(t[1]["VisDial val r0"], "50.00"); // baselines: one value, no spread
  assert.equal(t[0]["VisDial degradation (%)"], "41.0 ± 1.4");
  // the figure is a dot plot (no bar needs an axis from 0), the full head in ADaFuSE's colour
  const fig = ablationFigure([row("full", 60), row("k8", 61), row("dar", 50)], {
    subtitle: "synthetic stand-in, data seed 0",
  });
  // deno-lint-ignore no-explicit-any
  const traces = fig.data as any[];
  assert.deepEqual(traces.map((d) => d.type), ["scatter", "scatter", "scatter"]);
  assert.equal(traces[0].marker.color, METHOD_COLORS.adafuse);
  assert.equal(traces[2].marker.color, METHOD_COLORS.dar);
  assert.notEqual(traces[1].marker.color, METHOD_COLORS.adafuse);
  assert.deepEqual(traces[0].y, [60, 60, 60, 60]); // round 10 (the seeds differ at round 0 only)
  assert.deepEqual(traces[0].error_y.array, [0, 0, 0, 0]);
  assert.equal(traces[2].error_y, undefined); // DAR does not train: no spread
  // deno-lint-ignore no-explicit-any
  assert.match((fig.layout as any).title.text, /synthetic stand-in/);
  // deno-lint-ignore no-explicit-any
  assert.deepEqual((fig.layout as any).yaxis.range, [49, 62]); // the data's span, not from 0
});

Deno.test("robustness: 11 cells around the default; knobs scale the preset's values", () => {
  const cells = robustnessCells();
  assert.equal(cells.length, 11);
  assert.deepEqual(cellKnobs({ offScene: 1, halluc: 1 }), {}); // the default cell is the default
  const base = syntheticConfig("default", 0);
  const k = cellKnobs({ offScene: 2, halluc: 0.5, hardFrac: 0.6 });
  assertClose(k.genOffScene!, 2 * base.genOffScene, 1e-9);
  assertClose(k.genOffScenePerWord!, 2 * base.genOffScenePerWord, 1e-9);
  assertClose(k.genHallucWeightHard!, 0.5 * base.genHallucWeightHard, 1e-9);
  assert.equal(k.genHardFrac, 0.6);
  const c = cellConfig({ dataSeed: 0, trainSeeds: [4, 5], overrides: { lr: 1e-4 } }, cells[0]);
  assert.deepEqual(c.trainSeeds, [4]);
  assert.equal(c.overrides?.lr, 1e-4);
  assert.throws(() => cellConfig({ data: "/x" }, cells[0]), /unset config.data/);
  const res = cells.map((cell, i) => ({
    cell,
    offSceneShare: 0.1,
    hits10: { chatir: 80, dar: 82, adafuse: 80 + i },
    gainRound0: 0,
    degradation: { dar: 50, adafuse: 30 },
    seconds: 0,
  }));
  const fig = robustnessFigure(res);
  // rows: hallucination ×0.5, ×1, ×2; columns: off-scene ×0.5, ×1, ×2 (cells 0..8 in that order)
  assert.deepEqual(fig.data[0].z, [[-2, -1, 0], [1, 2, 3], [4, 5, 6]]);
  assert.ok(!fig.layout!.title.text.includes("<sub>"));
  const labelled = robustnessFigure(res, { subtitle: "synthetic stand-in, training seed 0" });
  assert.match(labelled.layout!.title.text, /<br><sub>synthetic stand-in, training seed 0<\/sub>$/);
});

Deno.test("ablations: the mean degradation rate is a percentage over rounds 2..", () => {
  // 2 dialogues × 4 rounds: fused worse than text in 1 of 2 at round 2, 2 of 2 at round 3
  const text = ev("chatir", [[1, 1, 1, 1], [5, 5, 5, 5]]);
  const fused = ev("dar", [[1, 1, 9, 9], [5, 5, 5, 6]]);
  assert.equal(meanDegradation(fused, text), 75);
  assert.equal(meanDegradation(fused, text, 3), 100);
});
