/**
 * A plain TypeScript `sgemm` (row-major, transpose flags, leading dimensions) with the
 * {@linkcode Blas.sgemm} signature: what lib/model/head_math.ts runs on when no native BLAS is
 * loaded (`ADAFUSE_BLAS=none`, or no FFI permission). Correct, and some ten times slower than a
 * native library; accumulates in float64.
 *
 * @module
 */
import type { Blas } from "./blas.ts";

/** `C = alpha·op(A)·op(B) + beta·C`, row-major; see {@linkcode Blas.sgemm}. */
export const jsSgemm: Pick<Blas, "sgemm"> = {
  sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * lda + i] : a[i * lda + p];
        if (transB) {
          for (let j = 0; j < n; j++) row[j] += aip * b[j * ldb + p];
        } else {
          const o = p * ldb;
          for (let j = 0; j < n; j++) row[j] += aip * b[o + j];
        }
      }
      const oc = i * ldc;
      for (let j = 0; j < n; j++) {
        c[oc + j] = alpha * row[j] + (beta === 0 ? 0 : beta * c[oc + j]);
      }
    }
  },
};
