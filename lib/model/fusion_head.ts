/**
 * Long because FusionHead is one class whose parts all depend on the internal layout below.
 *
 * The ADaFuSE fusion head (docs/method.md, the head) in TensorFlow.js: parameters, PyTorch-like
 * initialisation, forward pass, and conversion to and from the PyTorch reference's `state_dict`.
 *
 * ```
 * h_T = Drop(GELU(W_T t + b_T))     h_D = Drop(GELU(W_D g + b_D))     h = [h_T ; h_D]
 * w   = σ(W_2 · Drop(GELU(W_1 h + b_1)) + b_2)          (the weight of the TEXT)
 * p   = softmax(R_2 · GELU(R_1 h + c_1) + c_2)          (router, no dropout)
 * E_k = Drop(GELU(U_k h + u_k))     r = Drop(W_o Σ_k p_k E_k + b_o)
 * q   = normalize(w·t + (1−w)·g + r)
 * ```
 *
 * Ablations (config.ts `FusionVariant`): `gate_only` has `r = 0` (no router, experts or output
 * layer); `moe_only` has no gate and `w = fixedTextWeight` (default 0.5); `proj_only` has
 * neither gate nor router nor experts: `r = Drop(W_o h + b_o)` straight from `h`, and
 * `w = fixedTextWeight` (default 0.5).
 *
 * Internal layout (for speed on the wasm backend): every weight is stored `[in, out]`, so the
 * forward pass is `x·W` with no transpose flags, and the K experts are one `[2P, K·H]` matrix
 * (one product, then a `[B, K, H]` view mixed with the router's `p`). The reference names and
 * PyTorch's `[out, in]` layout are used only by {@linkcode FusionHead.toStateDict} and
 * {@linkcode FusionHead.loadStateDict} (and so by checkpoints).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "./ops.ts";
import { HeadMath } from "./head_math.ts";
import { nativeBlas } from "../runtime/native_kernels.ts";
import { Rng } from "../runtime/rng.ts";
import {
  fixedTextWeightOf,
  type FusionConfig,
  fusionConfig,
  hasExperts,
  hasGate,
  stateDictSpec,
} from "./config.ts";

/** A tensor of a reference `state_dict`: PyTorch shape and row-major fp32 values. */
export interface StateTensor {
  /** PyTorch shape (`[out, in]` for Linear weights, `[]` for `logit_scale`). */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** A reference `state_dict`: key → tensor. */
export type StateDict = Record<string, StateTensor>;

/** Options of {@linkcode FusionHead.apply}. */
export interface ApplyOptions {
  /** Dropout is applied only when true. */
  training: boolean;
  /**
   * Seed of the dropout masks (training only): the same seed gives the same masks; each of the
   * five dropout sites derives its own stream from it. Without a seed the masks are random.
   */
  seed?: number;
  /**
   * Explicit dropout multipliers per site (row-major `[B, width]`, `null` for no dropout at a
   * site), used instead of `tf.dropout` when `training`: the masks of lib/model/head_math.ts's
   * `dropoutMultipliers`, so that autodiff of this forward pass checks that kernel's gradients.
   */
  masks?: (Float32Array | null)[];
}

/** What {@linkcode FusionHead.apply} returns. */
export type FusionOutput = {
  /** Fused, unit-length query `[B, d]`. */
  q: tf.Tensor2D;
  /**
   * Weight of the text `[B, 1]` (the image weight is `1 − w`); for `moe_only` and `proj_only`
   * the config's `fixedTextWeight` (default 0.5) in every row.
   */
  w: tf.Tensor2D;
  /** Router probabilities `[B, K]`; `[B, 0]` for `gate_only` and `proj_only`. */
  p: tf.Tensor2D;
};

/** What {@linkcode FusionHead.fuse} returns: row-major arrays of `count` rows. */
export interface FusedArrays {
  /** Fused queries, `count × d`. */
  q: Float32Array;
  /** Text weights, `count`. */
  w: Float32Array;
  /** Router probabilities, `count × K` (empty for `gate_only` and `proj_only`). */
  p: Float32Array;
}

const _SQRT1_2 = Math.SQRT1_2;
const _INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU, `x·Φ(x) = ½x(1 + erf(x/√2))` (PyTorch's `nn.GELU()` default, not the tanh
 * approximation), with the analytic gradient `Φ(x) + x·φ(x)` so the backward pass keeps only
 * `x`.
 */
export const geluErf: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (x: any, save: any) => {
    save([x]);
    const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, _SQRT1_2))));
    return {
      value: tf.mul(x, cdf),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx] = saved;
        const phi = tf.mul(_INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(sx))));
        const c = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(sx, _SQRT1_2))));
        return [tf.mul(dy, tf.add(c, tf.mul(sx, phi)))];
      },
    };
  },
) as unknown as (x: tf.Tensor) => tf.Tensor;

