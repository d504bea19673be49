import { assert, assertClose } from "../testing/assert.ts";
import { encodeNpy, halfToFloat, type NdArray, readNpy } from "./npy.ts";

const dir = new URL("../testing/testdata/npy/", import.meta.url);
const load = (f: string) => readNpy(Deno.readFileSync(new URL(f, dir)), f);

Deno.test("readNpy reads numpy-written float32, float16, float64", () => {
  const a = load("f4_2x3.npy");
  assert.equal(a.dtype, "float32");
  assert.deepEqual(a.shape, [2, 3]);
  assertClose(a.data, [1, 2.5, -3, 0, 1e-3, 7], 1e-7, "f4");
  const h = load("f2_4.npy");
  assert.equal(h.dtype, "float32");
  assert.ok(h.data instanceof Float32Array);
  assert.deepEqual(Array.from(h.data), [1, -2, 0.5, 65504]);
  const d = load("f8_2.npy");
  assert.equal(d.dtype, "float64");
  assert.deepEqual(Array.from(d.data), [0.1, -1e300]);
});

Deno.test("readNpy reads integer, uint8, bool, scalars and format versions 2 and 3", () => {
  const i = load("i8_3.npy");
  assert.equal(i.dtype, "int32");
  assert.deepEqual(Array.from(i.data), [0, 49999, -5]);
  assert.deepEqual(Array.from(load("i4_2x2.npy").data), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(load("u1_3.npy").data), [0, 7, 255]);
  const b = load("b1_3.npy");
  assert.equal(b.dtype, "bool");
  assert.deepEqual(Array.from(b.data), [1, 0, 1]);
  const s = load("scalar_f4.npy");
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [3.5]);
  assert.deepEqual(Array.from(load("v2_f4.npy").data), [1.5, 2.5]);
  const v3 = load("v3_f4.npy");
  assert.deepEqual(v3.shape, [1, 1]);
  assert.deepEqual(Array.from(v3.data), [4]);
});

Deno.test("readNpy refuses what it cannot read, naming the file and the fix", () => {
  const cases: [string, RegExp][] = [
    ["fortran_f4.npy", /fortran_f4\.npy.*Fortran.*ascontiguousarray/],
    ["big_f4.npy", /big_f4\.npy.*big-endian.*newbyteorder/],
    ["i8_big.npy", /i8_big\.npy.*does not fit int32/],
    ["u2_1.npy", /u2_1\.npy.*'<u2' is not supported.*numpy\.save/],
  ];
  for (const [f, re] of cases) assert.throws(() => load(f), re);
  const good = Deno.readFileSync(new URL("f4_2x3.npy", dir));
  assert.throws(
    () => readNpy(good.subarray(0, good.length - 3), "cut.npy"),
    /cut\.npy: truncated data/,
  );
  assert.throws(() => readNpy(new Uint8Array(20), "x.bin"), /x\.bin: not a \.npy/);
});

Deno.test("encodeNpy round-trips every dtype and matches numpy's bytes", () => {
  const arrays = [
    { dtype: "float32", shape: [2, 3], data: new Float32Array([1, 2.5, -3, 0, 1e-3, 7]) },
    { dtype: "float64", shape: [2], data: new Float64Array([0.1, -1e300]) },
    { dtype: "int32", shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) },
    { dtype: "uint8", shape: [3], data: new Uint8Array([0, 7, 255]) },
    { dtype: "bool", shape: [3], data: new Uint8Array([1, 0, 1]) },
    { dtype: "float32", shape: [], data: new Float32Array([3.5]) },
  ] as NdArray[];
  for (const a of arrays) {
    const back = readNpy(encodeNpy(a), "roundtrip");
    assert.equal(back.dtype, a.dtype);
    assert.deepEqual(back.shape, a.shape);
    assert.deepEqual(Array.from(back.data), Array.from(a.data));
  }
  // Byte-identical to numpy.save for a plain float32 array.
  assert.deepEqual(encodeNpy(arrays[0]), Deno.readFileSync(new URL("f4_2x3.npy", dir)));
  assert.throws(
    () => encodeNpy({ dtype: "float32", shape: [4], data: new Float32Array(3) }),
    /4 elements but data has 3/,
  );
});

Deno.test("halfToFloat decodes subnormals, infinities and NaN", () => {
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(halfToFloat(0x3c00), 1);
});

Deno.test("encodeNpy writes float16 that readNpy reads back as float32", () => {
  const x = Float32Array.from([0.1, -1.5, 65504, 2 ** -24, 0.33333334]);
  const back = readNpy(
    encodeNpy({ dtype: "float16", shape: [5], data: Float16Array.from(x) }),
    "half.npy",
  );
  assert.equal(back.dtype, "float32");
  assert.deepEqual(Array.from(back.data), Array.from(Float16Array.from(x)));
  assert.ok(Math.abs(back.data[0] - 0.1) < 1e-4);
});
