/**
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
 * Dropout masks are {@linkcode dropoutKeep}: a hash of (seed, site, batch row, column), so a
 * row's mask does not depend on how a batch is split across workers.
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
 * Whether element (`row`, `col`) of dropout site `site` is kept under `seed` at `rate`: kept
 * when `hash(seed, site, row, col) / 2³² ≥ rate`. A row's mask depends on its row number in the
 * batch only, not on how the batch is split.
 */
export function dropoutKeep(
  seed: number,
  site: number,
  row: number,
  col: number,
  rate: number,
): boolean {
  const rs = _rowSeed(_siteSeed(seed, site), row);
  return _fmix(rs ^ Math.imul(col + 1, 0x27d4eb2f)) >= rate * 4294967296;
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
  const keep = 1 / (1 - rate);
  const threshold = rate * 4294967296;
  const s = _siteSeed(seed, site);
  for (let r = 0; r < rows; r++) {
    const rs = _rowSeed(s, row0 + r);
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      out[o + c] = _fmix(rs ^ Math.imul(c + 1, 0x27d4eb2f)) >= threshold ? keep : 0;
    }
  }
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
  const keep = drop ? 1 / (1 - rate) : 1, threshold = rate * 4294967296;
  const ss = drop ? _siteSeed(seed, site) : 0;
  for (let r = 0; r < n; r++) {
    const o = r * ld + col0, od = r * cols;
    const rs = drop ? _rowSeed(ss, row0 + r) : 0;
    for (let c = 0; c < cols; c++) {
      const x = a[o + c];
      let u = (x + _GL) * _GS;
      u = u < 0 ? 0 : u > hi ? hi : u;
      const k = u | 0, f = u - k;
      const cdf = PHI[k] + f * (PHI[k + 1] - PHI[k]);
      let m = 1;
      if (drop) {
        let h = rs ^ Math.imul(c + 1, 0x27d4eb2f);
        h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
        h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
        m = ((h ^ (h >>> 16)) >>> 0) >= threshold ? keep : 0;
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

/** `dst[j] (+)= Σ_r src[r·ld + col0 + j]` for `j < cols`. */
function _colSum(
  dst: Float32Array,
  src: Float32Array,
  ld: number,
  col0: number,
  n: number,
  cols: number,
  accumulate: boolean,
): void {
  if (!accumulate) dst.fill(0, 0, cols);
  for (let r = 0; r < n; r++) {
    const o = r * ld + col0;
    for (let j = 0; j < cols; j++) dst[j] += src[o + j];
  }
}

/** `a[i] *= b[i]` over an `n × cols` block of `a` (stride `ld`, column `col0`), `b` dense. */
function _mulInto(
  a: Float32Array,
  ld: number,
  col0: number,
  n: number,
  cols: number,
  b: Float32Array,
): void {
  for (let r = 0; r < n; r++) {
    const o = r * ld + col0, ob = r * cols;
    for (let j = 0; j < cols; j++) a[o + j] *= b[ob + j];
  }
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

/** Values in a flat buffer of {@linkcode headParams}. */
export function headParamCount(config: FusionConfig): number {
  const ps = headParams(config);
  const last = ps[ps.length - 1];
  return last.offset + last.size;
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

/**
 * The head's forward and backward pass over flat parameter buffers; see the module
 * documentation. One instance keeps a workspace for up to the largest batch it saw; call
 * {@linkcode HeadMath.forward} with `keep`, then {@linkcode HeadMath.backward} once.
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
  #cap = 0;
  #n = 0;
  #kept = false;
  #dropped = false;
  #t: Float32Array = new Float32Array(0);
  #g: Float32Array = new Float32Array(0);
  #ws: Record<string, Float32Array> = {};

  /**
   * A kernel for `config` whose products run on `blas`.
   *
   * @param blas the native `sgemm` (lib/runtime/blas.ts), or any row-major equivalent.
   */
  constructor(config: FusionConfig, blas: Sgemm) {
    this.config = config;
    this.#blas = blas;
    this.params = headParams(config);
    for (const p of this.params) this.#off[p.name] = p.offset;
    const last = this.params[this.params.length - 1];
    this.size = last.offset + last.size;
  }

  #view(w: Float32Array, name: string): Float32Array {
    const o = this.#off[name];
    if (o === undefined) {
      throw new Error(`HeadMath: the '${this.config.variant}' head has no ${name}`);
    }
    const p = this.params.find((x) => x.name === name)!;
    return w.subarray(o, o + p.size);
  }

  #reserve(n: number): void {
    if (n <= this.#cap) return;
    const { dim: d, proj: P, hidden: H, experts: K } = this.config;
    const h4 = Math.floor(H / 4);
    const sizes: Record<string, number> = {
      hc: 2 * P,
      d0: P,
      d1: P,
      y1: H,
      d2: H,
      w: 1,
      yr: h4,
      dr: h4,
      p: K,
      e: K * H,
      d3: K * H,
      mixed: H,
      r: d,
      x: d,
      q: d,
      nrm: 1,
      dx: d,
      dmix: H,
      dhc: 2 * P,
      dp: K,
      dyr: h4,
      dy1: H,
      dw: 1,
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
   * Forward pass of `n` rows `t`, `g` (`n × d` each) with the parameters `wts`. With `drop`,
   * dropout masks of the config's rate (none when null: evaluation mode). With `keep`, the
   * activations the backward pass needs are kept (and `t`, `g` must not change until then).
   */
  forward(
    wts: Float32Array,
    t: Float32Array,
    g: Float32Array,
    n: number,
    drop: HeadDropout | null,
    keep: boolean,
  ): HeadForward {
    const c = this.config;
    const { dim: d, proj: P, hidden: H, experts: K, variant } = c;
    if (wts.length < this.size) {
      throw new Error(
        `HeadMath.forward: ${wts.length} parameter values, the head has ${this.size}`,
      );
    }
    if (t.length < n * d || g.length < n * d) {
      throw new Error(`HeadMath.forward: t and g need n × d = ${n} × ${d} values`);
    }
    this.#reserve(n);
    const ws = this.#ws, v = (name: string) => this.#view(wts, name);
    const rate = drop && c.dropout > 0 ? c.dropout : 0;
    const seed = drop?.seed ?? 0, row0 = drop?.row0 ?? 0;
    const P2 = 2 * P;
    const hc = ws.hc;
    // h = [GELU(t·W_T + b_T)·m0 ; GELU(g·W_D + b_D)·m1]
    this.#linear(t, d, n, d, v("text.W"), v("text.b"), hc, P2, 0);
    _geluDrop(hc, P2, 0, n, P, keep ? ws.d0 : null, seed, 0, row0, rate);
    this.#linear(g, d, n, d, v("image.W"), v("image.b"), hc, P2, P);
    _geluDrop(hc, P2, P, n, P, keep ? ws.d1 : null, seed, 1, row0, rate);
    // w = σ(Drop(GELU(h·W_1 + b_1))·W_2 + b_2)
    const w = ws.w.subarray(0, n);
    if (hasGate(variant)) {
      const y1 = ws.y1;
      this.#linear(hc, P2, n, P2, v("gate.W1"), v("gate.b1"), y1, H, 0);
      _geluDrop(y1, H, 0, n, H, keep ? ws.d2 : null, seed, 2, row0, rate);
      const w2 = v("gate.W2"), b2 = v("gate.b2")[0];
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
    const x = ws.x;
    let hasR = false;
    const rr = ws.r;
    if (hasExperts(variant)) {
      const h4 = Math.floor(H / 4);
      const yr = ws.yr, p = ws.p;
      this.#linear(hc, P2, n, P2, v("router.R1"), v("router.c1"), yr, h4, 0);
      _geluDrop(yr, h4, 0, n, h4, keep ? ws.dr : null, 0, 0, 0, 0);
      this.#linear(yr, h4, n, h4, v("router.R2"), v("router.c2"), p, K, 0);
      for (let r = 0; r < n; r++) {
        const o = r * K;
        let mx = -Infinity;
        for (let k = 0; k < K; k++) mx = Math.max(mx, p[o + k]);
        let s = 0;
        for (let k = 0; k < K; k++) s += p[o + k] = Math.exp(p[o + k] - mx);
        for (let k = 0; k < K; k++) p[o + k] /= s;
      }
      const e = ws.e, KH = K * H, mixed = ws.mixed;
      this.#linear(hc, P2, n, P2, v("experts.U"), v("experts.u"), e, KH, 0);
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
      this.#linear(mixed, H, n, H, v("output.W"), v("output.b"), rr, d, 0);
      hasR = true;
    } else if (variant === "proj_only") {
      this.#linear(hc, P2, n, P2, v("output.W"), v("output.b"), rr, d, 0);
      hasR = true;
    }
    if (hasR && rate > 0) {
      // r = Drop(r): the multipliers are kept for the backward pass
      const m4 = ws.m4;
      m4.fill(1, 0, n * d);
      _dropMask(m4, n, d, seed, 4, row0, rate);
      for (let i = 0; i < n * d; i++) rr[i] *= m4[i];
    }
    const q = ws.q, nrm = ws.nrm;
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
    this.#kept = keep;
    this.#dropped = hasR && rate > 0;
    if (keep) {
      this.#t = t;
      this.#g = g;
    }
    const k = hasExperts(variant) ? K : 0;
    return { q: q.subarray(0, n * d), w, p: ws.p.subarray(0, n * k) };
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
   * Backward pass of the last forward (which must have kept its activations) from
   * `dq = dL/dq` (`n × d`): writes the parameter gradients into `grad` (the flat layout), or
   * adds them when `accumulate`. `logit_scale`'s slot, when there is one, is left to the
   * caller (only the loss depends on it): zeroed unless `accumulate`.
   */
  backward(wts: Float32Array, dq: Float32Array, grad: Float32Array, accumulate: boolean): void {
    if (!this.#kept) {
      throw new Error("HeadMath.backward: call forward with keep = true first (once per backward)");
    }
    this.#kept = false;
    const c = this.config;
    const { dim: d, proj: P, hidden: H, experts: K, variant } = c;
    const n = this.#n, ws = this.#ws, t = this.#t, g = this.#g;
    if (dq.length < n * d) {
      throw new Error(`HeadMath.backward: dq needs n × d = ${n} × ${d} values`);
    }
    if (grad.length < this.size) {
      throw new Error(
        `HeadMath.backward: ${grad.length} gradient values, the head has ${this.size}`,
      );
    }
    const v = (name: string) => this.#view(wts, name),
      gv = (name: string) => this.#view(grad, name);
    const beta = accumulate ? 1 : 0;
    const blas = this.#blas;
    const P2 = 2 * P;
    const q = ws.q, nrm = ws.nrm, dx = ws.dx, hc = ws.hc, dhc = ws.dhc;
    // dx = (dq − q·(dq·q)) / ‖x‖
    for (let r = 0; r < n; r++) {
      const o = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += dq[o + j] * q[o + j];
      const inv = 1 / nrm[r];
      for (let j = 0; j < d; j++) dx[o + j] = (dq[o + j] - q[o + j] * s) * inv;
    }
    let dhcSet = false;
    const hasR = hasExperts(variant) || variant === "proj_only";
    if (hasR) {
      // dro = dx·m4 (into ws.r: r itself is not needed any more)
      const dro = ws.r;
      for (let i = 0; i < n * d; i++) dro[i] = this.#dropped ? dx[i] * ws.m4[i] : dx[i];
      _colSum(gv("output.b"), dro, d, 0, n, d, accumulate);
      if (variant === "proj_only") {
        blas.sgemm(true, false, P2, d, n, 1, hc, P2, dro, d, beta, gv("output.W"), d);
        blas.sgemm(false, true, n, P2, d, 1, dro, d, v("output.W"), d, 0, dhc, P2);
        dhcSet = true;
      } else {
        const mixed = ws.mixed, dmix = ws.dmix, e = ws.e, p = ws.p, dp = ws.dp, KH = K * H;
        blas.sgemm(true, false, H, d, n, 1, mixed, H, dro, d, beta, gv("output.W"), d);
        blas.sgemm(false, true, n, H, d, 1, dro, d, v("output.W"), d, 0, dmix, H);
        // dp[k] = Σ_j e_k·dmixed; dze = p_k·dmixed·GELU'·m3 (over e, no longer needed)
        const d3 = ws.d3;
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
        const dze = e;
        _colSum(gv("experts.u"), dze, KH, 0, n, KH, accumulate);
        blas.sgemm(true, false, P2, KH, n, 1, hc, P2, dze, KH, beta, gv("experts.U"), KH);
        blas.sgemm(false, true, n, P2, KH, 1, dze, KH, v("experts.U"), KH, 0, dhc, P2);
        dhcSet = true;
        // router: ds2 = p ⊙ (dp − Σ dp·p) (over dp), then back through GELU (no dropout)
        const h4 = Math.floor(H / 4), yr = ws.yr, dyr = ws.dyr, dr = ws.dr;
        for (let r = 0; r < n; r++) {
          const o = r * K;
          let s = 0;
          for (let k = 0; k < K; k++) s += dp[o + k] * p[o + k];
          for (let k = 0; k < K; k++) dp[o + k] = p[o + k] * (dp[o + k] - s);
        }
        _colSum(gv("router.c2"), dp, K, 0, n, K, accumulate);
        blas.sgemm(true, false, h4, K, n, 1, yr, h4, dp, K, beta, gv("router.R2"), K);
        blas.sgemm(false, true, n, h4, K, 1, dp, K, v("router.R2"), K, 0, dyr, h4);
        for (let i = 0; i < n * h4; i++) dyr[i] *= dr[i];
        _colSum(gv("router.c1"), dyr, h4, 0, n, h4, accumulate);
        blas.sgemm(true, false, P2, h4, n, 1, hc, P2, dyr, h4, beta, gv("router.R1"), h4);
        blas.sgemm(false, true, n, P2, h4, 1, dyr, h4, v("router.R1"), h4, 1, dhc, P2);
      }
    }
    if (hasGate(variant)) {
      const w = ws.w, y1 = ws.y1, d2 = ws.d2, dy1 = ws.dy1, dz2 = ws.dw;
      for (let r = 0; r < n; r++) {
        const o = r * d;
        let s = 0;
        for (let j = 0; j < d; j++) s += dx[o + j] * (t[o + j] - g[o + j]);
        dz2[r] = s * w[r] * (1 - w[r]);
      }
      // gate.W2 [H, 1] and gate.b2
      const gW2 = gv("gate.W2"), gb2 = gv("gate.b2"), w2 = v("gate.W2");
      if (!accumulate) {
        gW2.fill(0);
        gb2[0] = 0;
      }
      for (let r = 0; r < n; r++) {
        const o = r * H, z = dz2[r];
        gb2[0] += z;
        for (let j = 0; j < H; j++) {
          gW2[j] += y1[o + j] * z;
          dy1[o + j] = z * w2[j] * d2[o + j];
        }
      }
      _colSum(gv("gate.b1"), dy1, H, 0, n, H, accumulate);
      blas.sgemm(true, false, P2, H, n, 1, hc, P2, dy1, H, beta, gv("gate.W1"), H);
      blas.sgemm(false, true, n, P2, H, 1, dy1, H, v("gate.W1"), H, dhcSet ? 1 : 0, dhc, P2);
      dhcSet = true;
    }
    if (!dhcSet) dhc.fill(0, 0, n * P2);
    // projections: da = dh·GELU'·m (in place in dhc), then the weight gradients from t and g
    _mulInto(dhc, P2, 0, n, P, ws.d0);
    _mulInto(dhc, P2, P, n, P, ws.d1);
    _colSum(gv("text.b"), dhc, P2, 0, n, P, accumulate);
    _colSum(gv("image.b"), dhc, P2, P, n, P, accumulate);
    blas.sgemm(true, false, d, P, n, 1, t, d, dhc, P2, beta, gv("text.W"), P);
    blas.sgemm(true, false, d, P, n, 1, g, d, dhc.subarray(P), P2, beta, gv("image.W"), P);
    if (c.learnableScale && !accumulate) gv("logit_scale")[0] = 0;
  }
}

/** `m ← m · multiplier` of dropout site `site` over an `n × cols` dense block. */
function _dropMask(
  m: Float32Array,
  n: number,
  cols: number,
  seed: number,
  site: number,
  row0: number,
  rate: number,
): void {
  const keep = 1 / (1 - rate), threshold = rate * 4294967296;
  const ss = _siteSeed(seed, site);
  for (let r = 0; r < n; r++) {
    const rs = _rowSeed(ss, row0 + r), o = r * cols;
    for (let c = 0; c < cols; c++) {
      if (_fmix(rs ^ Math.imul(c + 1, 0x27d4eb2f)) < threshold) m[o + c] = 0;
      else m[o + c] *= keep;
    }
  }
}
