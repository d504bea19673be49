/**
 * The training loss: symmetric InfoNCE (CLIP's contrastive loss) between fused queries and
 * their target image embeddings.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "../model/ops.ts";

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
