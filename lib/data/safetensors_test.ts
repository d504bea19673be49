import { assert, assertClose } from "../testing/assert.ts";
import { encodeSafetensors, readSafetensors, readSafetensorsMetadata } from "./safetensors.ts";

/** Builds a safetensors file from a header object and raw data bytes, by hand. */
function _file(header: unknown, data: Uint8Array, padTo8 = true): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (padTo8 && json.length % 8) {
    const p = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("hand-built file with F32, F16, BF16, F64, I32, I64 decodes", () => {
  const data = new Uint8Array(16 + 6 + 4 + 16 + 8 + 16);
  const dv = new DataView(data.buffer);
  [1.5, -2, 0.1, 3e-5].forEach((v, i) => dv.setFloat32(4 * i, v, true));
  // fp16: 1.0 = 0x3c00, -2.5 = 0xc100, smallest subnormal 2^-24 = 0x0001
  [0x3c00, 0xc100, 0x0001].forEach((v, i) => dv.setUint16(16 + 2 * i, v, true));
  // bf16: 1.0 = 0x3f80, -0.15625 = 0xbe20
  [0x3f80, 0xbe20].forEach((v, i) => dv.setUint16(22 + 2 * i, v, true));
  [0.25, -7].forEach((v, i) => dv.setFloat64(26 + 8 * i, v, true));
  [-3, 2147483647].forEach((v, i) => dv.setInt32(42 + 4 * i, v, true));
  [5n, -6n].forEach((v, i) => dv.setBigInt64(50 + 8 * i, v, true));
  const bytes = _file(
    {
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      h: { dtype: "F16", shape: [3], data_offsets: [16, 22] },
      b: { dtype: "BF16", shape: [2], data_offsets: [22, 26] },
      d: { dtype: "F64", shape: [2, 1], data_offsets: [26, 42] },
      i: { dtype: "I32", shape: [2], data_offsets: [42, 50] },
      l: { dtype: "I64", shape: [2], data_offsets: [50, 66] },
    },
    data,
    false,
  );
  const t = readSafetensors(bytes, "hand.safetensors");
  assert.deepEqual(t.a.shape, [2, 2]);
  assertClose(t.a.data, [1.5, -2, 0.1, 3e-5], 1e-7, "F32");
  assertClose(t.h.data, [1, -2.5, 2 ** -24], 0, "F16");
  assertClose(t.b.data, [1, -0.15625], 0, "BF16");
  assert.ok(t.d.data instanceof Float32Array);
  assertClose(t.d.data, [0.25, -7], 0, "F64");
  assert.ok(t.i.data instanceof Int32Array);
  assert.deepEqual(Array.from(t.i.data), [-3, 2147483647]);
  assert.deepEqual(Array.from(t.l.data), [5, -6]);
  assert.deepEqual(readSafetensorsMetadata(bytes), { format: "pt" });
});

Deno.test("encode pads the header to 8 bytes, sorts names and round-trips", () => {
  const bytes = encodeSafetensors({
    z: { dtype: "F32", shape: [], data: new Float32Array([2.5]) },
    a: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    n: { dtype: "I64", shape: [3], data: new Int32Array([-1, 0, 7]) },
    m: { dtype: "I32", shape: [1], data: new Int32Array([9]) },
  }, { note: "hi" });
  const dv = new DataView(bytes.buffer);
  const n = dv.getUint32(0, true);
  assert.equal(dv.getUint32(4, true), 0);
  assert.equal(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const header = JSON.parse(text);
  assert.deepEqual(header.a.data_offsets, [0, 24]);
  assert.deepEqual(header.m.data_offsets, [24, 28]);
  assert.deepEqual(header.n.data_offsets, [28, 52]);
  assert.deepEqual(header.z.data_offsets, [52, 56]);
  assert.equal(bytes.length, 8 + n + 56);
  assert.ok(text.trimEnd().length <= text.length && /^ *$/.test(text.slice(text.trimEnd().length)));
  // I64 little-endian, sign-extended
  assert.equal(dv.getBigInt64(8 + n + 28, true), -1n);
  const back = readSafetensors(bytes);
  assert.deepEqual(Array.from(back.a.data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(back.z.shape, []);
  assert.deepEqual(Array.from(back.z.data), [2.5]);
  assert.deepEqual(Array.from(back.n.data), [-1, 0, 7]);
  assert.equal(back.n.dtype, "I64");
  assert.deepEqual(readSafetensorsMetadata(bytes), { note: "hi" });
});

Deno.test("malformed files give errors naming the file and the tensor", () => {
  const good = encodeSafetensors({
    w: { dtype: "F32", shape: [4], data: new Float32Array([1, 2, 3, 4]) },
  });
  assert.throws(() => readSafetensors(good.subarray(0, 5), "f.st"), /f\.st: truncated/);
  assert.throws(
    () => readSafetensors(good.subarray(0, 20), "f.st"),
    /f\.st: safetensors header length \d+ runs past the end/,
  );
  assert.throws(
    () => readSafetensors(good.subarray(0, good.length - 4), "f.st"),
    /f\.st: tensor 'w': data_offsets \[0, 16\] run past the end of the data \(12 bytes\)/,
  );
  const data = new Uint8Array(16);
  assert.throws(
    () =>
      readSafetensors(
        _file({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, data),
        "o.st",
      ),
    /o\.st: tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/,
  );
  assert.throws(
    () => readSafetensors(_file({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data)),
    /tensor 'a': shape \[3\] × F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/,
  );
  assert.throws(
    () => readSafetensors(_file({ a: { dtype: "Q4", shape: [2], data_offsets: [0, 1] } }, data)),
    /tensor 'a': unknown or unsupported dtype "Q4"/,
  );
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 1n << 40n, true);
  assert.throws(
    () => readSafetensors(_file({ k: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, big)),
    /tensor 'k' \(I64\) holds 1099511627776 at element 0, outside int32/,
  );
  assert.throws(
    () => encodeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    /tensor 'a' has 2 values but shape \[3\] needs 3/,
  );
});
