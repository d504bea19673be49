import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { fitDenseDemo } from "./demo.ts";

Deno.test("a dense layer learns the toy map on wasm, repeatably", async () => {
  await initBackend("wasm");
  const a = await fitDenseDemo({ seed: 3, steps: 150, lr: 0.1 });
  const b = await fitDenseDemo({ seed: 3, steps: 150, lr: 0.1 });
  assert.ok(a.losses.at(-1)! < a.losses[0] / 50, `loss ${a.losses[0]} -> ${a.losses.at(-1)}`);
  assert.ok(a.weightError < 0.05, `weight error ${a.weightError}`);
  assert.deepEqual(a.losses, b.losses);
});
