/**
 * Reading and writing the safetensors format (the one Hugging Face's `safetensors` library and
 * `safetensors.torch.save_file` write), in plain TypeScript.
 *
 * Layout: 8 bytes little-endian unsigned header length `N`, then `N` bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { str: str } }`, then
 * the tensor bytes; offsets are relative to the first byte after the header, little-endian,
 * row-major (C order). The writer pads the header with spaces to a multiple of 8 bytes, as the
 * reference library does, so every tensor starts 8-byte aligned, and stores tensors in sorted
 * name order, back to back.
 *
 * @module
 */
import { halfToFloat } from "./npy.ts";

/** One tensor as {@linkcode readSafetensors} returns it: floats as fp32, integers as int32. */
export interface SafetensorsEntry {
  /** The dtype stored in the file (`F32`, `F16`, `BF16`, `F64`, `I32` or `I64`). */
  dtype: string;
  /** The shape; `[]` is a scalar (one element). */
  shape: number[];
  /** The values, row-major: floating dtypes decoded to fp32, integer dtypes to int32. */
  data: Float32Array | Int32Array;
}

/** One tensor for {@linkcode encodeSafetensors}. */
export interface SafetensorsInput {
  /** Stored dtype: `F32` takes a Float32Array, `I32` and `I64` take an Int32Array. */
  dtype: "F32" | "I32" | "I64";
  /** The shape; `[]` is a scalar. */
  shape: number[];
  /** The values, row-major; the length must be the product of `shape`. */
  data: Float32Array | Int32Array;
}

const _SIZES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

/** The bytes per element of the dtypes this module decodes. */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<string, number>> = _SIZES;

