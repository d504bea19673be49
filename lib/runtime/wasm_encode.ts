/**
 * A minimal WebAssembly binary encoder: modules that import one memory and export functions,
 * written as lists of named instructions. Enough for the project's few hand-written kernels
 * (lib/train/parallel/adamw.ts), whose instruction lists are the source a reader reviews; no
 * toolchain, no committed binary.
 *
 * Instructions are byte arrays from {@linkcode op}; a function body is their concatenation
 * (the encoder appends the final `end`).
 *
 * @module
 */

/** Value types: `i32`, `f64`, `v128`. */
export const valType = { i32: 0x7f, f64: 0x7c, v128: 0x7b } as const;

/** A value type of {@linkcode valType}. */
export type ValType = (typeof valType)[keyof typeof valType];

/** One instruction: its bytes. */
export type Instr = readonly number[];

/** Unsigned LEB128 of `n` (0 ≤ n < 2³²). */
export function uleb(n: number): number[] {
  if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 32)) throw new Error(`uleb: ${n} is no u32`);
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128 of the 32-bit integer `n`. */
export function sleb(n: number): number[] {
  if (!(Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31)) {
    throw new Error(`sleb: ${n} is no i32`);
  }
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const _simd = (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm];
/** A memory argument: alignment hint (log2 bytes) and offset. */
const _mem = (align: number, offset = 0) => [...uleb(align), ...uleb(offset)];

/** The instructions the kernels use, by their text-format names. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  f32Load: (offset = 0) => [0x2a, ..._mem(2, offset)],
  f64Add: [0xa0],
  f64Mul: [0xa2],
  f64PromoteF32: [0xbb],
  /** Two float32 from memory into the low lanes (`v128.load64_zero`). */
  v128Load64Zero: (offset = 0) => _simd(0x5d, ..._mem(0, offset)),
  /** Lane `lane` (64 bits) of a v128 to memory (`v128.store64_lane`). */
  v128Store64Lane: (lane = 0, offset = 0) => _simd(0x5b, ..._mem(0, offset), lane),
  f64x2Splat: _simd(0x14),
  f64x2PromoteLowF32x4: _simd(0x5f),
  f32x4DemoteF64x2Zero: _simd(0x5e),
  f64x2Sqrt: _simd(0xef),
  f64x2Add: _simd(0xf0),
  f64x2Sub: _simd(0xf1),
  f64x2Mul: _simd(0xf2),
  f64x2Div: _simd(0xf3),
} as const;

/** One exported function of {@linkcode wasmModule}. */
export interface WasmFunction {
  /** Export name. */
  name: string;
  /** Parameter types. */
  params: ValType[];
  /** Result types (none or one). */
  results: ValType[];
  /** Types of the locals after the parameters. */
  locals: ValType[];
  /** The instructions (without the final `end`). */
  body: Instr[];
}

function _vec(items: Instr[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function _section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}

/**
 * A module importing `env.memory` (shared, `maxPages` pages of 64 KiB at most) and exporting
 * `functions`.
 */
export function wasmModule(functions: WasmFunction[], maxPages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((
    f,
  ) => [0x60, ..._vec(f.params.map((t) => [t])), ..._vec(f.results.map((t) => [t]))]);
  const name = (s: string) => {
    const b = [...new TextEncoder().encode(s)];
    return [...uleb(b.length), ...b];
  };
  // limits 0x03: shared, with a maximum
  const memoryImport = [
    ...name("env"),
    ...name("memory"),
    0x02,
    0x03,
    ...uleb(1),
    ...uleb(maxPages),
  ];
  const codes = functions.map((f) => {
    const locals = _vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body.flat(), ...op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ..._section(1, _vec(types)),
    ..._section(2, _vec([memoryImport])),
    ..._section(3, _vec(functions.map((_, i) => uleb(i)))),
    ..._section(7, _vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ..._section(10, _vec(codes)),
  ]);
}
