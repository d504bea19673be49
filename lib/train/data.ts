/**
 * The data training reads and the records it writes, as types both the loop and its helpers
 * (validation, run folders) import: the split and data shapes, an evaluation record, the gate's
 * statistics, and the image pool a split's targets index.
 *
 * @module
 */
import type { Split } from "../data/bundle.ts";

/**
 * A split as training reads it: lib/data/bundle.ts's `Split` (its name aside), with the latent
 * truth of a synthetic split when there is one.
 */
export type TrainSplit = Omit<Split, "name"> & {
  /**
   * Latent truth of a synthetic split, `[count, rounds]`: 1 where the generation went off-scene
   * (lib/data/synthetic/latent.ts). Absent for real embeddings; validation then logs no AUC.
   */
  offScene?: Uint8Array;
};

/** The data training needs (lib/data/bundle.ts's `Bundle` has this shape). */
export interface TrainData {
  /** Embedding size. */
  dim: number;
  /** Rounds per dialogue (11). */
  rounds: number;
  /** Corpus rows. */
  corpusSize: number;
  /** Corpus embeddings `[corpusSize, dim]`. */
  corpus: Float32Array;
  /** Named splits (`train`, `val`, benchmarks). */
  splits: Record<string, TrainSplit>;
}

/** The gate over the validation pairs (every round of every dialogue validated). */
export interface GateStats {
  /** Mean image weight `1 − w`. */
  mean: number;
  /** Standard deviation of the image weight. */
  sd: number;
  /** Least-squares slope of the image weight against cos(t, g). */
  slope: number;
  /** R² of that fit (the squared correlation). */
  r2: number;
  /**
   * AUC with which a LOW image weight flags off-scene generations (0.5: blind); null when the
   * split has no latent truths (real embeddings) or no pair of one class.
   */
  auc: number | null;
}

/** One evaluation on the validation split. */
export interface EvalRecord {
  /** 0-based epoch after which it ran. */
  epoch: number;
  /** Updates done by then. */
  step: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** The selection metric (mean over rounds of the cumulative Hits@K). */
  valMetric: number;
  /** Cumulative Hits@K per round 0..R−1, as fractions. */
  valHits: number[];
  /**
   * The selection metric on the held-out gallery (val pool + corpus images, no training image;
   * lib/train/validate.ts), a diagnostic never used to select. Absent in older logs, null
   * without a val pool.
   */
  heldOutMetric?: number | null;
  /** Cumulative Hits@K per round on the held-out gallery. */
  heldOutHits?: number[] | null;
  /** The gate over the validation pairs (absent in older logs). */
  gate?: GateStats;
}

/**
 * The image pool a split's targets index: its own pool when it has one, else the corpus.
 */
export function trainPool(data: TrainData, s: TrainSplit): { images: Float32Array; size: number } {
  if (s.images !== undefined) {
    return { images: s.images, size: s.imageCount ?? s.images.length / data.dim };
  }
  return { images: data.corpus, size: data.corpusSize };
}

/** One `log.jsonl` line of type `step`. */
export interface StepLog {
  /** Always `step`. */
  type: "step";
  /** Updates done, this one included (1-based). */
  step: number;
  /** 0-based epoch of the update. */
  epoch: number;
  /** Mean InfoNCE loss over the update's micro-batches. */
  loss: number;
  /** Learning rate the update used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Mean of the text weight `w` over the update's samples. */
  gateMean: number;
  /** Standard deviation of `w` over the update's samples. */
  gateStd: number;
  /** Mean router probability per expert (the expert load). */
  expertLoad: number[];
  /** Training samples per second over this update. */
  samplesPerSec: number;
}

/** Progress reported to `onProgress` after every update. */
export interface TrainProgress {
  /** Updates done. */
  step: number;
  /** Updates in the whole run. */
  totalSteps: number;
  /** 0-based epoch. */
  epoch: number;
  /** Loss of the last update. */
  loss: number;
  /** Samples per second, averaged since the start of this session. */
  samplesPerSec: number;
  /**
   * Estimated seconds left: the updates to come at this session's rate, plus the epoch ends to
   * come (validation, checkpoints) at the mean cost of this session's ends so far, the one-time
   * gallery build left out; before the first epoch end, the updates alone.
   */
  etaSec: number;
}
