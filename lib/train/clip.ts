/**
 * Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` does it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The global L2 norm of all gradients, `√Σᵢ‖gᵢ‖²`, as a scalar tensor (no read-back).
 */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  if (grads.length === 0) throw new Error("globalNorm: no gradients given");
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scales the gradients so that their global norm is at most `maxNorm`: each is multiplied by
 * `min(1, maxNorm / (norm + 1e-6))`, PyTorch's formula. Returns new tensors (the inputs are
 * not disposed) and the norm before clipping (read back: one sync).
 */
export async function clipByGlobalNorm(
  grads: tf.Tensor[],
  maxNorm: number,
): Promise<{ grads: tf.Tensor[]; norm: number }> {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const n = globalNorm(grads);
  const norm = (await n.data())[0];
  n.dispose();
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef === 1) return { grads: grads.map((g) => tf.clone(g)), norm };
  const c = tf.scalar(coef);
  const out = grads.map((g) => tf.mul(g, c));
  c.dispose();
  return { grads: out, norm };
}
