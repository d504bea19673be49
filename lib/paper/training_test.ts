import { assert } from "../testing/assert.ts";
import { parseTrainLog } from "../show/training_view.ts";
import { TRAIN_PRESETS } from "../train/config.ts";
import { trainingComparison } from "./training.ts";

Deno.test("trainingComparison: recipe fields against the reference, the gate against 15-25%", () => {
  const step = (gateMean: number) => ({
    type: "step",
    step: 1,
    epoch: 0,
    loss: 1,
    lr: 1e-5,
    gradNorm: 1,
    gateMean,
    gateStd: 0.01,
    expertLoad: [1],
    samplesPerSec: 1,
  });
  const evals = [0.4, 0.6, 0.5].map((v, e) => ({
    type: "eval",
    epoch: e,
    step: e,
    trainLoss: 1,
    valMetric: v,
    valHits: [v],
  }));
  const text = (g: number) => [step(g), ...evals].map((o) => JSON.stringify(o)).join("\n");
  const rows = trainingComparison(TRAIN_PRESETS.repro, parseTrainLog(text(0.8)));
  const by = Object.fromEntries(rows.map((r) => [r.quantity.split(" (")[0], r]));
  assert.equal(by["recipe: epochs"].paper, "50");
  assert.equal(by["recipe: epochs"].ours, "2");
  assert.equal(by["recipe: epochs"].holds, "no");
  assert.equal(by["recipe: lr"].holds, "yes");
  assert.equal(by["image weight 1 − w at the end of training"].ours, "20.0% (sd 1.0)");
  assert.equal(by["image weight 1 − w at the end of training"].holds, "yes");
  assert.equal(by["best validation mean Hits@10"].ours, "60.00% at epoch 2");
  const off = trainingComparison(TRAIN_PRESETS.repro, parseTrainLog(text(0.5)));
  assert.equal(off.find((r) => r.quantity.startsWith("image weight"))!.holds, "no");
});