const _LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function _numel(shape: number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

interface _Header {
  meta: Record<string, string>;
  entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[];
  dataStart: number;
}

function _parseHeader(bytes: Uint8Array, file: string): _Header {
  if (bytes.length < 8) {
    throw new Error(
      `${file}: truncated safetensors file (${bytes.length} bytes, fewer than the 8-byte ` +
        "header length); the file is cut short or not safetensors: re-export it",
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
  const n = hi * 4294967296 + lo;
  if (n > bytes.length - 8) {
    throw new Error(
      `${file}: safetensors header length ${n} runs past the end of the file ` +
        `(${bytes.length} bytes); the file is truncated or not safetensors: re-export it`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${file}: safetensors header is not valid UTF-8 JSON (${e}); re-export it`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new Error(`${file}: safetensors header is not a JSON object; re-export the file`);
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const meta: Record<string, string> = {};
  const entries: _Header["entries"] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (v !== null && typeof v === "object") {
        for (const [k, s] of Object.entries(v as Record<string, unknown>)) meta[k] = String(s);
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor '${name}'`;
    if (e === null || typeof e !== "object") {
      throw new Error(`${where}: header entry is not an object`);
    }
    if (typeof e.dtype !== "string" || !(e.dtype in _SIZES)) {
      throw new Error(
        `${where}: unknown or unsupported dtype ${JSON.stringify(e.dtype)}; ` +
          `supported: ${Object.keys(_SIZES).join(", ")} (convert the tensor, e.g. .float())`,
      );
    }
    if (
      !Array.isArray(e.shape) || !e.shape.every((s) => Number.isSafeInteger(s) && s >= 0)
    ) {
      throw new Error(`${where}: shape ${JSON.stringify(e.shape)} is not a list of sizes ≥ 0`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((s) => Number.isSafeInteger(s)) ||
      off[0] < 0 || off[1] < off[0]
    ) {
      throw new Error(`${where}: data_offsets ${JSON.stringify(off)} are not [begin, end ≥ begin]`);
    }
    if (off[1] > dataLen) {
      throw new Error(
        `${where}: data_offsets [${off[0]}, ${off[1]}] run past the end of the data ` +
          `(${dataLen} bytes); the file is truncated: re-export or re-download it`,
      );
    }
    const want = _numel(e.shape as number[]) * _SIZES[e.dtype];
    if (want !== off[1] - off[0]) {
      throw new Error(
        `${where}: shape [${e.shape}] × ${e.dtype} needs ${want} bytes but data_offsets ` +
          `[${off[0]}, ${off[1]}] hold ${off[1] - off[0]}; the header is inconsistent: re-export`,
      );
    }
    entries.push({
      name,
      dtype: e.dtype,
      shape: (e.shape as number[]).slice(),
      begin: off[0],
      end: off[1],
    });
  }
  const byStart = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byStart.length; i++) {
    const a = byStart[i - 1], b = byStart[i];
    if (b.begin < a.end && b.end > b.begin && a.end > a.begin) {
      throw new Error(
        `${file}: tensors '${a.name}' [${a.begin}, ${a.end}) and '${b.name}' ` +
          `[${b.begin}, ${b.end}) overlap; the header is corrupt: re-export the file`,
      );
    }
  }
  return { meta, entries, dataStart };
}

function _decode(
  bytes: Uint8Array,
  start: number,
  e: _Header["entries"][number],
  file: string,
): Float32Array | Int32Array {
  const n = _numel(e.shape);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start + e.begin, e.end - e.begin);
  switch (e.dtype) {
    case "F32": {
      if (_LITTLE_ENDIAN) {
        const src = bytes.subarray(start + e.begin, start + e.end);
        return new Float32Array(src.slice().buffer, 0, n);
      }
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case "I32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case "I64": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(
            `${file}: tensor '${e.name}' (I64) holds ${v} at element ${i}, outside int32; ` +
              "store it as a smaller integer type or as floats",
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
  throw new Error(`${file}: tensor '${e.name}': unsupported dtype ${e.dtype}`);
}

/**
 * Decodes a safetensors file held in memory.
 *
 * Floating dtypes (`F32`, `F16`, `BF16`, `F64`) come back as Float32Array, integer dtypes
 * (`I32`, `I64`) as Int32Array (an `I64` value outside int32 is an error). Errors name `file`
 * and the tensor: truncated file, header length beyond the file, offsets that overlap or run
 * past the end, shape × dtype size different from the byte length, unknown dtype.
 *
 * @param bytes the whole file.
 * @param file a name for error messages (usually the path).
 */
export function readSafetensors(
  bytes: Uint8Array,
  file = "file",
): Record<string, SafetensorsEntry> {
  const h = _parseHeader(bytes, file);
  const out: Record<string, SafetensorsEntry> = {};
  for (const e of h.entries) {
    out[e.name] = { dtype: e.dtype, shape: e.shape, data: _decode(bytes, h.dataStart, e, file) };
  }
  return out;
}

/**
 * The `__metadata__` string map of a safetensors file (empty when it has none), checked as
 * {@linkcode readSafetensors} checks the header, without decoding any tensor.
 */
export function readSafetensorsMetadata(bytes: Uint8Array, file = "file"): Record<string, string> {
  return _parseHeader(bytes, file).meta;
}

/**
 * Encodes tensors as a safetensors file: 8-byte little-endian header length, JSON header with
 * `dtype`, `shape`, `data_offsets` (and `__metadata__` when given) padded with spaces to a
 * multiple of 8 bytes, then the tensors in sorted-name order, little-endian.
 *
 * @param tensors name → tensor; `F32` takes a Float32Array, `I32`/`I64` an Int32Array.
 * @param metadata optional string → string map stored as `__metadata__`.
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`encodeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") {
      throw new Error("encodeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    }
    const t = tensors[name];
    const size = _SIZES[t.dtype];
    if (!["F32", "I32", "I64"].includes(t.dtype)) {
      throw new Error(
        `encodeSafetensors: tensor '${name}' has dtype ${t.dtype}; use F32, I32, I64`,
      );
    }
    if (!t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new Error(`encodeSafetensors: tensor '${name}' has a bad shape [${t.shape}]`);
    }
    const want = t.dtype === "F32" ? Float32Array : Int32Array;
    if (!(t.data instanceof want)) {
      throw new Error(
        `encodeSafetensors: tensor '${name}' is ${t.dtype} but its data is a ` +
          `${t.data.constructor.name}; pass a ${want.name}`,
      );
    }
    const n = _numel(t.shape);
    if (t.data.length !== n) {
      throw new Error(
        `encodeSafetensors: tensor '${name}' has ${t.data.length} values but shape ` +
          `[${t.shape}] needs ${n}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n * size] };
    offset += n * size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const name of names) {
    const t = tensors[name];
    const n = t.data.length;
    if (t.dtype === "F32" && _LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, 4 * n), p);
      p += 4 * n;
    } else if (t.dtype === "F32") {
      for (let i = 0; i < n; i++, p += 4) dv.setFloat32(p, t.data[i], true);
    } else if (t.dtype === "I32") {
      for (let i = 0; i < n; i++, p += 4) dv.setInt32(p, t.data[i], true);
    } else {
      for (let i = 0; i < n; i++, p += 8) dv.setBigInt64(p, BigInt(t.data[i]), true);
    }
  }
  return out;
}
