/**
 * The fusion head's training step with a hand-written backward pass, split so that the
 * forward pass of a shard of the batch and its backward pass can run at different times: the
 * engine of {@linkcode ./trainer.ts}. The forward pass keeps its activations; the
 * backward pass takes `dL/dq` for the shard's rows (computed from the whole batch, since the
 * contrastive loss couples all rows) and returns the parameter gradients.
 *
 * Compared with `tf.variableGrads` over {@linkcode FusionHead.apply} it computes the same
 * gradients (tested) with less work on the wasm backend: no gradient for the inputs `t`, `g`;
 * `erf` evaluated once per GELU; every product a plain one, and the products that need a
 * transposed weight computed as `(W · dYᵀ)ᵀ`, so that the large weight is XNNPACK's
 * unpacked left operand and only small activations are transposed.
 *
 * With native products (lib/runtime/native_kernels.ts) the transpose flags cost nothing, so
 * the backward pass uses them instead (`dY·Wᵀ`, `Xᵀ·dY` straight from the saved tensors) and
 * materialises no transpose at all.
 *
 * Dropout masks come from {@linkcode dropoutMultipliers}: a hash of (seed, site, batch row,
 * column), so a row's mask does not depend on how the batch is split across workers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FusionHead } from "../../model/fusion_head.ts";
import { fixedTextWeightOf, hasExperts, hasGate } from "../../model/config.ts";
import { nativeBlas } from "../../runtime/native_kernels.ts";

const _SQRT1_2 = Math.SQRT1_2;
const _INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The five dropout sites of the head, in {@linkcode FusionHead.apply}'s numbering. */
export const DROPOUT_SITES = 5;

function _fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Dropout multipliers for rows `row0 … row0+rows−1` of a batch: `0` with probability `rate`,
 * else `1/(1−rate)` (inverted dropout, as `tf.dropout` and `nn.Dropout`). Element (row, col)
 * of site `site` is kept when `hash(seed, site, row, col) / 2³² ≥ rate`, so any split of the
 * batch's rows gives the same masks.
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
  const s = _fmix((seed >>> 0) ^ Math.imul(site + 1, 0x9e3779b9));
  for (let r = 0; r < rows; r++) {
    const rs = _fmix(s ^ Math.imul(row0 + r + 1, 0x632be5ab));
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      out[o + c] = _fmix(rs ^ Math.imul(c + 1, 0x27d4eb2f)) >= threshold ? keep : 0;
    }
  }
  return out;
}

/** Per-shard sums reported with the forward pass, for training logs. */
export interface ShardStats {
  /** Σ w over the shard's rows. */
  wSum: number;
  /** Σ w² over the shard's rows. */
  w2Sum: number;
  /** Σ p per expert over the shard's rows (length K, 0 for `gate_only` and `proj_only`). */
  pSum: Float32Array;
}

type _Saved = Record<string, tf.Tensor>;

/** `x · Φ(x)` and `Φ(x)` (exact GELU and the normal CDF it is built from). */
function _gelu(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const c = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, _SQRT1_2))));
  return [tf.mul(x, c), c];
}

/** GELU'(x) = Φ(x) + x·φ(x), from the saved Φ(x). */
function _geluGrad(x: tf.Tensor, cdf: tf.Tensor): tf.Tensor {
  return tf.add(cdf, tf.mul(x, tf.mul(_INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(x))))));
}

/** `dY · Wᵀ` as `(W · dYᵀ)ᵀ` (W `[in, out]`, dY `[n, out]`): no transposed weight. */
function _backData(w: tf.Tensor, dy: tf.Tensor): tf.Tensor2D {
  return tf.matMul(w as tf.Tensor2D, tf.transpose(dy as tf.Tensor2D));
}

/**
 * One shard's forward and backward pass over a head's variables. Call
 * {@linkcode ShardStep.forward}, then {@linkcode ShardStep.backward} once; the activations
 * kept in between are freed by `backward` (or {@linkcode ShardStep.dispose}).
 */
export class ShardStep {
  /** The head whose variables are read (and whose gradients are returned). */
  readonly head: FusionHead;
  #saved: _Saved | null = null;

  /**
   * A step over `head`.
   *
   * @param head the replica to differentiate.
   */
  constructor(head: FusionHead) {
    this.head = head;
  }