/** Internal parameter names, their layout, and the state_dict keys they come from. */
const _INTERNAL: Record<string, string> = {
  "text.W": "text_projection_layer.weight [d,P]",
  "text.b": "text_projection_layer.bias [P]",
  "image.W": "image_projection_layer.weight [d,P]",
  "image.b": "image_projection_layer.bias [P]",
  "gate.W1": "dynamic_scalar.0.weight [2P,H]",
  "gate.b1": "dynamic_scalar.0.bias [H]",
  "gate.W2": "dynamic_scalar.3.weight [H,1]",
  "gate.b2": "dynamic_scalar.3.bias [1]",
  "experts.U": "experts.{k}.0.weight, side by side [2P,K·H]",
  "experts.u": "experts.{k}.0.bias, side by side [K·H]",
  "router.R1": "moe_router.0.weight [2P,H/4]",
  "router.c1": "moe_router.0.bias [H/4]",
  "router.R2": "moe_router.2.weight [H/4,K]",
  "router.c2": "moe_router.2.bias [K]",
  "output.W": "output_layer.weight [H,d] ([2P,d] for proj_only)",
  "output.b": "output_layer.bias [d]",
  "logit_scale": "logit_scale [] (log of the scale)",
};

/** Linear layers: internal weight/bias names ↔ state_dict module name (experts aside). */
const _LINEARS: [string, string, string][] = [
  ["text.W", "text.b", "text_projection_layer"],
  ["image.W", "image.b", "image_projection_layer"],
  ["gate.W1", "gate.b1", "dynamic_scalar.0"],
  ["gate.W2", "gate.b2", "dynamic_scalar.3"],
  ["router.R1", "router.c1", "moe_router.0"],
  ["router.R2", "router.c2", "moe_router.2"],
  ["output.W", "output.b", "output_layer"],
];

let _instances = 0;

/** `[rows, cols]` row-major → `[cols, rows]` row-major. */
function _transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[o + c];
  }
  return out;
}

/**
 * The ADaFuSE fusion head. Create with {@linkcode FusionHead.create} (fresh, seeded) or
 * {@linkcode FusionHead.fromStateDict}; free with {@linkcode FusionHead.dispose}.
 */
export class FusionHead {
  /** The complete config (sizes, dropout, variant). */
  readonly config: FusionConfig;
  #vars = new Map<string, tf.Variable>();
  #id = ++_instances;

  private constructor(config: FusionConfig) {
    this.config = config;
  }

  /**
   * A new head initialised as PyTorch's `nn.Linear` default (weights and biases uniform in
   * `±1/sqrt(fan_in)`), drawn from `new Rng(seed)` in {@linkcode stateDictSpec} order, each
   * weight in PyTorch's `[out, in]` order; `logit_scale = log(config.logitScaleInit)`.
   */
  static create(config: Partial<FusionConfig> = {}, seed = 0): FusionHead {
    const c = fusionConfig(config);
    const rng = new Rng(seed);
    const sd: StateDict = {};
    for (const s of stateDictSpec(c)) {
      const data = new Float32Array(s.count);
      if (s.name === "logit_scale") {
        data[0] = Math.log(c.logitScaleInit);
      } else {
        const b = 1 / Math.sqrt(s.fanIn);
        for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * b;
      }
      sd[s.name] = { shape: s.shape, data };
    }
    return FusionHead.fromStateDict(sd, c);
  }

