/**
 * Long because the forward pass and its hand-written backward pass are read side by side.
 *
 * The fusion head's math on the CPU, defined once: the forward pass (with dropout), its
 * hand-written backward pass, on plain `Float32Array`s with the matrix products in a native
 * `sgemm` (lib/runtime/blas.ts) and every elementwise step fused into one loop in TypeScript.
 * The data-parallel trainer (lib/train/parallel/) and the CPU inference of
 * {@linkcode FusionHead.fuse} both run it; TensorFlow.js's autodiff of
 * {@linkcode FusionHead.apply} is its test oracle (gradients and one update, lib/model/head_math_test.ts)
 * and the engine of the WebGPU backend.
 *
 * The parameters are one flat buffer in the internal `[in, out]` layout of
 * {@linkcode FusionHead} (the order of {@linkcode headParams}); the gradients go to another
 * buffer of the same layout, overwritten or accumulated (`β = 1` in the products), so a
 * shared-memory buffer of a worker can be both.
 *
 * The elementwise work per row is ≈ 12k GELUs (exact GELU, `x·Φ(x)`): Φ and the normal
 * density φ come from one table of 16,385 points on [−8, 8] with linear interpolation (error
 * below 2·10⁻⁷, the size of float32 rounding; V8 has no `erf` and `Math.exp` alone would cost
 * four times the whole lookup). The forward pass keeps `GELU'(x)·mask` for the backward pass,
 * so neither `erf` nor the dropout hash is evaluated twice.
 *
 * Dropout masks are {@linkcode dropoutKeep}: 16 bits of a hash of (seed, site, batch row,
 * column pair) an element, so a row's mask does not depend on how a batch is split across
 * workers. (Until this kernel, one 32-bit hash an element: the mask stream changed once, with
 * the numbers of every seeded run; see the README's performance section.)
 *
 * @module
 */
import type { Blas } from "../runtime/blas.ts";
import { fixedTextWeightOf, type FusionConfig, hasExperts, hasGate } from "./config.ts";

/** The five dropout sites of the head, in {@linkcode FusionHead.apply}'s numbering. */
export const DROPOUT_SITES = 5;

/** The matrix product the kernel needs: {@linkcode Blas.sgemm} (row-major). */
export type Sgemm = Pick<Blas, "sgemm">;

/** A parameter of the flat buffer: internal name, `[in, out]` shape, size and offset. */
export interface HeadParam {
  /** Internal name (`text.W`, `experts.U`, …; see {@linkcode FusionHead.get}). */
  name: string;
  /** Shape in the internal layout. */
  shape: number[];
  /** Number of values. */
  size: number;
  /** Offset in the flat buffer. */
  offset: number;
}

/** Sums over a forward pass's rows, for training logs. */
export interface ShardStats {
  /** Σ w over the rows. */
  wSum: number;
  /** Σ w² over the rows. */
  w2Sum: number;
  /** Σ p per expert over the rows (length K, 0 for `gate_only` and `proj_only`). */
  pSum: Float32Array;
}

function _fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The per-site seed of {@linkcode dropoutKeep}. */
function _siteSeed(seed: number, site: number): number {
  return _fmix((seed >>> 0) ^ Math.imul(site + 1, 0x9e3779b9));
}

/** The per-row seed of {@linkcode dropoutKeep}. */
function _rowSeed(siteSeed: number, row: number): number {
  return _fmix(siteSeed ^ Math.imul(row + 1, 0x632be5ab));
}

/**
 * The 16 random bits of column `col` in the row of seed `rs`: one 32-bit hash serves two
 * columns (its low half the even, its high half the odd one).
 */
function _bits16(rs: number, col: number): number {
  const h = _fmix(rs ^ Math.imul((col >>> 1) + 1, 0x27d4eb2f));
  return col & 1 ? h >>> 16 : h & 0xffff;
}

/**
 * Whether element (`row`, `col`) of dropout site `site` is kept under `seed` at `rate`: kept
 * when `bits16(seed, site, row, col) / 2¹⁶ ≥ rate`, 16 bits of a hash of (seed, site, row,
 * col / 2). A row's mask depends on its row number in the batch only, not on how the batch is
 * split. The drop rate is so `rate` rounded up to a multiple of 2⁻¹⁶ (0.2 → 0.200012); the
 * kept values are scaled by `1/(1 − rate)` exactly, as `nn.Dropout` does.
 */
export function dropoutKeep(
  seed: number,
  site: number,
  row: number,
  col: number,
  rate: number,
): boolean {
  const rs = _rowSeed(_siteSeed(seed, site), row);
  return _bits16(rs, col) >= rate * 65536;
}

