import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing/assert.ts";
import { initBackend, requestedBackend } from "./backend.ts";

Deno.test("wasm starts and is reported; unknown names are refused", async () => {
  const info = await initBackend("wasm");
  assert.equal(info.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.match(info.device, /WebAssembly/);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(() => initBackend("bogus" as any), /not a backend/);
});

Deno.test("ADAFUSE_BACKEND is read and checked", () => {
  const old = Deno.env.get("ADAFUSE_BACKEND");
  try {
    Deno.env.set("ADAFUSE_BACKEND", "WASM");
    assert.equal(requestedBackend(), "wasm");
    Deno.env.set("ADAFUSE_BACKEND", "gpu-please");
    assert.throws(() => requestedBackend(), /ADAFUSE_BACKEND=gpu-please/);
  } finally {
    if (old === undefined) Deno.env.delete("ADAFUSE_BACKEND");
    else Deno.env.set("ADAFUSE_BACKEND", old);
  }
});
