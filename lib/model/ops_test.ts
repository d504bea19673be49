import * as tf from "@tensorflow/tfjs";
import { assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { matMul } from "./ops.ts";
import { Rng } from "../runtime/rng.ts";

Deno.test("matMul's explicit-transpose gradient matches finite differences", async () => {
  await initBackend("wasm");
  const rng = new Rng(7);
  const m = 5, k = 4, n = 3;
  const a = rng.fillNormal(new Float32Array(m * k)), b = rng.fillNormal(new Float32Array(k * n));
  const c = rng.fillNormal(new Float32Array(m * n)); // loss = sum(c ⊙ (a·b))
  const loss64 = (A: Float64Array | Float32Array, B: Float64Array | Float32Array) => {
    let s = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let d = 0;
        for (let t = 0; t < k; t++) d += A[i * k + t] * B[t * n + j];
        s += c[i * n + j] * d;
      }
    }
    return s;
  };
  const ct = tf.tensor2d(c, [m, n]);
  const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
    tf.sum(tf.mul(matMul(x as tf.Tensor2D, y as tf.Tensor2D), ct))
  )([tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])]);
  const fd = (arr: Float32Array, other: Float32Array, first: boolean) => {
    const out = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const p = Float64Array.from(arr), q = Float64Array.from(arr);
      p[i] += 1e-4;
      q[i] -= 1e-4;
      out[i] = first
        ? (loss64(p, other) - loss64(q, other)) / 2e-4
        : (loss64(other, p) - loss64(other, q)) / 2e-4;
    }
    return out;
  };
  assertClose(await ga.data(), fd(a, b, true), 1e-3, "dA");
  assertClose(await gb.data(), fd(b, a, false), 1e-3, "dB");
  tf.dispose([ga, gb, ct]);
});
