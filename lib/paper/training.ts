/**
 * The training run beside the reference: the recipe values of docs/method.md (the `default` preset
 * of lib/train/config.ts, the reference implementation's) against the ones this run used, and the
 * paper's claim about the gate (image weight mostly 15-25%) against the gate at the end of
 * training.
 *
 * @module
 */
import { type ComparisonRow, paperReference } from "./reference.ts";
import type { TrainLog } from "../show/training_view.ts";
import { TRAIN_PRESETS, type TrainConfig } from "../train/config.ts";

const _same = (a: unknown, b: unknown) => (JSON.stringify(a) === JSON.stringify(b) ? "yes" : "no");

/**
 * Rows of a paper-vs-ours table for a training run: the recipe fields that a preset changes
 * (`holds` says whether ours equals the reference), where the model is selected, and the gate's
 * image weight `1 − w` at the end of training (mean over the last logged update) against the
 * paper's "mostly 15-25%".
 */
export function trainingComparison(recipe: TrainConfig, log: TrainLog): ComparisonRow[] {
  const ref = TRAIN_PRESETS.full;
  const fields = [
    "epochs",
    "warmupEpochs",
    "lr",
    "batchSize",
    "accumulate",
    "weightDecay",
  ] as const;
  const rows: ComparisonRow[] = fields.map((f) => ({
    quantity: `recipe: ${f} (reference implementation)`,
    paper: String(ref[f]),
    ours: String(recipe[f]),
    holds: _same(ref[f], recipe[f]),
  }));
  rows.push({
    quantity: "model selected on",
    paper: "the test set (reference code)",
    ours: `${recipe.valSplit} (not a benchmark)`,
    holds: "–",
  });
  const last = log.steps.at(-1);
  const [lo, hi] = paperReference().fig4_gate.adafuse_image_weight_typical_range.value as number[];
  if (last) {
    const iw = 1 - last.gateMean;
    rows.push({
      quantity: "image weight 1 − w at the end of training (mean of the last update)",
      paper: `mostly ${100 * lo}-${100 * hi}%`,
      ours: `${(100 * iw).toFixed(1)}% (sd ${(100 * last.gateStd).toFixed(1)})`,
      holds: iw >= lo && iw <= hi ? "yes" : "no",
    });
  }
  const best = log.evals.reduce<TrainLog["evals"][number] | undefined>(
    (b, e) => (b === undefined || e.valMetric > b.valMetric ? e : b),
    undefined,
  );
  if (best) {
    rows.push({
      quantity: `best validation mean Hits@${recipe.valK}`,
      paper: "not reported",
      ours: `${(100 * best.valMetric).toFixed(2)}% at epoch ${best.epoch + 1}`,
      holds: "–",
    });
  }
  return rows;
}