  /**
   * A head holding the values of a reference `state_dict` (PyTorch layout). Every expected key
   * must be present with its shape; unexpected keys are an error unless `strict` is false.
   *
   * @param file named in error messages (e.g. the checkpoint path).
   */
  static fromStateDict(
    sd: StateDict,
    config: Partial<FusionConfig> = {},
    opts: { strict?: boolean; file?: string } = {},
  ): FusionHead {
    const head = new FusionHead(fusionConfig(config));
    head.loadStateDict(sd, opts);
    return head;
  }

  /** Trainable variables, for the optimizer (`logit_scale` only when `learnableScale`). */
  get variables(): tf.Variable[] {
    return [...this.#vars.values()].filter((v) => v.trainable);
  }

  /** Internal parameter names present in this variant (see {@linkcode FusionHead.get}). */
  names(): string[] {
    return [...this.#vars.keys()];
  }

  /**
   * An internal parameter, in the `[in, out]` layout: `text.W` `[d,P]`, `text.b`, `image.W`,
   * `image.b`, `gate.W1` `[2P,H]`, `gate.b1`, `gate.W2` `[H,1]`, `gate.b2`, `experts.U`
   * `[2P,K·H]` (expert k in columns `k·H … (k+1)·H−1`), `experts.u` `[K·H]`, `router.R1`
   * `[2P,H/4]`, `router.c1`, `router.R2` `[H/4,K]`, `router.c2`, `output.W` `[H,d]` (`[2P,d]`
   * for `proj_only`), `output.b`, `logit_scale` `[]` (log of the scale).
   */
  get(name: string): tf.Variable {
    const v = this.#vars.get(name);
    if (!v) {
      const known = this.names().join(", ");
      const why = name in _INTERNAL
        ? `the '${this.config.variant}' variant has no such parameter`
        : "no such parameter";
      throw new Error(`FusionHead.get('${name}'): ${why}; it has: ${known}`);
    }
    return v;
  }

  /** The InfoNCE scale `s = exp(logit_scale)` as a scalar (differentiable when learnable). */
  scale(): tf.Scalar {
    return tf.exp(this.get("logit_scale")) as tf.Scalar;
  }

  /**
   * Forward pass. Dropout only when `opts.training`, seeded by `opts.seed`.
   *
   * @param t text embeddings `[B, d]`.
   * @param g generated-image embeddings `[B, d]`.
   */
  apply(t: tf.Tensor2D, g: tf.Tensor2D, opts: ApplyOptions): FusionOutput {
    const { dim: d, experts: k, hidden: h, dropout, variant } = this.config;
    if (t.rank !== 2 || t.shape[1] !== d) {
      throw new Error(`FusionHead.apply: text tensor t has shape [${t.shape}], expected [B, ${d}]`);
    }
    if (g.rank !== 2 || g.shape[1] !== d || g.shape[0] !== t.shape[0]) {
      throw new Error(
        `FusionHead.apply: image tensor g has shape [${g.shape}], expected [${t.shape[0]}, ${d}] ` +
          "(same rows as t)",
      );
    }
    const b = t.shape[0];
    const rate = opts.training ? dropout : 0;
    const drop = <T extends tf.Tensor>(x: T, site: number): T =>
      rate > 0 && opts.masks
        ? (opts.masks[site] ? tf.mul(x, tf.tensor(opts.masks[site]!, x.shape)) as T : x)
        : rate > 0
        ? tf.dropout(
          x,
          rate,
          undefined,
          opts.seed === undefined ? undefined : `${opts.seed}:${site}`,
        ) as T
        : x;
    const lin = (x: tf.Tensor2D, w: string, bias: string): tf.Tensor2D =>
      tf.add(matMul(x, this.get(w) as tf.Tensor2D), this.get(bias));
    const gelu = (x: tf.Tensor2D) => geluErf(x) as tf.Tensor2D;
    return tf.tidy(() => {
      const hT = drop(gelu(lin(t, "text.W", "text.b")), 0);
      const hD = drop(gelu(lin(g, "image.W", "image.b")), 1);
      const hc = tf.concat([hT, hD], 1);
      const w: tf.Tensor2D = hasGate(variant)
        ? tf.sigmoid(lin(drop(gelu(lin(hc, "gate.W1", "gate.b1")), 2), "gate.W2", "gate.b2"))
        : tf.fill([b, 1], fixedTextWeightOf(this.config)) as tf.Tensor2D;
      let x = tf.add(tf.mul(w, t), tf.mul(tf.sub(1, w), g)) as tf.Tensor2D;
      let p: tf.Tensor2D;
      if (!hasExperts(variant)) {
        p = tf.zeros([b, 0]) as tf.Tensor2D;
        if (variant === "proj_only") x = tf.add(x, drop(lin(hc, "output.W", "output.b"), 4));
      } else {
        p = tf.softmax(lin(gelu(lin(hc, "router.R1", "router.c1")), "router.R2", "router.c2"));
        const e = drop(gelu(lin(hc, "experts.U", "experts.u")), 3);
        const mixed = tf.sum(tf.mul(tf.reshape(e, [b, k, h]), tf.reshape(p, [b, k, 1])), 1);
        const r = drop(lin(mixed as tf.Tensor2D, "output.W", "output.b"), 4);
        x = tf.add(x, r);
      }
      const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12);
      return { q: tf.div(x, norm) as tf.Tensor2D, w, p };
    });
  }

  /**
   * Evaluation-mode fusion of `count` rows held in plain arrays, a chunk of rows at a time, so a
   * whole benchmark fits in memory. On the CPU backends with a native BLAS it runs the head's
   * CPU math (lib/model/head_math.ts, 1,024 rows a chunk) on this head's weights; on WebGPU or
   * without native products, {@linkcode FusionHead.apply}, `chunk` rows a `tf.tidy`.
   *
   * @param t text embeddings, `count × d` row-major.
   * @param g generated-image embeddings, `count × d` row-major.
   */
  async fuse(t: Float32Array, g: Float32Array, count: number, chunk = 4096): Promise<FusedArrays> {
    const { dim: d, experts, variant } = this.config;
    const k = hasExperts(variant) ? experts : 0;
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new Error(`FusionHead.fuse: count must be an integer ≥ 0, got ${count}`);
    }
    for (const [name, a] of [["t", t], ["g", g]] as const) {
      if (a.length !== count * d) {
        throw new Error(
          `FusionHead.fuse: ${name} has ${a.length} values, expected count × d = ${count} × ${d}`,
        );
      }
    }
    const out: FusedArrays = {
      q: new Float32Array(count * d),
      w: new Float32Array(count),
      p: new Float32Array(count * k),
    };
    // On the CPU backends with a native BLAS: the head's one CPU definition (head_math.ts),
    // 1,024 rows at a time; elsewhere (WebGPU, or ADAFUSE_BLAS=none) this head's tfjs forward.
    const blas = ["wasm", "cpu", "tensorflow"].includes(tf.getBackend()) ? nativeBlas() : null;
    if (blas && count > 0) {
      const math = new HeadMath(this.config, blas);
      const wts = new Float32Array(math.size);
      for (const p of math.params) {
        wts.set((await this.get(p.name).data()) as Float32Array, p.offset);
      }
      const rows = Math.min(1024, count);
      for (let s = 0; s < count; s += rows) {
        const n = Math.min(rows, count - s);
        const r = math.forward(wts, t.subarray(s * d), g.subarray(s * d), n, null, false);
        out.q.set(r.q, s * d);
        out.w.set(r.w, s);
        out.p.set(r.p, s * k);
      }
      return out;
    }
    for (let s = 0; s < count; s += chunk) {
      const n = Math.min(chunk, count - s);
      const r = tf.tidy(() => {
        const tt = tf.tensor2d(t.subarray(s * d, (s + n) * d), [n, d]);
        const gg = tf.tensor2d(g.subarray(s * d, (s + n) * d), [n, d]);
        return this.apply(tt, gg, { training: false });
      });
      try {
        const [q, w, p] = await Promise.all([r.q.data(), r.w.data(), r.p.data()]);
        out.q.set(q as Float32Array, s * d);
        out.w.set(w as Float32Array, s);
        out.p.set(p as Float32Array, s * k);
      } finally {
        tf.dispose([r.q, r.w, r.p]);
      }
    }
    return out;
  }

