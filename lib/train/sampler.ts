/**
 * How an epoch's dialogues are laid out into micro-batches. The reference shuffles them
 * (`negatives: "random"`): a micro-batch's in-batch negatives are then random training images.
 * The diagnostic `negatives: "neighbours"` (notebook 12) makes them hard instead: the training
 * targets are grouped once around `clusters` anchor images (each target joins the anchor it is
 * most similar to), and every epoch lays the groups out one after another in a random order, so a
 * micro-batch mostly holds dialogues whose targets resemble one another.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../runtime/rng.ts";

/**
 * The group of each of the first `n` dialogues: the anchor (one of `clusters` targets drawn
 * with `seed`) whose image has the largest dot product with the dialogue's target image.
 *
 * @param pool the images the targets index, `[P, d]` row-major.
 * @param target the target row of each dialogue.
 */
export function clusterTargets(
  pool: Float32Array,
  target: Int32Array,
  n: number,
  d: number,
  clusters: number,
  seed: number,
): Int32Array {
  if (!(clusters >= 1 && clusters <= n)) {
    throw new Error(`lib/train/sampler.ts: clusters must lie in [1, ${n}], got ${clusters}`);
  }
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  new Rng(seed).shuffle(ids);
  const anchors = new Float32Array(clusters * d);
  for (let c = 0; c < clusters; c++) {
    const t = target[ids[c]];
    anchors.set(pool.subarray(t * d, (t + 1) * d), c * d);
  }
  const out = new Int32Array(n);
  const a = tf.tensor2d(anchors, [clusters, d]);
  try {
    const rows = new Float32Array(Math.min(n, 4096) * d);
    for (let s = 0; s < n; s += 4096) {
      const m = Math.min(4096, n - s);
      for (let i = 0; i < m; i++) {
        const t = target[s + i];
        rows.set(pool.subarray(t * d, (t + 1) * d), i * d);
      }
      const best = tf.tidy(() =>
        tf.argMax(tf.matMul(tf.tensor2d(rows.subarray(0, m * d), [m, d]), a, false, true), 1)
      );
      out.set(best.dataSync() as Int32Array, s);
      best.dispose();
    }
  } finally {
    a.dispose();
  }
  return out;
}

/**
 * Reorders an epoch's shuffled dialogues `perm` (in place) so that the groups of `cluster` follow
 * one another in an order drawn from `rng`, each group keeping the shuffled order of its members.
 */
export function neighbourOrder(perm: Int32Array, cluster: Int32Array, rng: Rng): Int32Array {
  let groups = 0;
  for (const c of cluster) groups = Math.max(groups, c + 1);
  const place = Int32Array.from({ length: groups }, (_, i) => i);
  rng.shuffle(place);
  const keyed = Array.from(perm, (i, pos) => ({ i, pos, key: place[cluster[i]] }));
  keyed.sort((a, b) => a.key - b.key || a.pos - b.pos);
  keyed.forEach((k, j) => (perm[j] = k.i));
  return perm;
}