/**
 * Dropout multipliers of rows `row0 … row0+rows−1`: `0` where {@linkcode dropoutKeep} drops,
 * else `1/(1−rate)` (inverted dropout, as `tf.dropout` and `nn.Dropout`). For tests and the
 * autodiff oracle; the kernel draws the same masks inside its loops.
 *
 * @returns `rows × cols` row-major multipliers.
 */
export function dropoutMultipliers(
  seed: number,
  site: number,
  row0: number,
  rows: number,
  cols: number,
  rate: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  _dropMask(out, rows, cols, seed, site, row0, rate);
  return out;
}

// Φ(x) and φ(x) on [−8, 8], 1,024 points a unit. Built once from a float64 erfc of
// relative error < 1.2e-7 (Numerical Recipes' erfcc), well inside float32's rounding of Φ.
const _GL = 8, _GS = 1024, _GN = 2 * _GL * _GS + 1;
const _PHI = new Float32Array(_GN), _DEN = new Float32Array(_GN);
{
  const erfc = (x: number) => {
    const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
    const r = t * Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                    t * (-0.82215223 + t * 0.17087277)))))))),
    );
    return x >= 0 ? r : 2 - r;
  };
  for (let i = 0; i < _GN; i++) {
    const x = -_GL + i / _GS;
    _PHI[i] = 0.5 * erfc(-x * Math.SQRT1_2);
    _DEN[i] = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  }
}

/** `GELU(x) = x·Φ(x)` from the table (exported for tests). */
export function gelu(x: number): number {
  let u = (x + _GL) * _GS;
  u = u < 0 ? 0 : u > _GN - 1.0001 ? _GN - 1.0001 : u;
  const k = u | 0, f = u - k;
  return x * (_PHI[k] + f * (_PHI[k + 1] - _PHI[k]));
}

/** `GELU'(x) = Φ(x) + x·φ(x)` from the table (exported for tests). */
export function geluGrad(x: number): number {
  let u = (x + _GL) * _GS;
  u = u < 0 ? 0 : u > _GN - 1.0001 ? _GN - 1.0001 : u;
  const k = u | 0, f = u - k;
  return _PHI[k] + f * (_PHI[k + 1] - _PHI[k]) + x * (_DEN[k] + f * (_DEN[k + 1] - _DEN[k]));
}

/**
 * In place over an `n × cols` block of `a` (row stride `ld`, first column `col0`):
 * `a ← GELU(a)·m` and, when `dg` is given (`n × cols`, dense), `dg ← GELU'(a)·m`, where `m` is
 * the dropout multiplier of site `site` for batch row `row0 + r` (1 when `rate` is 0).
 */
function _geluDrop(
  a: Float32Array,
  ld: number,
  col0: number,
  n: number,
  cols: number,
  dg: Float32Array | null,
  seed: number,
  site: number,
  row0: number,
  rate: number,
): void {
  const PHI = _PHI, DEN = _DEN, hi = _GN - 1.0001;
  const drop = rate > 0;
  const keep = drop ? 1 / (1 - rate) : 1, threshold = rate * 65536;
  const ss = drop ? _siteSeed(seed, site) : 0;
  for (let r = 0; r < n; r++) {
    const o = r * ld + col0, od = r * cols;
    const rs = drop ? _rowSeed(ss, row0 + r) : 0;
    let bits = 0;
    for (let c = 0; c < cols; c++) {
      const x = a[o + c];
      let u = (x + _GL) * _GS;
      u = u < 0 ? 0 : u > hi ? hi : u;
      const k = u | 0, f = u - k;
      const cdf = PHI[k] + f * (PHI[k + 1] - PHI[k]);
      let m = 1;
      if (drop) {
        // one hash for two columns (_bits16, inlined)
        if ((c & 1) === 0) {
          let h = rs ^ Math.imul((c >>> 1) + 1, 0x27d4eb2f);
          h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
          h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
          bits = (h ^ (h >>> 16)) >>> 0;
          m = (bits & 0xffff) >= threshold ? keep : 0;
        } else {
          m = bits >>> 16 >= threshold ? keep : 0;
        }
      }
      a[o + c] = x * cdf * m;
      if (dg) dg[od + c] = (cdf + x * (DEN[k] + f * (DEN[k + 1] - DEN[k]))) * m;
    }
  }
}

/** Rows of `c` (stride `ldc`, from column `col0`, `cols` wide) set to `bias`. */
function _fillBias(
  c: Float32Array,
  ldc: number,
  col0: number,
  n: number,
  bias: Float32Array,
): void {
  for (let r = 0; r < n; r++) c.set(bias, r * ldc + col0);
}

