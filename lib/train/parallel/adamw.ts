/**
 * The gradient norm and AdamW update of the data-parallel trainer on flat Float32Arrays (shared
 * memory), one slice of the parameters per worker: the same update as lib/train/adamw.ts (PyTorch's
 * AdamW with decoupled weight decay; biases, 1-D tensors and the logit scale are the `noDecay`
 * ranges the trainer passes, as lib/train/adamw.ts `decaysWeight` decides), computed in float64 and
 * stored in float32.
 *
 * @module
 */
import type { AdamWOptions } from "../adamw.ts";

/** `Σ sum[j]²` over `[lo, hi)` (float64), for the global gradient norm. */
export function sumOfSquares(sum: Float32Array, lo: number, hi: number): number {
  let ss = 0;
  for (let j = lo; j < hi; j++) ss += sum[j] * sum[j];
  return ss;
}

/** What one AdamW update of a slice needs. */
export interface AdamWSliceArgs {
  /** Learning rate. */
  lr: number;
  /** 1-based step number (for the bias corrections). */
  step: number;
  /** Multiplier of the gradients (the clipping coefficient, ≤ 1). */
  coef: number;
  /** Hyper-parameters. */
  opts: Omit<AdamWOptions, "noDecay">;
  /** `[lo, hi)` ranges of the flat buffer that get no weight decay. */
  noDecay: [number, number][];
}

/**
 * AdamW on `p`, `m`, `v` over `[lo, hi)` with gradients `coef · g`:
 * `p ← p(1 − lr·wd)`, `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
 * `p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + eps)`.
 */
export function adamwSlice(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  lo: number,
  hi: number,
  a: AdamWSliceArgs,
): void {
  const { beta1, beta2, eps, weightDecay } = a.opts;
  const b1 = beta1, c1 = 1 - beta1, b2 = beta2, c2 = 1 - beta2;
  const stepSize = a.lr / (1 - Math.pow(beta1, a.step));
  const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, a.step));
  const decay = 1 - a.lr * weightDecay;
  const coef = a.coef;
  const run = (s: number, e: number, dec: number) => {
    for (let j = s; j < e; j++) {
      const gj = g[j] * coef;
      const mj = (m[j] = b1 * m[j] + c1 * gj);
      const vj = (v[j] = b2 * v[j] + c2 * gj * gj);
      p[j] = p[j] * dec - stepSize * (mj / (Math.sqrt(vj) * invSqrtBc2 + eps));
    }
  };
  let at = lo;
  for (const [s0, e0] of [...a.noDecay].sort((x, y) => x[0] - y[0])) {
    const s = Math.max(s0, lo), e = Math.min(e0, hi);
    if (s >= e) continue;
    run(at, s, decay);
    run(s, e, 1);
    at = e;
  }
  run(at, hi, decay);
}
