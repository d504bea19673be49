/**
 * Random unit-length rows for tests.
 *
 * @module
 */
import { normalizeRows } from "../baselines.ts";
import type { Rng } from "../rng.ts";

/** `rows` standard-normal rows of width `d`, each scaled to unit length, row-major. */
export function unitRows(rng: Rng, rows: number, d: number): Float32Array {
  return normalizeRows(rng.fillNormal(new Float32Array(rows * d)), d);
}
