import { assert } from "../testing/assert.ts";
import {
  type BesideFull,
  besideFullEpochs,
  besideFullMarkdown,
  besideFullRuns,
  besideFullTable,
} from "./beside_full.ts";
import type { EvalRecord } from "../train/data.ts";

const val = (epoch: number, metric: number, mean: number, slope: number): EvalRecord => ({
  epoch,
  step: 60 * (epoch + 1),
  trainLoss: 1,
  valMetric: metric,
  valHits: [],
  heldOutMetric: metric + 0.05,
  gate: { mean, sd: 0.05, slope, r2: 0.1, auc: 0.6 },
});
const history = Array.from({ length: 12 }, (_, e) => val(e, e === 2 ? 0.75 : 0.7, 0.36, e / 10));
const R: BesideFull = {
  seed: 0,
  presets: ["repro", "full"],
  rows: [{
    benchmark: "visdial",
    round: 10,
    dar: 80,
    adafuse: { repro: 82.5, full: 81 },
    last: { repro: 82, full: 79 },
  }],
  runs: {
    repro: {
      epochs: 4,
      steps: 468,
      bestEpoch: 2,
      validations: [val(0, 0.7, 0.36, 0), val(1, 0.74, 0.35, 0), val(3, 0.73, 0.35, 0.01)],
    },
    full: {
      epochs: 12,
      steps: 720,
      bestEpoch: 3,
      validations: history,
    },
  },
};

Deno.test("besideFullTable: ADaFuSE − DAR per preset, selected and last head", () => {
  assert.deepEqual(besideFullTable(R), [{
    benchmark: "visdial",
    round: 10,
    DAR: 80,
    "Δ repro, selected": 2.5,
    "Δ repro, last": 2,
    "Δ full, selected": 1,
    "Δ full, last": -1,
  }]);
});

Deno.test("besideFullRuns and besideFullEpochs: selected epoch, the gate there and at the end", () => {
  const runs = besideFullRuns(R);
  assert.equal(runs[1]["selected epoch"], 3);
  assert.equal(runs[1]["val Hits@10 mean, selected → last"], "75.0 → 70.0");
  assert.equal(runs[1]["gate slope vs cos(t, g), selected → last"], "0.20 → 1.10");
  // first, selected, every 5th and last epoch
  assert.deepEqual(besideFullEpochs(R, "full").map((e) => e.epoch), [1, 3, 5, 10, 12]);
  const md = besideFullMarkdown(R, true);
  assert.match(md, /\|Δ full, last\|/);
  assert.match(md, /The `full` run's validations/);
  const short = besideFullMarkdown(R);
  assert.ok(!short.includes("validations:") && !short.includes("held-out"), short);
});
