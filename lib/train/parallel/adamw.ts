/**
 * The gradient norm and AdamW update of the data-parallel trainer on flat float32 arrays (shared
 * memory), one slice of the parameters per worker: the same update as lib/train/adamw.ts (PyTorch's
 * AdamW with decoupled weight decay; biases, 1-D tensors and the logit scale are the `noDecay`
 * ranges the trainer passes, as lib/train/adamw.ts `decaysWeight` decides), computed in float64 and
 * stored in float32.
 *
 * The update is defined once, by {@linkcode adamwSlice}'s scalar loop. {@linkcode AdamWKernel}
 * runs the same operations, in the same order, two values at a time in WebAssembly SIMD
 * (`f64x2`) on the trainer's shared memory (lib/train/parallel/buffers.ts): IEEE float64 products,
 * sums, quotients and square roots are correctly rounded in both, so its results are the scalar
 * loop's bit for bit (lib/train/parallel/adamw_test.ts), at about a third of its time (`deno task
 * bench` times both; the scalar loop was a quarter of a batch-128 step).
 *
 * @module
 */
import type { AdamWOptions } from "../adamw.ts";
import { type Instr, op, valType, wasmModule } from "../../runtime/wasm_encode.ts";
import { type BufferName, bufferPages, bufferViews, type SharedBuffers } from "./buffers.ts";

/** `Σ sum[j]²` over `[lo, hi)` (float64, in index order), for the global gradient norm. */
export function sumOfSquares(sum: Float32Array, lo: number, hi: number): number {
  let ss = 0;
  for (let j = lo; j < hi; j++) ss += sum[j] * sum[j];
  return ss;
}

/** What one AdamW update of a slice needs. */
export interface AdamWSliceArgs {
  /** Learning rate. */
  lr: number;
  /** 1-based step number (for the bias corrections). */
  step: number;
  /** Multiplier of the gradients (the clipping coefficient, ≤ 1). */
  coef: number;
  /** Hyper-parameters. */
  opts: Omit<AdamWOptions, "noDecay">;
  /** `[lo, hi)` ranges of the flat buffer that get no weight decay. */
  noDecay: [number, number][];
}

/** The constants of one update, in the order the wasm kernel takes them after `n`. */
function _constants(a: AdamWSliceArgs): number[] {
  const { beta1, beta2, eps } = a.opts;
  const stepSize = a.lr / (1 - Math.pow(beta1, a.step));
  const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, a.step));
  // coef, b1, c1, b2, c2, (decay,) stepSize, invSqrtBc2, eps
  return [a.coef, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, invSqrtBc2, eps];
}

/** `[start, end, decay]` runs of `[lo, hi)`: the weight-decay factor of each. */
function _runs(lo: number, hi: number, a: AdamWSliceArgs): [number, number, number][] {
  const decay = 1 - a.lr * a.opts.weightDecay;
  const out: [number, number, number][] = [];
  let at = lo;
  for (const [s0, e0] of [...a.noDecay].sort((x, y) => x[0] - y[0])) {
    const s = Math.max(s0, lo), e = Math.min(e0, hi);
    if (s >= e) continue;
    if (at < s) out.push([at, s, decay]);
    out.push([s, e, 1]);
    at = e;
  }
  if (at < hi) out.push([at, hi, decay]);
  return out;
}

/**
 * AdamW on `p`, `m`, `v` over `[s, e)` with gradients `coef · g` and weight-decay factor `dec`:
 * `p ← p·dec`, `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
 * `p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + eps)`; the definition the wasm kernel follows.
 */
function _adamwRun(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  s: number,
  e: number,
  dec: number,
  k: number[],
): void {
  const [coef, b1, c1, b2, c2, stepSize, invSqrtBc2, eps] = k;
  for (let j = s; j < e; j++) {
    const gj = g[j] * coef;
    const mj = (m[j] = b1 * m[j] + c1 * gj);
    const vj = (v[j] = b2 * v[j] + c2 * gj * gj);
    p[j] = p[j] * dec - stepSize * (mj / (Math.sqrt(vj) * invSqrtBc2 + eps));
  }
}

/** AdamW (the scalar definition) on `p`, `m`, `v` over `[lo, hi)` with gradients `coef · g`. */
export function adamwSlice(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  lo: number,
  hi: number,
  a: AdamWSliceArgs,
): void {
  const k = _constants(a);
  for (const [s, e, dec] of _runs(lo, hi, a)) _adamwRun(p, m, v, g, s, e, dec, k);
}

// The wasm kernel. adamw(p, m, v, g: byte addresses, n: pairs, coef, b1, c1, b2, c2, dec,
// stepSize, invSqrtBc2, eps): locals 14-22 hold the nine constants splatted, 23-25 gj, mj, vj.
const _P = 0, _M = 1, _V = 2, _G = 3, _N = 4, _K = 5, _S = 14, _GJ = 23, _MJ = 24, _VJ = 25;
// splatted constants, by name
const [_COEF, _B1, _C1, _B2, _C2, _DEC, _STEP, _ISB, _EPS] = Array.from(
  { length: 9 },
  (_, i) => _S + i,
);
const _load = (
  ptr: number,
): Instr[] => [op.localGet(ptr), op.v128Load64Zero(), op.f64x2PromoteLowF32x4];
const _store = (ptr: number, value: Instr[]) => [
  op.localGet(ptr),
  ...value,
  op.f32x4DemoteF64x2Zero,
  op.v128Store64Lane(0),
];
const _get = op.localGet;