/**
 * The trainable parameters of a head in the flat layout: internal names, `[in, out]` shapes,
 * sizes and offsets, in the order of {@linkcode FusionHead.variables} (`logit_scale` last,
 * only when it is learnable).
 */
export function headParams(config: FusionConfig): HeadParam[] {
  const { dim: d, proj: P, hidden: H, experts: K, variant } = config;
  const list: [string, number[]][] = [
    ["text.W", [d, P]],
    ["text.b", [P]],
    ["image.W", [d, P]],
    ["image.b", [P]],
  ];
  if (hasGate(variant)) {
    list.push(["gate.W1", [2 * P, H]], ["gate.b1", [H]], ["gate.W2", [H, 1]], ["gate.b2", [1]]);
  }
  if (hasExperts(variant)) {
    const h4 = Math.floor(H / 4);
    list.push(
      ["router.R1", [2 * P, h4]],
      ["router.c1", [h4]],
      ["router.R2", [h4, K]],
      ["router.c2", [K]],
      ["output.W", [H, d]],
      ["output.b", [d]],
      ["experts.U", [2 * P, K * H]],
      ["experts.u", [K * H]],
    );
  } else if (variant === "proj_only") {
    list.push(["output.W", [2 * P, d]], ["output.b", [d]]);
  }
  if (config.learnableScale) list.push(["logit_scale", []]);
  let offset = 0;
  return list.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const p = { name, shape, size, offset };
    offset += size;
    return p;
  });
}

/**
 * Floating-point operations of one training sample in the matrix products of
 * {@linkcode HeadMath} (forward, input gradients, weight gradients; `2·in·out` each, no input
 * gradient for the projections, whose inputs are data): 70.3 M for the reference head.
 */
export function trainFlopsPerSample(config: FusionConfig): number {
  const first = new Set(["text.W", "image.W"]);
  let f = 0;
  for (const p of headParams(config)) {
    if (p.shape.length !== 2) continue;
    const mac = p.shape[0] * p.shape[1];
    f += 2 * mac * (first.has(p.name) ? 2 : 3);
  }
  return f;
}

/** Values in a flat buffer of {@linkcode headParams}. */
export function headParamCount(config: FusionConfig): number {
  const ps = headParams(config);
  const last = ps[ps.length - 1];
  return last.offset + last.size;
}

/** The per-row arrays of a batch that a split backward pass exchanges, and their widths. */
const _BATCH_FIELDS = [
  "t",
  "g",
  "q",
  "dq",
  "hc",
  "da",
  "y1",
  "dz1",
  "dz2",
  "yr",
  "ds1",
  "ds2",
  "e",
  "mixed",
  "dro",
] as const;

/** Names of {@linkcode HeadBatch}'s arrays. */
export type HeadBatchField = typeof _BATCH_FIELDS[number];

function _batchWidths(c: FusionConfig): Record<HeadBatchField, number> {
  const { dim: d, proj: P, hidden: H, experts: K } = c;
  const h4 = Math.floor(H / 4);
  return {
    t: d,
    g: d,
    q: d,
    dq: d,
    hc: 2 * P,
    da: 2 * P,
    y1: H,
    dz1: H,
    dz2: 1,
    yr: h4,
    ds1: h4,
    ds2: K,
    e: K * H,
    mixed: H,
    dro: d,
  };
}

/**
 * The rows of one batch that every part of a split training step reads: inputs `t`, `g`,
 * queries `q` and their gradient `dq`, and each layer's input and output gradient (what its
 * weight gradient is made of). One buffer (a `SharedArrayBuffer` across workers) holds them
 * all; every worker writes its own rows, then computes its own columns of every weight
 * gradient from all rows ({@linkcode HeadMath.weightGrads}).
 */
export class HeadBatch {
  /** Rows the arrays hold. */
  readonly rows: number;
  /** The buffer under every array (send it to workers; {@linkcode HeadBatch.fromBuffer}). */
  readonly buffer: ArrayBufferLike;
  /** The arrays, `rows × width` row-major each. */
  readonly a: Record<HeadBatchField, Float32Array>;

  private constructor(config: FusionConfig, rows: number, buffer: ArrayBufferLike) {
    const widths = _batchWidths(config);
    this.rows = rows;
    this.buffer = buffer;
    const a = {} as Record<HeadBatchField, Float32Array>;
    let o = 0;
    for (const f of _BATCH_FIELDS) {
      a[f] = new Float32Array(buffer, o * 4, rows * widths[f]);
      o += rows * widths[f];
    }
    this.a = a;
  }

  /** Floats a batch of `rows` rows needs. */
  static floats(config: FusionConfig, rows: number): number {
    const w = _batchWidths(config);
    return _BATCH_FIELDS.reduce((s, f) => s + rows * w[f], 0);
  }

