import { assert, assertClose } from "../testing/assert.ts";
import { loadBundle } from "../data/bundle.ts";
import { ROOT } from "../runtime/paths.ts";
import { bundleSummary, cosineByRound, dataFigure, hitsTable, splitCosines } from "./data_view.ts";
import {
  gateLearningFigure,
  gateRouterFigure,
  parseTrainLog,
  trainingCurvesFigure,
  trainingTable,
} from "./training_view.ts";

const TINY = `${ROOT}/lib/testing/testdata/bundle_tiny`;

Deno.test("bundleSummary reads sizes from the headers and agrees with loadBundle", async () => {
  const rows = await bundleSummary(TINY);
  const b = await loadBundle(TINY);
  assert.deepEqual(rows, [
    { split: "corpus", count: b.corpusSize, rounds: "", dim: 4 },
    { split: "visdial", count: 3, rounds: 2, dim: 4 },
  ]);
});

Deno.test("splitCosines is cos(t, g) per (dialogue, round); cosineByRound, hand-worked", async () => {
  const c = await splitCosines(TINY, "visdial");
  const s = (await loadBundle(TINY)).splits.visdial;
  assert.equal(c.cos.length, 6);
  for (let p = 0; p < 6; p++) {
    const t = s.text.subarray(p * 4, p * 4 + 4), g = s.gen.subarray(p * 4, p * 4 + 4);
    const dot = t.reduce((a, v, i) => a + v * g[i], 0);
    const n = Math.hypot(...t) * Math.hypot(...g);
    assertClose(c.cos[p], dot / n, 1e-6, `pair ${p}`);
  }
  const hand = {
    split: "x",
    count: 3,
    rounds: 2,
    cos: new Float32Array([0.1, 0.5, 0.3, 0.7, 0.2, 0.9]),
  };
  const by = cosineByRound(hand);
  assertClose([by[0].mean, by[0].median, by[0].q25, by[0].q75], [0.2, 0.2, 0.15, 0.25], 1e-6);
  assertClose([by[1].mean, by[1].median], [0.7, 0.7], 1e-6);
  const fig = dataFigure(hand, [[0, 9], [99, 0], [4, 4]]);
  assert.equal(fig.data.length, 4);
  assertClose(fig.data[1].x, [0, 2, Math.log10(5)], 1e-12, "log10(rank + 1) at round 0");
  assertClose(fig.data[2].x, [0.5, 0.7, 0.9], 1e-6, "cos at the last round");
});

const LOG = [
  {
    type: "step",
    step: 1,
    epoch: 0,
    loss: 3,
    lr: 1e-5,
    gradNorm: 2,
    gateMean: 0.5,
    gateStd: 0.1,
    expertLoad: [0.5, 0.5],
    samplesPerSec: 9,
  },
  {
    type: "step",
    step: 2,
    epoch: 0,
    loss: 2,
    lr: 2e-5,
    gradNorm: 1,
    gateMean: 0.6,
    gateStd: 0.2,
    expertLoad: [0.4, 0.6],
    samplesPerSec: 9,
  },
  { type: "eval", epoch: 0, step: 2, trainLoss: 2.5, valMetric: 0.5, valHits: [0.25, 0.75] },
  {
    type: "eval",
    epoch: 1,
    step: 4,
    trainLoss: 2.25,
    valMetric: 0.5,
    valHits: [0.5, 0.5],
    heldOutMetric: 0.25,
    heldOutHits: [0.25, 0.25],
    gate: { mean: 0.3, sd: 0.1, slope: 0.5, r2: 0.2, auc: 0.7 },
  },
].map((o) => JSON.stringify(o)).join("\n") + "\n";

Deno.test("parseTrainLog splits step and eval lines; a torn line names its number", () => {
  const log = parseTrainLog(LOG);
  assert.equal(log.steps.length, 2);
  assert.equal(log.evals.length, 2);
  assert.throws(
    () => parseTrainLog(LOG + '{"type": "st', "run/log.jsonl"),
    /run\/log\.jsonl:5: not JSON/,
  );
});

Deno.test("training figures and table carry the logged values", () => {
  const log = parseTrainLog(LOG);
  const curves = trainingCurvesFigure(log);
  assert.deepEqual(curves.data[0].y, [3, 2]);
  assert.deepEqual(curves.data[3].y, [50, 50]); // val mean Hits@10 in percent
  assert.deepEqual(curves.data[5].y, [75, 50]); // last round
  const gr = gateRouterFigure(log);
  assertClose(gr.data[0].y, [0.6, 0.8, 0.4, 0.4], 1e-12, "band: mean+sd, then mean−sd reversed");
  assert.deepEqual(gr.data.slice(2).map((t) => t.y), [[0.5, 0.4], [0.5, 0.6]]);
  const none = {
    "held-out mean %": null,
    "image weight": null,
    sd: null,
    "slope vs cos(t, g)": null,
    "R²": null,
    "off-scene AUC": null,
  };
  assert.deepEqual(trainingTable(log)[0], {
    epoch: 1,
    update: 2,
    "train loss": 2.5,
    "val mean Hits@10 %": 50,
    "val round 0 %": 25,
    "val last round %": 75,
    ...none,
  });
  assert.deepEqual(trainingTable(log)[1]["off-scene AUC"], 0.7);
  // the gate's learning: an older log line (no gate, no held-out gallery) draws as gaps
  const gl = gateLearningFigure(log);
  assert.deepEqual(gl.data.map((t) => t.x), Array(6).fill([2, 4]));
  assert.deepEqual(gl.data[2].y, [null, 25]); // held-out gallery, percent
  assert.deepEqual(gl.data[3].y, [null, 0.3]); // image weight
  assert.deepEqual(gl.data[5].y, [null, 0.7]); // AUC
});

Deno.test("hitsTable: one row per method, cumulative Hits@K per round; a missing K is named", () => {
  const e = { count: 4, hits: { "10": { cumulative: [25, 50] } } };
  assert.deepEqual(hitsTable({ chatir: e }), [{ method: "chatir", dialogues: 4, r0: 25, r1: 50 }]);
  assert.throws(() => hitsTable({ dar: e }, 5), /dar has no Hits@5 \(has 10\)/);
});