const _ADAMW_BODY: Instr[] = [
  ...Array.from({ length: 9 }, (_, i) => [op.localGet(_K + i), op.f64x2Splat, op.localSet(_S + i)])
    .flat(),
  op.block,
  op.localGet(_N),
  op.i32Eqz,
  op.brIf(0),
  op.loop,
  // gj = g·coef
  ..._load(_G),
  _get(_COEF),
  op.f64x2Mul,
  op.localSet(_GJ),
  // mj = b1·m + c1·gj; m ← mj
  _get(_B1),
  ..._load(_M),
  op.f64x2Mul,
  _get(_C1),
  _get(_GJ),
  op.f64x2Mul,
  op.f64x2Add,
  op.localSet(_MJ),
  ..._store(_M, [_get(_MJ)]),
  // vj = b2·v + (c2·gj)·gj; v ← vj
  _get(_B2),
  ..._load(_V),
  op.f64x2Mul,
  _get(_C2),
  _get(_GJ),
  op.f64x2Mul,
  _get(_GJ),
  op.f64x2Mul,
  op.f64x2Add,
  op.localSet(_VJ),
  ..._store(_V, [_get(_VJ)]),
  // p ← p·dec − stepSize·(mj / (√vj·invSqrtBc2 + eps))
  ..._store(_P, [
    ..._load(_P),
    _get(_DEC),
    op.f64x2Mul,
    _get(_STEP),
    _get(_MJ),
    _get(_VJ),
    op.f64x2Sqrt,
    _get(_ISB),
    op.f64x2Mul,
    _get(_EPS),
    op.f64x2Add,
    op.f64x2Div,
    op.f64x2Mul,
    op.f64x2Sub,
  ]),
  ...[_P, _M, _V, _G].flatMap((x) => [op.localGet(x), op.i32Const(8), op.i32Add, op.localSet(x)]),
  op.localGet(_N),
  op.i32Const(1),
  op.i32Sub,
  op.localTee(_N),
  op.brIf(0),
  op.end,
  op.end,
];

// sumsq(ptr, n) → Σ x² in index order (one float64 accumulator, as sumOfSquares)
const _SUMSQ_BODY: Instr[] = [
  op.block,
  op.localGet(1),
  op.i32Eqz,
  op.brIf(0),
  op.loop,
  op.localGet(0),
  op.f32Load(),
  op.f64PromoteF32,
  op.localTee(3),
  op.localGet(3),
  op.f64Mul,
  op.localGet(2),
  op.f64Add,
  op.localSet(2),
  op.localGet(0),
  op.i32Const(4),
  op.i32Add,
  op.localSet(0),
  op.localGet(1),
  op.i32Const(1),
  op.i32Sub,
  op.localTee(1),
  op.brIf(0),
  op.end,
  op.end,
  op.localGet(2),
];

const { i32, f64, v128 } = valType;
const _modules = new Map<number, WebAssembly.Module>();

/**
 * AdamW and the gradient's sum of squares on the trainer's shared memory, in WebAssembly: the
 * same numbers as {@linkcode adamwSlice} and {@linkcode sumOfSquares}.
 */
export class AdamWKernel {
  #views: Record<BufferName, Float32Array>;
  #adamw: (...a: number[]) => void;
  #sumsq: (ptr: number, n: number) => number;

  /** The kernel over `buffers` (lib/train/parallel/buffers.ts). */
  constructor(buffers: SharedBuffers) {
    const pages = bufferPages(buffers.size);
    let mod = _modules.get(pages);
    if (!mod) {
      mod = new WebAssembly.Module(wasmModule([
        {
          name: "adamw",
          params: [i32, i32, i32, i32, i32, f64, f64, f64, f64, f64, f64, f64, f64, f64],
          results: [],
          locals: Array(12).fill(v128),
          body: _ADAMW_BODY,
        },
        {
          name: "sumsq",
          params: [i32, i32],
          results: [f64],
          locals: [f64, f64],
          body: _SUMSQ_BODY,
        },
      ], pages));
      _modules.set(pages, mod);
    }
    const inst = new WebAssembly.Instance(mod, { env: { memory: buffers.memory } });
    this.#adamw = inst.exports.adamw as (...a: number[]) => void;
    this.#sumsq = inst.exports.sumsq as (ptr: number, n: number) => number;
    this.#views = bufferViews(buffers);
  }

  #check(lo: number, hi: number): void {
    if (
      !(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo >= 0 && lo <= hi &&
        hi <= this.#views.sum.length)
    ) {
      throw new Error(
        `AdamWKernel: [${lo}, ${hi}) is no slice of the ${this.#views.sum.length} parameters`,
      );
    }
  }

  /** {@linkcode sumOfSquares} of the gradient over `[lo, hi)`. */
  sumOfSquares(lo: number, hi: number): number {
    this.#check(lo, hi);
    return this.#sumsq(this.#views.sum.byteOffset + 4 * lo, hi - lo);
  }

  /** {@linkcode adamwSlice} of the weights and moments over `[lo, hi)` from the gradient. */
  update(lo: number, hi: number, a: AdamWSliceArgs): void {
    this.#check(lo, hi);
    const k = _constants(a);
    const { weights: p, m, v, sum: g } = this.#views;
    // the kernel takes byte addresses in the memory: the views' offsets
    const base = [p, m, v, g].map((x) => x.byteOffset);
    for (const [s, e, dec] of _runs(lo, hi, a)) {
      const pairs = (e - s) >> 1;
      this.#adamw(
        ...base.map((b) => b + 4 * s),
        pairs,
        k[0],
        k[1],
        k[2],
        k[3],
        k[4],
        dec,
        k[5],
        k[6],
        k[7],
      );
      // an odd run's last value: the scalar definition
      if (s + 2 * pairs < e) _adamwRun(p, m, v, g, s + 2 * pairs, e, dec, k);
    }
  }
}