  /** A new batch of `rows` rows, in shared memory when `shared`. */
  static create(config: FusionConfig, rows: number, shared = false): HeadBatch {
    const bytes = HeadBatch.floats(config, rows) * 4;
    return new HeadBatch(
      config,
      rows,
      shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes),
    );
  }

  /** The batch over a buffer made by {@linkcode HeadBatch.create} (e.g. in a worker). */
  static fromBuffer(config: FusionConfig, rows: number, buffer: ArrayBufferLike): HeadBatch {
    if (buffer.byteLength !== HeadBatch.floats(config, rows) * 4) {
      throw new Error(`HeadBatch.fromBuffer: ${buffer.byteLength} bytes for ${rows} rows`);
    }
    return new HeadBatch(config, rows, buffer);
  }
}

/** What {@linkcode HeadMath.forward} returns: views of the kernel's workspace. */
export interface HeadForward {
  /** Fused unit-length queries, `n × d` (valid until the next forward). */
  q: Float32Array;
  /** Text weights, `n` (the image's is `1 − w`). */
  w: Float32Array;
  /** Router probabilities, `n × K` (empty without experts). */
  p: Float32Array;
}

/** Dropout of one forward pass: masks from `seed` for batch rows `row0 …`. */
export interface HeadDropout {
  /** Seed of the masks. */
  seed: number;
  /** Batch row of the first row passed. */
  row0: number;
}

/** `[lo, hi)`: part `part` of `parts` of `n` columns. */
function _part(n: number, part: number, parts: number): [number, number] {
  return [Math.floor((part * n) / parts), Math.floor(((part + 1) * n) / parts)];
}

/**
 * The head's forward and backward pass over flat parameter buffers; see the module
 * documentation.
 *
 * Two ways to call it. Whole: {@linkcode HeadMath.forward} (with `keep`), then
 * {@linkcode HeadMath.backward}, on a batch of the kernel's own. Split over workers that share
 * one {@linkcode HeadBatch}: each runs {@linkcode HeadMath.forwardRows} and
 * {@linkcode HeadMath.backwardRows} on its own rows; once all have, each runs
 * {@linkcode HeadMath.weightGrads} for its own share of every weight gradient's columns, from all
 * rows, straight into the one gradient buffer: the sum over workers is never formed, since no
 * two workers write the same value.
 */
export class HeadMath {
  /** The head's config. */
  readonly config: FusionConfig;
  /** The flat layout. */
  readonly params: HeadParam[];
  /** Values of a flat parameter (and gradient) buffer. */
  readonly size: number;
  #blas: Sgemm;
  #off: Record<string, number> = {};
  #views = new WeakMap<Float32Array, Record<string, Float32Array>>();
  #cap = 0;
  #n = 0;
  #r0 = 0;
  #kept: HeadBatch | null = null;
  #dropped = false;
  #ws: Record<string, Float32Array> = {};
  #own: HeadBatch | null = null;
  #productMs = 0;
  #kernelMs = 0;

