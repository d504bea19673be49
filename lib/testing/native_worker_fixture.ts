/**
 * A worker for lib/integration/native_kernels_test.ts: starts the wasm backend the way the
 * data-parallel and ranking workers do (`initBackend("wasm")`) and replies with what runs the
 * matrix products there and one product, `[[1,2],[3,4]]·[[5,6],[7,8]]ᵀ`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../runtime/backend.ts";
import { nativeBlas } from "../runtime/native_kernels.ts";

// deno-lint-ignore no-explicit-any
const port = self as any;
port.onmessage = async () => {
  try {
    const info = await initBackend("wasm");
    const blas = nativeBlas();
    const c = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]), false, true);
    port.postMessage({
      ok: true,
      device: info.device,
      library: blas?.library ?? null,
      threads: blas?.threads ?? null,
      product: Array.from(await c.data()),
    });
  } catch (e) {
    port.postMessage({ ok: false, message: String((e as Error)?.message ?? e) });
  }
};