  /**
   * Forward pass of `n` rows; returns the fused queries `q` `[n, d]` (the caller disposes
   * them) and keeps what the backward pass needs.
   *
   * @param masks one multiplier array per dropout site (see {@linkcode dropoutMultipliers}),
   *   or null for no dropout.
   */
  forward(t: tf.Tensor2D, g: tf.Tensor2D, masks: (Float32Array | null)[] | null): {
    q: tf.Tensor2D;
    stats: () => Promise<ShardStats>;
  } {
    this.dispose();
    const head = this.head;
    const { proj: P, hidden: H, experts: K, dim: d, variant } = head.config;
    const n = t.shape[0];
    const v = (name: string) => head.get(name);
    const widths = [P, P, H, K * H, d];
    const s: _Saved = {};
    const q = tf.tidy(() => {
      const m = (site: number): tf.Tensor | null =>
        masks && masks[site] ? tf.tensor2d(masks[site]!, [n, widths[site]]) : null;
      const drop = (x: tf.Tensor, mt: tf.Tensor | null) => (mt ? tf.mul(x, mt) : x);
      const lin = (x: tf.Tensor, w: string, b: string) =>
        tf.add(tf.matMul(x as tf.Tensor2D, v(w) as tf.Tensor2D), v(b));
      s.t = t;
      s.g = g;
      s.aT = lin(t, "text.W", "text.b");
      let gl;
      [gl, s.cT] = _gelu(s.aT);
      const m0 = m(0), m1 = m(1);
      if (m0) s.m0 = m0;
      if (m1) s.m1 = m1;
      const hT = drop(gl, m0);
      s.aD = lin(g, "image.W", "image.b");
      [gl, s.cD] = _gelu(s.aD);
      const hD = drop(gl, m1);
      s.hc = tf.concat([hT, hD], 1);
      let w: tf.Tensor;
      if (!hasGate(variant)) {
        w = tf.fill([n, 1], fixedTextWeightOf(head.config));
      } else {
        s.z1 = lin(s.hc, "gate.W1", "gate.b1");
        [gl, s.c1] = _gelu(s.z1);
        const m2 = m(2);
        if (m2) s.m2 = m2;
        s.y1 = drop(gl, m2);
        w = tf.sigmoid(lin(s.y1, "gate.W2", "gate.b2"));
      }
      s.w = w;
      let x = tf.add(tf.mul(w, t), tf.mul(tf.sub(1, w), g));
      if (variant === "proj_only") {
        const m4 = m(4);
        if (m4) s.m4 = m4;
        x = tf.add(x, drop(lin(s.hc, "output.W", "output.b"), m4));
      } else if (hasExperts(variant)) {
        s.s1 = lin(s.hc, "router.R1", "router.c1");
        [s.yr, s.cs1] = _gelu(s.s1);
        s.p = tf.softmax(lin(s.yr, "router.R2", "router.c2") as tf.Tensor2D);
        s.ze = lin(s.hc, "experts.U", "experts.u");
        [gl, s.ce] = _gelu(s.ze);
        const m3 = m(3);
        if (m3) s.m3 = m3;
        s.e = drop(gl, m3);
        s.mixed = tf.sum(tf.mul(tf.reshape(s.e, [n, K, H]), tf.reshape(s.p, [n, K, 1])), 1);
        const m4 = m(4);
        if (m4) s.m4 = m4;
        x = tf.add(x, drop(lin(s.mixed, "output.W", "output.b"), m4));
      }
      s.nrm = tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12);
      s.q = tf.div(x, s.nrm);
      for (const key of Object.keys(s)) if (key !== "t" && key !== "g") tf.keep(s[key]);
      return tf.clone(s.q) as tf.Tensor2D;
    });
    this.#saved = s;
    const k = hasExperts(variant) ? K : 0;
    const stats = async (): Promise<ShardStats> => {
      const st = tf.tidy(() =>
        tf.concat([
          tf.reshape(tf.sum(s.w), [1]),
          tf.reshape(tf.sum(tf.square(s.w)), [1]),
          k ? tf.sum(s.p, 0) : tf.zeros([0]),
        ])
      );
      const a = (await st.data()) as Float32Array;
      st.dispose();
      return { wSum: a[0], w2Sum: a[1], pSum: a.slice(2, 2 + k) };
    };
    return { q, stats };
  }

  /**
   * Backward pass from `dq = dL/dq` `[n, d]` of the last forward's rows. Returns one gradient
   * per {@linkcode FusionHead.variables} entry, in that order (zeros for `logit_scale`, which
   * only the loss depends on); the caller disposes them. Frees the kept activations.
   */
  backward(dq: tf.Tensor2D): tf.Tensor[] {
    const s = this.#saved;
    if (!s) throw new Error("ShardStep.backward: call forward first (once per backward)");
    const head = this.head;
    const { proj: P, hidden: H, experts: K, variant } = head.config;
    const n = dq.shape[0];
    const v = (name: string) => head.get(name);
    const grads = new Map<string, tf.Tensor>();
    const tT = (x: tf.Tensor) => tf.transpose(x as tf.Tensor2D);
    // Native products take transpose flags at full speed; tfjs's wasm kernels do not (see
    // the module documentation), so without them the transposes are explicit.
    const native = nativeBlas() !== null;
    const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
    /** `Xᵀ·dY` (a weight's gradient). */
    const mmTN = (x: tf.Tensor, dy: tf.Tensor) =>
      native ? tf.matMul(x as tf.Tensor2D, dy as tf.Tensor2D, true, false) : mm(tT(x), dy);
    /** `dY·Wᵀ` `[n, in]` (the gradient of a layer's input). */
    const back = (w: tf.Tensor, dy: tf.Tensor) =>
      native ? tf.matMul(dy as tf.Tensor2D, w as tf.Tensor2D, false, true) : tT(_backData(w, dy));
    const out = tf.tidy(() => {
      const mask = (x: tf.Tensor, key: string) => (s[key] ? tf.mul(x, s[key]) : x);
      const dx = tf.div(tf.sub(dq, tf.mul(s.q, tf.sum(tf.mul(dq, s.q), 1, true))), s.nrm);
      const hcT = native ? s.hc : tT(s.hc);
      /** `hcᵀ·dY` from the saved `hc` (or its explicit transpose). */
      const mmHc = (dy: tf.Tensor) =>
        native ? tf.matMul(s.hc as tf.Tensor2D, dy as tf.Tensor2D, true, false) : mm(hcT, dy);
      // Input gradients of hc: `[2P, n]` pieces without native products, `[n, 2P]` with.
      const dhcT: tf.Tensor[] = [];
      const pushBack = (w: tf.Tensor, dy: tf.Tensor) =>
        dhcT.push(native ? back(w, dy) : _backData(w, dy));
      if (variant === "proj_only") {
        // r = Drop(h·W_o + b_o) straight from hc = [h_T ; h_D]
        const dro = mask(dx, "m4");
        grads.set("output.W", mmHc(dro));
        grads.set("output.b", tf.sum(dro, 0));
        pushBack(v("output.W"), dro);
      } else if (hasExperts(variant)) {
        const dro = mask(dx, "m4");
        grads.set("output.W", mmTN(s.mixed, dro));
        grads.set("output.b", tf.sum(dro, 0));
        const dmixed = back(v("output.W"), dro); // [n, H]
        const dm3 = tf.reshape(dmixed, [n, 1, H]);
        const dE = tf.reshape(tf.mul(tf.reshape(s.p, [n, K, 1]), dm3), [n, K * H]);
        const dp = tf.sum(tf.mul(tf.reshape(s.e, [n, K, H]), dm3), 2); // [n, K]
        const dze = tf.mul(mask(dE, "m3"), _geluGrad(s.ze, s.ce));
        grads.set("experts.U", mmHc(dze));
        grads.set("experts.u", tf.sum(dze, 0));
        pushBack(v("experts.U"), dze);
        const ds2 = tf.mul(s.p, tf.sub(dp, tf.sum(tf.mul(dp, s.p), 1, true)));
        grads.set("router.R2", mmTN(s.yr, ds2));
        grads.set("router.c2", tf.sum(ds2, 0));
        const ds1 = tf.mul(back(v("router.R2"), ds2), _geluGrad(s.s1, s.cs1));
        grads.set("router.R1", mmHc(ds1));
        grads.set("router.c1", tf.sum(ds1, 0));
        pushBack(v("router.R1"), ds1);
      }
      if (hasGate(variant)) {
        const dw = tf.sum(tf.mul(dx, tf.sub(s.t, s.g)), 1, true);
        const dz2 = tf.mul(dw, tf.mul(s.w, tf.sub(1, s.w))); // [n, 1]
        grads.set("gate.W2", mmTN(s.y1, dz2));
        grads.set("gate.b2", tf.sum(dz2, 0));
        const dy1 = tf.mul(dz2, tf.reshape(v("gate.W2"), [1, H]));
        const dz1 = tf.mul(mask(dy1, "m2"), _geluGrad(s.z1, s.c1));
        grads.set("gate.W1", mmHc(dz1));
        grads.set("gate.b1", tf.sum(dz1, 0));
        pushBack(v("gate.W1"), dz1);
      }
      const dsum = dhcT.length === 1 ? dhcT[0] : tf.addN(dhcT);
      const dhc = native ? dsum : tT(dsum); // [n, 2P]
      const daT = tf.mul(mask(tf.slice(dhc, [0, 0], [n, P]), "m0"), _geluGrad(s.aT, s.cT));
      grads.set("text.W", mmTN(s.t, daT));
      grads.set("text.b", tf.sum(daT, 0));
      const daD = tf.mul(mask(tf.slice(dhc, [0, P], [n, P]), "m1"), _geluGrad(s.aD, s.cD));
      grads.set("image.W", mmTN(s.g, daD));
      grads.set("image.b", tf.sum(daD, 0));
      const names = head.names();
      const vars = head.variables;
      return vars.map((vv) => {
        const name = names.find((nm) => head.get(nm) === vv)!;
        return name === "logit_scale" ? tf.zerosLike(vv) : grads.get(name)!;
      });
    });
    this.dispose();
    return out;
  }

  /** Frees the activations kept by the last forward pass (inputs `t`, `g` excepted). */
  dispose(): void {
    if (!this.#saved) return;
    for (const [key, t] of Object.entries(this.#saved)) {
      if (key !== "t" && key !== "g") t.dispose();
    }
    this.#saved = null;
  }
}