  /**
   * A kernel for `config` whose products run on `blas`.
   *
   * @param blas the native `sgemm` (lib/runtime/blas.ts), or any row-major equivalent.
   */
  constructor(config: FusionConfig, blas: Sgemm) {
    this.config = config;
    // every product timed (some 25 calls a step: the clock costs nothing next to them)
    this.#blas = {
      sgemm: (...args: Parameters<Sgemm["sgemm"]>) => {
        const t0 = performance.now();
        blas.sgemm(...args);
        this.#productMs += performance.now() - t0;
      },
    };
    this.params = headParams(config);
    for (const p of this.params) this.#off[p.name] = p.offset;
    const last = this.params[this.params.length - 1];
    this.size = last.offset + last.size;
  }

  /** Views of every parameter of a flat buffer (made once per buffer). */
  #of(buf: Float32Array, what: string): Record<string, Float32Array> {
    if (buf.length < this.size) {
      throw new Error(`HeadMath: ${buf.length} ${what} values, the head has ${this.size}`);
    }
    let v = this.#views.get(buf);
    if (!v) {
      v = {};
      for (const p of this.params) v[p.name] = buf.subarray(p.offset, p.offset + p.size);
      this.#views.set(buf, v);
    }
    return v;
  }

  /** The private per-row workspace, for `n` rows. */
  #reserve(n: number): void {
    if (n <= this.#cap) return;
    const { dim: d, proj: P, hidden: H, experts: K } = this.config;
    const h4 = Math.floor(H / 4);
    const sizes: Record<string, number> = {
      d0: P,
      d1: P,
      d2: H,
      w: 1,
      dr: h4,
      p: K,
      d3: K * H,
      r: d,
      x: d,
      nrm: 1,
      dx: d,
      dmix: H,
      dhc: 2 * P,
      m4: d,
    };
    for (const [k, s] of Object.entries(sizes)) this.#ws[k] = new Float32Array(n * s);
    this.#cap = n;
  }

  /** `C(n × cols, stride ldc) = X(n × in)·W + b` (bias first, then `β = 1`). */
  #linear(
    x: Float32Array,
    ldx: number,
    n: number,
    inDim: number,
    w: Float32Array,
    b: Float32Array,
    c: Float32Array,
    ldc: number,
    col0: number,
  ): void {
    const cols = b.length;
    _fillBias(c, ldc, col0, n, b);
    this.#blas.sgemm(false, false, n, cols, inDim, 1, x, ldx, w, cols, 1, c.subarray(col0), ldc);
  }

  /**
   * Forward pass of `n` rows `t`, `g` (`n × d` each) with the parameters `wts`, on the kernel's
   * own batch. With `drop`, dropout masks of the config's rate (none when null: evaluation
   * mode). With `keep`, the activations {@linkcode HeadMath.backward} needs are kept.
   */
  forward(
    wts: Float32Array,
    t: Float32Array,
    g: Float32Array,
    n: number,
    drop: HeadDropout | null,
    keep: boolean,
  ): HeadForward {
    const d = this.config.dim;
    if (t.length < n * d || g.length < n * d) {
      throw new Error(`HeadMath.forward: t and g need n × d = ${n} × ${d} values`);
    }
    if (!this.#own || this.#own.rows < n) this.#own = HeadBatch.create(this.config, n);
    this.#own.a.t.set(t.subarray(0, n * d));
    this.#own.a.g.set(g.subarray(0, n * d));
    return this.forwardRows(wts, this.#own, 0, n, drop, keep);
  }

  /**
   * Backward pass of the last {@linkcode HeadMath.forward} (kept) from `dq = dL/dq` (`n × d`):
   * writes the parameter gradients into `grad` (the flat layout), or adds them when
   * `accumulate`. `logit_scale`'s slot, when there is one, is the caller's (only the loss
   * depends on it): left as it is.
   */
  backward(wts: Float32Array, dq: Float32Array, grad: Float32Array, accumulate: boolean): void {
    const batch = this.#kept;
    if (!batch || batch !== this.#own) {
      throw new Error("HeadMath.backward: call forward with keep = true first (once per backward)");
    }
    const n = this.#n, d = this.config.dim;
    if (dq.length < n * d) {
      throw new Error(`HeadMath.backward: dq needs n × d = ${n} × ${d} values`);
    }
    this.#of(grad, "gradient");
    batch.a.dq.set(dq.subarray(0, n * d));
    this.backwardRows(wts);
    this.weightGrads(batch, n, grad, accumulate, 0, 1);
  }

  /**
   * Forward pass of rows `r0 … r0+n−1` of `batch` (inputs from its `t`, `g`; queries into its
   * `q`; with `keep`, each layer's input into the batch for the backward pass). Dropout masks
   * are those of batch rows `drop.row0 + i` when `drop` is given.
   */
  forwardRows(
    wts: Float32Array,
    batch: HeadBatch,
    r0: number,
    n: number,
    drop: HeadDropout | null,
    keep: boolean,
  ): HeadForward {
    const t0 = performance.now();
    const c = this.config;
    const { dim: d, proj: P, hidden: H, experts: K, variant } = c;
    if (r0 < 0 || r0 + n > batch.rows) {
      throw new Error(
        `HeadMath.forwardRows: rows ${r0}…${r0 + n - 1} outside a batch of ${batch.rows}`,
      );
    }
    const v = this.#of(wts, "parameter");
    this.#reserve(n);
    const ws = this.#ws;
    const rows = (f: HeadBatchField, width: number) => batch.a[f].subarray(r0 * width);
    const rate = drop && c.dropout > 0 ? c.dropout : 0;
    const seed = drop?.seed ?? 0, row0 = drop?.row0 ?? 0;
    const P2 = 2 * P, h4 = Math.floor(H / 4), KH = K * H;
    const t = rows("t", d), g = rows("g", d), hc = rows("hc", P2);
    // h = [GELU(t·W_T + b_T)·m0 ; GELU(g·W_D + b_D)·m1]
    this.#linear(t, d, n, d, v["text.W"], v["text.b"], hc, P2, 0);
    _geluDrop(hc, P2, 0, n, P, keep ? ws.d0 : null, seed, 0, row0, rate);
    this.#linear(g, d, n, d, v["image.W"], v["image.b"], hc, P2, P);
    _geluDrop(hc, P2, P, n, P, keep ? ws.d1 : null, seed, 1, row0, rate);
    // w = σ(Drop(GELU(h·W_1 + b_1))·W_2 + b_2)
    const w = ws.w.subarray(0, n);
    if (hasGate(variant)) {
      const y1 = rows("y1", H);
      this.#linear(hc, P2, n, P2, v["gate.W1"], v["gate.b1"], y1, H, 0);
      _geluDrop(y1, H, 0, n, H, keep ? ws.d2 : null, seed, 2, row0, rate);
      const w2 = v["gate.W2"], b2 = v["gate.b2"][0];
      for (let r = 0; r < n; r++) {
        let z = b2;
        const o = r * H;
        for (let j = 0; j < H; j++) z += y1[o + j] * w2[j];
        w[r] = 1 / (1 + Math.exp(-z));
      }
    } else {
      w.fill(fixedTextWeightOf(c));
    }
    // x = w·t + (1 − w)·g + r
    const rr = ws.r;
    let hasR = false;
    if (hasExperts(variant)) {
      const yr = rows("yr", h4), p = ws.p;
      this.#linear(hc, P2, n, P2, v["router.R1"], v["router.c1"], yr, h4, 0);
      _geluDrop(yr, h4, 0, n, h4, keep ? ws.dr : null, 0, 0, 0, 0);
      this.#linear(yr, h4, n, h4, v["router.R2"], v["router.c2"], p, K, 0);
      for (let r = 0; r < n; r++) {
        const o = r * K;
        let mx = -Infinity;
        for (let k = 0; k < K; k++) mx = Math.max(mx, p[o + k]);
        let s = 0;
        for (let k = 0; k < K; k++) s += p[o + k] = Math.exp(p[o + k] - mx);
        for (let k = 0; k < K; k++) p[o + k] /= s;
      }
      const e = rows("e", KH), mixed = rows("mixed", H);
      this.#linear(hc, P2, n, P2, v["experts.U"], v["experts.u"], e, KH, 0);
      _geluDrop(e, KH, 0, n, KH, keep ? ws.d3 : null, seed, 3, row0, rate);
      for (let r = 0; r < n; r++) {
        const om = r * H, oe = r * KH;
        const p0 = p[r * K];
        for (let j = 0; j < H; j++) mixed[om + j] = p0 * e[oe + j];
        for (let k = 1; k < K; k++) {
          const pk = p[r * K + k], ok = oe + k * H;
          for (let j = 0; j < H; j++) mixed[om + j] += pk * e[ok + j];
        }
      }
      this.#linear(mixed, H, n, H, v["output.W"], v["output.b"], rr, d, 0);
      hasR = true;
    } else if (variant === "proj_only") {
      this.#linear(hc, P2, n, P2, v["output.W"], v["output.b"], rr, d, 0);
      hasR = true;
    }
    if (hasR && rate > 0) {
      // r = Drop(r): the multipliers are kept for the backward pass
      const m4 = ws.m4;
      _dropMask(m4, n, d, seed, 4, row0, rate);
      for (let i = 0; i < n * d; i++) rr[i] *= m4[i];
    }
    const q = rows("q", d), x = ws.x, nrm = ws.nrm;
    for (let r = 0; r < n; r++) {
      const o = r * d, wr = w[r], ur = 1 - wr;
      let ss = 0;
      for (let j = 0; j < d; j++) {
        const xj = wr * t[o + j] + ur * g[o + j] + (hasR ? rr[o + j] : 0);
        x[o + j] = xj;
        ss += xj * xj;
      }
      const nr = Math.max(Math.sqrt(ss), 1e-12);
      nrm[r] = nr;
      for (let j = 0; j < d; j++) q[o + j] = x[o + j] / nr;
    }
    this.#n = n;
    this.#r0 = r0;
    this.#kept = keep ? batch : null;
    this.#dropped = hasR && rate > 0;
    const k = hasExperts(variant) ? K : 0;
    this.#kernelMs += performance.now() - t0;
    return { q: q.subarray(0, n * d), w, p: ws.p.subarray(0, n * k) };
  }

  /**
   * Milliseconds spent since the last reset in the kernel's passes (`kernelMs`: forward, row
   * backward, weight gradients) and, of those, in matrix products (`productMs`); the rest is
   * the elementwise work. Resets with `reset`.
   */
  timing(reset = false): { kernelMs: number; productMs: number } {
    const t = { kernelMs: this.#kernelMs, productMs: this.#productMs };
    if (reset) this.#kernelMs = this.#productMs = 0;
    return t;
  }

  /** Sums of the last forward's `w`, `w²` and `p` (for the training logs). */
  stats(): ShardStats {
    const n = this.#n, K = hasExperts(this.config.variant) ? this.config.experts : 0;
    const w = this.#ws.w, p = this.#ws.p;
    let wSum = 0, w2Sum = 0;
    const pSum = new Float32Array(K);
    for (let r = 0; r < n; r++) {
      wSum += w[r];
      w2Sum += w[r] * w[r];
      for (let k = 0; k < K; k++) pSum[k] += p[r * K + k];
    }
    return { wSum, w2Sum, pSum };
  }

  /**
   * The row part of the backward pass of the last {@linkcode HeadMath.forwardRows} (kept),
   * from the batch's `dq` rows: every layer's output gradient into the batch (`da`, `dz1`,
   * `dz2`, `ds1`, `ds2`, `e` as `dL/dz_e`, `dro`), through the layers' input gradients. No
   * weight gradient: {@linkcode HeadMath.weightGrads} makes them from all rows.
   */
  backwardRows(wts: Float32Array): void {
    const batch = this.#kept;
    if (!batch) {
      throw new Error("HeadMath.backward: call forward with keep = true first (once per backward)");
    }
    this.#kept = null;
    const t0 = performance.now();
    const c = this.config;
    const { dim: d, proj: P, hidden: H, experts: K, variant } = c;
    const n = this.#n, r0 = this.#r0, ws = this.#ws;
    const rows = (f: HeadBatchField, width: number) => batch.a[f].subarray(r0 * width);
    const v = this.#of(wts, "parameter");
    const blas = this.#blas;
    const P2 = 2 * P, h4 = Math.floor(H / 4), KH = K * H;
    const t = rows("t", d), g = rows("g", d), q = rows("q", d), dq = rows("dq", d);
    const nrm = ws.nrm, dx = ws.dx, dhc = ws.dhc;
    // dx = (dq − q·(dq·q)) / ‖x‖
    for (let r = 0; r < n; r++) {
      const o = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += dq[o + j] * q[o + j];
      const inv = 1 / nrm[r];
      for (let j = 0; j < d; j++) dx[o + j] = (dq[o + j] - q[o + j] * s) * inv;
    }
    let dhcSet = false;
    if (hasExperts(variant) || variant === "proj_only") {
      const dro = rows("dro", d);
      for (let i = 0; i < n * d; i++) dro[i] = this.#dropped ? dx[i] * ws.m4[i] : dx[i];
      if (variant === "proj_only") {
        blas.sgemm(false, true, n, P2, d, 1, dro, d, v["output.W"], d, 0, dhc, P2);
      } else {
        const dmix = ws.dmix, e = rows("e", KH), p = ws.p, dp = rows("ds2", K), d3 = ws.d3;
        blas.sgemm(false, true, n, H, d, 1, dro, d, v["output.W"], d, 0, dmix, H);
        // dp_k = Σ_j e_k·dmixed; dz_e = p_k·dmixed·GELU'·m3 (over e, no longer needed)
        for (let r = 0; r < n; r++) {
          const om = r * H, oe = r * KH;
          for (let k = 0; k < K; k++) {
            const ok = oe + k * H, pk = p[r * K + k];
            let s = 0;
            for (let j = 0; j < H; j++) {
              const dm = dmix[om + j];
              s += e[ok + j] * dm;
              e[ok + j] = pk * dm * d3[ok + j];
            }
            dp[r * K + k] = s;
          }
        }
        blas.sgemm(false, true, n, P2, KH, 1, e, KH, v["experts.U"], KH, 0, dhc, P2);
        // router: ds2 = p ⊙ (dp − Σ dp·p), then back through GELU (no dropout)
        for (let r = 0; r < n; r++) {
          const o = r * K;
          let s = 0;
          for (let k = 0; k < K; k++) s += dp[o + k] * p[o + k];
          for (let k = 0; k < K; k++) dp[o + k] = p[o + k] * (dp[o + k] - s);
        }
        const ds1 = rows("ds1", h4), dr = ws.dr;
        blas.sgemm(false, true, n, h4, K, 1, dp, K, v["router.R2"], K, 0, ds1, h4);
        for (let i = 0; i < n * h4; i++) ds1[i] *= dr[i];
        blas.sgemm(false, true, n, P2, h4, 1, ds1, h4, v["router.R1"], h4, 1, dhc, P2);
      }
      dhcSet = true;
    }
    if (hasGate(variant)) {
      const w = ws.w, d2 = ws.d2, dz1 = rows("dz1", H), dz2 = rows("dz2", 1);
      const w2 = v["gate.W2"];
      for (let r = 0; r < n; r++) {
        const o = r * d;
        let s = 0;
        for (let j = 0; j < d; j++) s += dx[o + j] * (t[o + j] - g[o + j]);
        const z = (dz2[r] = s * w[r] * (1 - w[r]));
        const oh = r * H;
        for (let j = 0; j < H; j++) dz1[oh + j] = z * w2[j] * d2[oh + j];
      }
      blas.sgemm(false, true, n, P2, H, 1, dz1, H, v["gate.W1"], H, dhcSet ? 1 : 0, dhc, P2);
      dhcSet = true;
    }
    if (!dhcSet) dhc.fill(0, 0, n * P2);
    // projections: da = dh·GELU'·m
    const da = rows("da", P2), d0 = ws.d0, d1 = ws.d1;
    for (let r = 0; r < n; r++) {
      const o = r * P2, op = r * P;
      for (let j = 0; j < P; j++) {
        da[o + j] = dhc[o + j] * d0[op + j];
        da[o + P + j] = dhc[o + P + j] * d1[op + j];
      }
    }
    this.#kernelMs += performance.now() - t0;
  }

  /**
   * Part `part` of `parts` of every weight and bias gradient, from rows `0 … rows−1` of
   * `batch` (after every part's {@linkcode HeadMath.backwardRows}): the columns
   * `[part·out/parts, (part+1)·out/parts)` of each layer's `[in, out]` gradient, written into
   * `grad`, or added when `accumulate`. The parts of all workers together write every value
   * of `grad` once (but `logit_scale`'s slot, which is the caller's).
   */
  weightGrads(
    batch: HeadBatch,
    rows: number,
    grad: Float32Array,
    accumulate: boolean,
    part: number,
    parts: number,
  ): void {
    const t0 = performance.now();
    const c = this.config;
    const { dim: d, proj: P, hidden: H, experts: K, variant } = c;
    const gv = this.#of(grad, "gradient"), a = batch.a, n = rows;
    const P2 = 2 * P, h4 = Math.floor(H / 4);
    const beta = accumulate ? 1 : 0;
    /** dW[:, lo:hi] (+)= Xᵀ·dY[:, lo:hi], db[lo:hi] (+)= Σ_rows dY[:, lo:hi]. */
    const layer = (
      x: Float32Array,
      inDim: number,
      dy: Float32Array,
      ldy: number,
      col0: number,
      out: number,
      wn: string,
      bn: string,
    ) => {
      const [lo, hi] = _part(out, part, parts);
      if (hi <= lo) return;
      const gw = gv[wn], gb = gv[bn];
      this.#blas.sgemm(
        true,
        false,
        inDim,
        hi - lo,
        n,
        1,
        x,
        inDim,
        dy.subarray(col0 + lo),
        ldy,
        beta,
        gw.subarray(lo),
        out,
      );
      if (!accumulate) gb.fill(0, lo, hi);
      for (let r = 0; r < n; r++) {
        const o = r * ldy + col0;
        for (let j = lo; j < hi; j++) gb[j] += dy[o + j];
      }
    };
    layer(a.t, d, a.da, P2, 0, P, "text.W", "text.b");
    layer(a.g, d, a.da, P2, P, P, "image.W", "image.b");
    if (hasGate(variant)) {
      layer(a.hc, P2, a.dz1, H, 0, H, "gate.W1", "gate.b1");
      layer(a.y1, H, a.dz2, 1, 0, 1, "gate.W2", "gate.b2");
    }
    if (hasExperts(variant)) {
      layer(a.hc, P2, a.ds1, h4, 0, h4, "router.R1", "router.c1");
      layer(a.yr, h4, a.ds2, K, 0, K, "router.R2", "router.c2");
      layer(a.hc, P2, a.e, K * H, 0, K * H, "experts.U", "experts.u");
      layer(a.mixed, H, a.dro, d, 0, d, "output.W", "output.b");
    } else if (variant === "proj_only") {
      layer(a.hc, P2, a.dro, d, 0, d, "output.W", "output.b");
    }
    this.#kernelMs += performance.now() - t0;
  }
}

/** `m ← multiplier` of dropout site `site` over an `n × cols` dense block. */
function _dropMask(
  m: Float32Array,
  n: number,
  cols: number,
  seed: number,
  site: number,
  row0: number,
  rate: number,
): void {
  const keep = 1 / (1 - rate), threshold = rate * 65536;
  const ss = _siteSeed(seed, site);
  for (let r = 0; r < n; r++) {
    const rs = _rowSeed(ss, row0 + r), o = r * cols;
    for (let c = 0; c < cols; c++) m[o + c] = _bits16(rs, c) >= threshold ? keep : 0;
  }
}