  /**
   * Evaluation-mode text weight `w` alone for `count` rows: the projections and the gate only,
   * about a fifth of the work of {@linkcode FusionHead.fuse} (used for the gate figure). For
   * the variants without a gate, the config's `fixedTextWeight` (default 0.5) in every row.
   */
  async gate(t: Float32Array, g: Float32Array, count: number, chunk = 8192): Promise<Float32Array> {
    const { dim: d, variant } = this.config;
    if (t.length !== count * d || g.length !== count * d) {
      throw new Error(
        `FusionHead.gate: t and g must hold count × d = ${count} × ${d} values, ` +
          `got ${t.length} and ${g.length}`,
      );
    }
    const out = new Float32Array(count);
    if (!hasGate(variant)) return out.fill(fixedTextWeightOf(this.config));
    const lin = (x: tf.Tensor2D, w: string, bias: string): tf.Tensor2D =>
      tf.add(matMul(x, this.get(w) as tf.Tensor2D), this.get(bias));
    const gelu = (x: tf.Tensor2D) => geluErf(x) as tf.Tensor2D;
    for (let s = 0; s < count; s += chunk) {
      const n = Math.min(chunk, count - s);
      const w = tf.tidy(() => {
        const tt = tf.tensor2d(t.subarray(s * d, (s + n) * d), [n, d]);
        const gg = tf.tensor2d(g.subarray(s * d, (s + n) * d), [n, d]);
        const hc = tf.concat([
          gelu(lin(tt, "text.W", "text.b")),
          gelu(lin(gg, "image.W", "image.b")),
        ], 1);
        return tf.sigmoid(lin(gelu(lin(hc, "gate.W1", "gate.b1")), "gate.W2", "gate.b2"));
      });
      out.set(await w.data() as Float32Array, s);
      w.dispose();
    }
    return out;
  }

