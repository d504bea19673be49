import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { clipByGlobalNorm, globalNorm } from "./clip.ts";

await initBackend("wasm");

Deno.test("clipByGlobalNorm: norm 13 clipped to 3, small norms untouched", async () => {
  // ‖[3, 4]‖² + ‖[12]‖² = 25 + 144 = 169 → norm 13
  const g = [tf.tensor1d([3, 4]), tf.tensor1d([12])];
  const n = globalNorm(g);
  assertClose((await n.data())[0], 13, 1e-5, "global norm");
  n.dispose();
  const { grads, norm } = await clipByGlobalNorm(g, 3);
  assertClose(norm, 13, 1e-5, "returned norm");
  const c = 3 / (13 + 1e-6);
  assertClose(await grads[0].data(), [3 * c, 4 * c], 1e-6, "clipped 0");
  assertClose(await grads[1].data(), [12 * c], 1e-6, "clipped 1");
  const after = globalNorm(grads);
  assertClose((await after.data())[0], 3, 1e-5, "norm after clipping");
  tf.dispose([after, ...grads]);

  const small = await clipByGlobalNorm(g, 20);
  assertClose(await small.grads[0].data(), [3, 4], 0, "unclipped");
  tf.dispose([...small.grads, ...g]);
  const one = tf.scalar(1);
  await assert.rejects(() => clipByGlobalNorm([one], 0), /maxNorm/);
  one.dispose();
});
