import { assert } from "../testing/assert.ts";
import { op, sleb, uleb, valType, wasmModule } from "./wasm_encode.ts";

Deno.test("uleb/sleb: LEB128 of hand-worked values", () => {
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(sleb(0), [0]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.throws(() => uleb(-1), /no u32/);
  assert.throws(() => sleb(2 ** 31), /no i32/);
});

Deno.test("wasmModule: a module over a shared memory validates and runs", () => {
  const { i32, f64 } = valType;
  // twice(ptr) → 2 · (float32 at ptr), as float64
  const bytes = wasmModule([{
    name: "twice",
    params: [i32],
    results: [f64],
    locals: [],
    body: [
      op.localGet(0),
      op.f32Load(),
      op.f64PromoteF32,
      op.localGet(0),
      op.f32Load(),
      op.f64PromoteF32,
      op.f64Add,
    ],
  }], 1);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  new Float32Array(memory.buffer)[2] = 1.25;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  assert.deepEqual((inst.exports.twice as (p: number) => number)(8), 2.5);
});
