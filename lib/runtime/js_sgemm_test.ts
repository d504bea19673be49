import { assertClose } from "../testing/assert.ts";
import { jsSgemm } from "./js_sgemm.ts";

Deno.test("jsSgemm: every transpose flag, leading dimensions wider than the rows, α and β", () => {
  // A hand-worked 2×3 · 3×2 product: [[1,2,3],[4,5,6]]·[[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
  const a = Float32Array.of(1, 2, 3, 4, 5, 6), b = Float32Array.of(1, 0, 0, 1, 1, 1);
  const c = new Float32Array(4);
  jsSgemm.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  assertClose(c, [4, 5, 10, 11]);
  // the same through transposed storage: Aᵀ stored 3×2, Bᵀ stored 2×3
  const at = Float32Array.of(1, 4, 2, 5, 3, 6), bt = Float32Array.of(1, 0, 1, 0, 1, 1);
  const c2 = Float32Array.of(1, 1, 1, 1);
  jsSgemm.sgemm(true, true, 2, 2, 3, 2, at, 2, bt, 3, 0.5, c2, 2);
  assertClose(c2, [8.5, 10.5, 20.5, 22.5]);
  // C with a leading dimension of 3: the third column is left alone
  const c3 = Float32Array.of(0, 0, 7, 0, 0, 7);
  jsSgemm.sgemm(false, true, 2, 2, 3, 1, a, 3, bt, 3, 0, c3, 3);
  assertClose(c3, [4, 5, 7, 10, 11, 7]);
});
