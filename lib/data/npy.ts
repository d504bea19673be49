/**
 * Reading and writing NumPy `.npy` files (format versions 1, 2 and 3).
 *
 * Supported: little-endian, C-order arrays of dtype `<f2` (decoded to float32), `<f4`, `<f8`,
 * `<i4`, `<i8` (narrowed to int32 when every value fits), `|u1` and `|b1`. Everything else is
 * refused with an error that names the file and says how to re-save it.
 *
 * @module
 */

/** The element types an {@linkcode NdArray} can hold. */
export type NdDtype = "float32" | "float64" | "int32" | "uint8" | "bool";

/** A dense, row-major (C-order) n-dimensional array. `bool` is stored as 0/1 bytes. */
export interface NdArray {
  /** Element type. */
  dtype: NdDtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  shape: number[];
  /** The elements in row-major order; its length is the product of `shape`. */
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/**
 * A float16 array to write (compact storage of large splits); {@linkcode readNpy} decodes
 * `<f2` files to float32, so it is never read back as one.
 */
export interface HalfArray {
  /** Always `float16`. */
  dtype: "float16";
  /** Dimensions, outermost first. */
  shape: number[];
  /** The elements in row-major order. */
  data: Float16Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const RESAVE = "save with numpy.save(path, np.ascontiguousarray(x, dtype='<f4'))";

/** Decodes one IEEE 754 half-precision value. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function _parseHeader(
  header: string,
  name: string,
): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(
      `${name}: the .npy header ${JSON.stringify(header.trim())} lacks 'descr', ` +
        `'fortran_order' or 'shape'; the file is not a plain array: ${RESAVE}`,
    );
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(
    (s) => {
      const n = Number(s.replace(/L$/, ""));
      if (!Number.isInteger(n) || n < 0) {
        throw new Error(`${name}: bad dimension '${s}' in the .npy shape (${shapeText})`);
      }
      return n;
    },
  );
  return { descr, fortran: fortran === "True", shape };
}

/**
 * Parses the bytes of a `.npy` file.
 *
 * @param bytes the whole file.
 * @param name the file name, used in error messages.
 * @throws when the file is not a `.npy`, is Fortran-ordered, big-endian, truncated, or of a
 *   dtype outside the supported list.
 */
export function readNpy(bytes: Uint8Array, name = "array"): NdArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${name}: not a .npy file (no \\x93NUMPY magic); ${RESAVE}`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${name}: truncated .npy header; re-save the file`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`${name}: .npy format version ${major} is not supported (1-3 are); ${RESAVE}`);
  }
  if (start + headerLen > bytes.length) {
    throw new Error(`${name}: truncated .npy header; the file was cut short, re-save it`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  const { descr, fortran, shape } = _parseHeader(header, name);
  if (fortran) {
    throw new Error(`${name}: the array is Fortran-ordered (fortran_order=True); ${RESAVE}`);
  }
  const order = descr[0];
  const code = descr.slice(1);
  if (order === ">" && !["u1", "b1", "i1"].includes(code)) {
    throw new Error(
      `${name}: dtype '${descr}' is big-endian; ` +
        "save with numpy.save(path, x.astype(x.dtype.newbyteorder('<')))",
    );
  }
  const known: Record<string, number> = { f2: 2, f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, b1: 1 };
  const size = known[code];
  if (size === undefined || !["<", "|", "="].includes(order)) {
    throw new Error(
      `${name}: dtype '${descr}' is not supported (<f2, <f4, <f8, <i4, <i8, |u1, |b1 are); ${RESAVE}`,
    );
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const need = count * size;
  if (bytes.length - off < need) {
    throw new Error(
      `${name}: truncated data: shape [${shape}] of ${descr} needs ${need} bytes, ` +
        `the file has ${bytes.length - off}; the file was cut short, re-save or re-copy it`,
    );
  }
  if (code === "f2") {
    // decoded into a fresh float32 array, so the halves are read in place where aligned
    const at = bytes.byteOffset + off;
    const half = at % 2 === 0
      ? new Float16Array(bytes.buffer, at, count)
      : new Float16Array(bytes.slice(off, off + need).buffer);
    const out = new Float32Array(count);
    out.set(half); // exact: every half is a float32
    return { dtype: "float32", shape, data: out };
  }
  // slice() copies into a fresh, aligned buffer.
  const raw = bytes.slice(off, off + need).buffer;
  switch (code) {
    case "f4":
      return { dtype: "float32", shape, data: new Float32Array(raw) };
    case "f8":
      return { dtype: "float64", shape, data: new Float64Array(raw) };
    case "i4":
      return { dtype: "int32", shape, data: new Int32Array(raw) };
    case "u1":
      return { dtype: "uint8", shape, data: new Uint8Array(raw) };
    case "b1":
      return { dtype: "bool", shape, data: new Uint8Array(raw).map((v) => (v ? 1 : 0)) };
    default: { // i8
      const v = new BigInt64Array(raw);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const x = v[i];
        if (x > 2147483647n || x < -2147483648n) {
          throw new Error(
            `${name}: int64 value ${x} at flat index ${i} does not fit int32; ` +
              "store indices below 2^31 or save with x.astype('<i4')",
          );
        }
        out[i] = Number(x);
      }
      return { dtype: "int32", shape, data: out };
    }
  }
}

const DESCR: Record<NdDtype | "float16", string> = {
  float16: "<f2",
  float32: "<f4",
  float64: "<f8",
  int32: "<i4",
  uint8: "|u1",
  bool: "|b1",
};

/**
 * Encodes an array as a `.npy` file (version 1, or 2 when the header needs it), data aligned
 * to 64 bytes as NumPy writes it.
 *
 * @throws when the data length disagrees with the shape or the typed array with the dtype.
 */
export function encodeNpy(arr: NdArray | HalfArray): Uint8Array {
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) {
    throw new Error(
      `encodeNpy: shape [${arr.shape}] has ${count} elements but data has ${arr.data.length}`,
    );
  }
  const want = {
    float16: Float16Array,
    float32: Float32Array,
    float64: Float64Array,
    int32: Int32Array,
    uint8: Uint8Array,
    bool: Uint8Array,
  }[arr.dtype];
  if (!(arr.data instanceof want)) {
    throw new Error(
      `encodeNpy: dtype ${arr.dtype} needs a ${want.name}, got ${arr.data.constructor.name}`,
    );
  }
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(", ")})`;
  let dict = `{'descr': '${DESCR[arr.dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let pre = 10;
  if (dict.length + 1 + pre > 65535) {
    major = 2;
    pre = 12;
  }
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict + " ".repeat(total - pre - dict.length - 1) + "\n";
  const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(total + body.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, total - pre, true);
  else view.setUint32(8, total - pre, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.set(arr.dtype === "bool" ? body.map((v) => (v ? 1 : 0)) : body, total);
  return out;
}