  /** The parameters as a reference `state_dict` (PyTorch names and `[out, in]` layout). */
  async toStateDict(): Promise<StateDict> {
    const c = this.config;
    const vals = new Map<string, Float32Array>();
    for (const [name, v] of this.#vars) vals.set(name, (await v.data()) as Float32Array);
    const sd: StateDict = {};
    for (const [wn, bn, mod] of _LINEARS) {
      if (!vals.has(wn)) continue;
      const [fin, fout] = this.#vars.get(wn)!.shape;
      sd[`${mod}.weight`] = { shape: [fout, fin], data: _transpose(vals.get(wn)!, fin, fout) };
      sd[`${mod}.bias`] = { shape: [fout], data: vals.get(bn)!.slice() };
    }
    if (vals.has("experts.U")) {
      const p2 = 2 * c.proj, h = c.hidden, kh = c.experts * h;
      const u = vals.get("experts.U")!, ub = vals.get("experts.u")!;
      for (let e = 0; e < c.experts; e++) {
        const w = new Float32Array(h * p2);
        for (let i = 0; i < p2; i++) {
          for (let j = 0; j < h; j++) w[j * p2 + i] = u[i * kh + e * h + j];
        }
        sd[`experts.${e}.0.weight`] = { shape: [h, p2], data: w };
        sd[`experts.${e}.0.bias`] = { shape: [h], data: ub.slice(e * h, (e + 1) * h) };
      }
    }
    sd["logit_scale"] = { shape: [], data: vals.get("logit_scale")!.slice() };
    return sd;
  }

  /**
   * Replaces the parameters with a reference `state_dict`'s values (PyTorch layout; the caller
   * decodes fp16/bf16 to fp32 first). Every key of {@linkcode stateDictSpec} for this config
   * must be present with its exact shape: the error names the key, the expected and found
   * shapes, and `opts.file`. Keys the model does not have are an error when `strict` (the
   * default) and ignored otherwise. Variables are created on the first call and assigned after.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean; file?: string } = {}): void {
    const c = this.config;
    const where = opts.file ?? "state_dict";
    const spec = stateDictSpec(c);
    const missing: string[] = [];
    for (const s of spec) {
      const t = sd[s.name];
      if (!t) {
        missing.push(s.name);
        continue;
      }
      const n = t.shape.reduce((a, x) => a * x, 1);
      if (t.shape.length !== s.shape.length || t.shape.some((x, i) => x !== s.shape[i])) {
        throw new Error(
          `${where}: tensor '${s.name}' has shape [${t.shape}], expected [${s.shape}] for config ` +
            `dim=${c.dim} proj=${c.proj} hidden=${c.hidden} experts=${c.experts} ` +
            `variant=${c.variant}; pass the config the checkpoint was trained with`,
        );
      }
      if (t.data.length !== n) {
        throw new Error(
          `${where}: tensor '${s.name}' has ${t.data.length} values for shape [${t.shape}]`,
        );
      }
    }
    if (missing.length) {
      throw new Error(
        `${where}: missing tensor(s) ${missing.map((m) => `'${m}'`).join(", ")} for a ` +
          `'${c.variant}' head with ${c.experts} experts; is it the right checkpoint and variant?`,
      );
    }
    const known = new Set(spec.map((s) => s.name));
    const unexpected = Object.keys(sd).filter((k) => !known.has(k));
    if (unexpected.length && opts.strict !== false) {
      throw new Error(
        `${where}: unexpected tensor(s) ${unexpected.map((m) => `'${m}'`).join(", ")} for a ` +
          `'${c.variant}' head with ${c.experts} experts; pass the matching config (variant, ` +
          "experts) or load with strict: false to ignore them",
      );
    }
    const vals = new Map<string, [Float32Array, number[]]>();
    for (const [wn, bn, mod] of _LINEARS) {
      const w = sd[`${mod}.weight`];
      if (!known.has(`${mod}.weight`)) continue;
      const [fout, fin] = w.shape;
      vals.set(wn, [_transpose(w.data, fout, fin), [fin, fout]]);
      vals.set(bn, [sd[`${mod}.bias`].data, [fout]]);
    }
    if (hasExperts(c.variant)) {
      const p2 = 2 * c.proj, h = c.hidden, kh = c.experts * h;
      const u = new Float32Array(p2 * kh), ub = new Float32Array(kh);
      for (let e = 0; e < c.experts; e++) {
        const w = sd[`experts.${e}.0.weight`].data;
        for (let j = 0; j < h; j++) {
          for (let i = 0; i < p2; i++) u[i * kh + e * h + j] = w[j * p2 + i];
        }
        ub.set(sd[`experts.${e}.0.bias`].data, e * h);
      }
      vals.set("experts.U", [u, [p2, kh]]);
      vals.set("experts.u", [ub, [kh]]);
    }
    vals.set("logit_scale", [sd["logit_scale"].data, []]);
    for (const [name, [data, shape]] of vals) {
      const value = tf.tensor(data, shape, "float32");
      const old = this.#vars.get(name);
      if (old) {
        old.assign(value);
        value.dispose();
      } else {
        const trainable = name !== "logit_scale" || c.learnableScale;
        this.#vars.set(name, tf.variable(value, trainable, `fusion${this.#id}/${name}`));
        value.dispose();
      }
    }
  }

  /** Frees every variable; the head cannot be used afterwards. */
  dispose(): void {
    for (const v of this.#vars.values()) v.dispose();
    this.#vars.clear();
  }
}
