/**
 * Row-major `[rows, dim]` Float32 matrices of unit vectors: L2 normalisation and random unit
 * rows (embeddings, corpora and test data all take this form).
 *
 * @module
 */
import type { Rng } from "./rng.ts";

/** Row-wise L2 normalisation of `[rows, dim]` (zero rows stay zero). */
export function normalizeRows(a: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let o = 0; o < a.length; o += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += a[o + k] * a[o + k];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < dim; k++) out[o + k] = a[o + k] * inv;
  }
  return out;
}

/** `count` standard-normal rows of width `dim` drawn from `rng`, each scaled to unit length. */
export function randomUnitRows(rng: Rng, count: number, dim: number): Float32Array {
  return normalizeRows(rng.fillNormal(new Float32Array(count * dim)), dim);
}
