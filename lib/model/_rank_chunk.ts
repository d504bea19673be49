/**
 * The kernel of exact ranking, shared by the main thread and the ranking workers: the ranks of
 * a chunk of queries' targets against a corpus already on the device as `[d, N]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { wasmHeapView } from "../runtime/native_kernels.ts";

/**
 * 0-based ranks of `targets[b]` for each query row `b` of `queries` (`[B, d]`, row-major):
 * `#{j : s_j > s_t} + #{j < t : s_j == s_t}` with `s = queries · corpusT`.
 *
 * The target's own score is read from the same score matrix, so the comparison is between
 * bit-identical float32 values. The scores are read back (asynchronously) and counted in
 * JavaScript: on wasm, tfjs's broadcasting comparison is far slower than this loop.
 *
 * @param corpusT the corpus, transposed: `[d, N]`.
 * @param queries `[B, d]` row-major.
 * @param targets `B` target indices in `[0, N)`.
 */
export async function rankChunk(
  corpusT: tf.Tensor2D,
  queries: Float32Array,
  targets: Int32Array,
): Promise<Int32Array> {
  const [d, n] = corpusT.shape;
  const b = targets.length;
  const scoresT = tf.tidy(() => tf.matMul(tf.tensor2d(queries, [b, d]), corpusT));
  try {
    // On wasm the scores are counted where they are, in the heap (no copy of B × N floats).
    const view = wasmHeapView(scoresT);
    if (view) return countRanks(view, targets, n);
    return countRanks((await scoresT.data()) as Float32Array, targets, n);
  } finally {
    scoresT.dispose();
  }
}

/**
 * Ranks from a score matrix `[B, N]` (row-major): for row `i` with target `t`,
 * `#{j : s_j > s_t} + #{j < t : s_j == s_t}`.
 *
 * @throws when a target's score is NaN.
 */
export function countRanks(scores: Float32Array, targets: Int32Array, n: number): Int32Array {
  const b = targets.length;
  const ranks = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const o = i * n;
    const t = targets[i];
    const s = scores[o + t];
    if (Number.isNaN(s)) {
      throw new Error(
        `ranking: the score of target ${t} for query row ${i} is NaN; ` +
          "check the query and corpus embeddings for NaN/Inf",
      );
    }
    let c = 0;
    // Items before the target rank ahead of it on ties (>=); items after only when strictly
    // greater.
    for (let j = o, e = o + t; j < e; j++) if (scores[j] >= s) c++;
    for (let j = o + t + 1, e = o + n; j < e; j++) if (scores[j] > s) c++;
    ranks[i] = c;
  }
  return ranks;
}

/** `[N, d]` row-major to `[d, N]` row-major. */
export function transposeCorpus(corpus: Float32Array, dim: number): Float32Array {
  const n = corpus.length / dim;
  const out = new Float32Array(corpus.length);
  for (let j = 0; j < n; j++) {
    const o = j * dim;
    for (let k = 0; k < dim; k++) out[k * n + j] = corpus[o + k];
  }
  return out;
}
