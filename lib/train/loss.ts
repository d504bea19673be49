/**
 * The training loss: symmetric InfoNCE (CLIP's contrastive loss) between fused queries and
 * their target image embeddings.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "../model/ops.ts";
import type { Sgemm } from "../model/head_math.ts";

/**
 * `½[CE(s·Q Tᵀ, I) + CE(s·T Qᵀ, I)]` for a batch: row `i` of `q` ([B, d], fused queries) must
 * pick row `i` of `targets` ([B, d], target images) among the batch, and the other way round.
 * `CE(L, I)` is the mean over rows of `logsumexp(Lᵢ) − Lᵢᵢ`.
 *
 * `scale` is `s` (a number: frozen, `1/temperature`; or a scalar tensor such as
 * `exp(logit_scale)` when it is learned). The logits are computed once with
 * {@linkcode matMul} (targets transposed explicitly) and the second term uses their
 * transpose, so no product runs with transpose flags.
 */
export function infoNceLoss(
  q: tf.Tensor2D,
  targets: tf.Tensor2D,
  scale: number | tf.Scalar,
): tf.Scalar {
  if (
    q.rank !== 2 || targets.rank !== 2 || q.shape[0] !== targets.shape[0] ||
    q.shape[1] !== targets.shape[1]
  ) {
    throw new Error(
      `infoNceLoss: queries [${q.shape}] and targets [${targets.shape}] must both be [B, d] ` +
        "with the same B and d",
    );
  }
  const b = q.shape[0];
  return tf.tidy(() => {
    const sim = matMul(q, tf.transpose(targets));
    const logits = typeof scale === "number" ? tf.mul(sim, tf.scalar(scale)) : tf.mul(sim, scale);
    const diag = tf.sum(tf.mul(logits, tf.eye(b)));
    const rows = tf.sum(tf.logSumExp(logits, 1));
    const cols = tf.sum(tf.logSumExp(tf.transpose(logits), 1));
    // ½[(Σ rows − Σ diag)/B + (Σ cols − Σ diag)/B]
    return tf.div(tf.sub(tf.add(rows, cols), tf.mul(diag, 2)), 2 * b) as tf.Scalar;
  });
}

/** What {@linkcode infoNceGrad} returns. */
export interface InfoNceGrad {
  /** The loss, as {@linkcode infoNceLoss} defines it. */
  loss: number;
  /** `dL/dq`, `B × d` row-major. */
  dq: Float32Array;
  /** `dL/d log s` (the gradient of a learned `logit_scale`). */
  dLogScale: number;
}

/**
 * The loss of {@linkcode infoNceLoss} and its gradients on plain arrays, for the data-parallel
 * engine (no TensorFlow.js in a step): with logits `L = s·Q·Yᵀ`,
 * `dL/dLᵢⱼ = (softmax_row(L)ᵢⱼ + softmax_col(L)ᵢⱼ − 2δᵢⱼ) / 2B`, `dL/dQ = s·G·Y` and
 * `dL/d log s = Σ Gᵢⱼ Lᵢⱼ`. Softmaxes in float64; the two products on `sgemm`.
 *
 * @param q fused queries `B × d`.
 * @param y target embeddings `B × d`.
 */
export function infoNceGrad(
  q: Float32Array,
  y: Float32Array,
  B: number,
  d: number,
  scale: number,
  blas: Sgemm,
): InfoNceGrad {
  if (q.length !== B * d || y.length !== B * d) {
    throw new Error(
      `infoNceGrad: q and y must hold B × d = ${B} × ${d} values, got ${q.length} and ${y.length}`,
    );
  }
  const L = new Float32Array(B * B);
  blas.sgemm(false, true, B, B, d, scale, q, d, y, d, 0, L, B);
  const G = new Float32Array(B * B);
  const colMax = new Float64Array(B).fill(-Infinity), colSum = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) colMax[j] = Math.max(colMax[j], L[i * B + j]);
  }
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) colSum[j] += Math.exp(L[i * B + j] - colMax[j]);
  }
  let loss = 0, dls = 0;
  const inv2B = 1 / (2 * B);
  for (let i = 0; i < B; i++) {
    const o = i * B;
    let mx = -Infinity;
    for (let j = 0; j < B; j++) mx = Math.max(mx, L[o + j]);
    let s = 0;
    for (let j = 0; j < B; j++) s += Math.exp(L[o + j] - mx);
    const lse = mx + Math.log(s);
    loss += lse - L[o + i];
    loss += colMax[i] + Math.log(colSum[i]) - L[o + i];
    for (let j = 0; j < B; j++) {
      const l = L[o + j];
      const gij = (Math.exp(l - lse) + Math.exp(l - colMax[j]) / colSum[j] - (i === j ? 2 : 0)) *
        inv2B;
      G[o + j] = gij;
      dls += gij * l;
    }
  }
  const dq = new Float32Array(B * d);
  blas.sgemm(false, false, B, d, B, scale, G, B, y, d, 0, dq, d);
  return { loss: loss * inv2B, dq, dLogScale: dls };
}
