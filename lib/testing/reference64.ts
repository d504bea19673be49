/**
 * A float64, plain-JavaScript forward pass of the ADaFuSE head written straight from the equations
 * of docs/method.md on a PyTorch-layout `state_dict` (`y = W x + b`, `W` as `[out, in]`),
 * evaluation mode (no dropout). For tests only: it checks the tfjs model, its gradients (by finite
 * differences) and the checkpoint layout.
 *
 * @module
 */
import type { FusionVariant } from "../model/config.ts";

/** A PyTorch-layout tensor with float values. */
export interface Ref64Tensor {
  /** PyTorch shape. */
  shape: number[];
  /** Row-major values. */
  data: ArrayLike<number>;
}

/** Result of {@linkcode referenceForward}: `B` rows each. */
export interface Ref64Output {
  /** `B × d` fused queries. */
  q: Float64Array;
  /** `B` text weights. */
  w: Float64Array;
  /** `B × K` router probabilities (empty for `gate_only` and `proj_only`). */
  p: Float64Array;
}

/** erf to ~1e-15: Maclaurin series for |x| < 2.5, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated backwards
  let f = ax;
  for (let n = 120; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** Exact GELU in float64: `½x(1 + erf(x/√2))`. */
export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x * Math.SQRT1_2));
}

function _linear(sd: Record<string, Ref64Tensor>, mod: string, x: Float64Array): Float64Array {
  const w = sd[`${mod}.weight`], b = sd[`${mod}.bias`];
  if (!w || !b) throw new Error(`reference64: state_dict lacks ${mod}.weight or ${mod}.bias`);
  const [fout, fin] = w.shape;
  if (x.length !== fin) {
    throw new Error(`reference64: ${mod} expects ${fin} inputs, got ${x.length}`);
  }
  const y = new Float64Array(fout);
  for (let o = 0; o < fout; o++) {
    let s = b.data[o];
    for (let i = 0; i < fin; i++) s += w.data[o * fin + i] * x[i];
    y[o] = s;
  }
  return y;
}

function _gelu(v: Float64Array): Float64Array {
  return v.map(gelu64);
}

/**
 * Evaluation-mode forward of `rows` input pairs.
 *
 * @param sd reference state_dict (PyTorch names and layout).
 * @param variant which blocks exist (`full`, `gate_only`, `moe_only`, `proj_only`): the gate
 *   for `full` and `gate_only`; router, experts and `output_layer` `[d, H]` for `full` and
 *   `moe_only`; `output_layer` `[d, 2P]` applied to `h` for `proj_only`.
 * @param t text embeddings, `rows × d`.
 * @param g generated-image embeddings, `rows × d`.
 * @param fixedTextWeight the text weight `w` of the variants without a gate (`moe_only`,
 *   `proj_only`); ignored by the others.
 */
export function referenceForward(
  sd: Record<string, Ref64Tensor>,
  variant: FusionVariant,
  t: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  fixedTextWeight = 0.5,
): Ref64Output {
  const d = sd["text_projection_layer.weight"].shape[1];
  const gated = variant === "full" || variant === "gate_only";
  const moe = variant === "full" || variant === "moe_only";
  let k = 0;
  while (sd[`experts.${k}.0.weight`]) k++;
  if (!moe) k = 0;
  const out: Ref64Output = {
    q: new Float64Array(rows * d),
    w: new Float64Array(rows),
    p: new Float64Array(rows * k),
  };
  for (let b = 0; b < rows; b++) {
    const tb = Float64Array.from({ length: d }, (_, i) => t[b * d + i]);
    const gb = Float64Array.from({ length: d }, (_, i) => g[b * d + i]);
    const hT = _gelu(_linear(sd, "text_projection_layer", tb));
    const hD = _gelu(_linear(sd, "image_projection_layer", gb));
    const h = new Float64Array(hT.length + hD.length);
    h.set(hT);
    h.set(hD, hT.length);
    let w = fixedTextWeight;
    if (gated) {
      const a = _gelu(_linear(sd, "dynamic_scalar.0", h));
      const z = _linear(sd, "dynamic_scalar.3", a)[0];
      w = 1 / (1 + Math.exp(-z));
    }
    const x = new Float64Array(d);
    for (let i = 0; i < d; i++) x[i] = w * tb[i] + (1 - w) * gb[i];
    if (variant === "proj_only") {
      const r = _linear(sd, "output_layer", h);
      for (let i = 0; i < d; i++) x[i] += r[i];
    } else if (moe) {
      const logits = _linear(sd, "moe_router.2", _gelu(_linear(sd, "moe_router.0", h)));
      const m = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - m));
      const z = e.reduce((s, v) => s + v, 0);
      const p = e.map((v) => v / z);
      out.p.set(p, b * k);
      let mix: Float64Array | undefined;
      for (let j = 0; j < k; j++) {
        const ej = _gelu(_linear(sd, `experts.${j}.0`, h));
        if (!mix) mix = new Float64Array(ej.length);
        for (let i = 0; i < ej.length; i++) mix[i] += p[j] * ej[i];
      }
      const r = _linear(sd, "output_layer", mix!);
      for (let i = 0; i < d; i++) x[i] += r[i];
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += x[i] * x[i];
    n = Math.max(Math.sqrt(n), 1e-12);
    for (let i = 0; i < d; i++) out.q[b * d + i] = x[i] / n;
    out.w[b] = w;
  }
  return out;
}
