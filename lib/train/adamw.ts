/**
 * AdamW with decoupled weight decay, as `torch.optim.AdamW` computes it (tfjs has none).
 *
 * One update with learning rate `lr` at step `t` (1-based):
 *
 * ```
 * p ← p·(1 − lr·wd)                       decoupled decay, first (2-D and larger only)
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
 * ```
 *
 * Which parameters decay follows the reference's optimizer factory: biases and every 1-D tensor
 * (and the 0-D `logit_scale`) get weight decay 0, every weight matrix gets `weightDecay`
 * ({@linkcode decaysWeight}). In this repo's internal layout every bias is 1-D, so the rank alone
 * decides; `noDecay` can exempt more variables by name.
 *
 * The state (`m`, `v`, step count) exports to and imports from Float32Arrays so that a stopped
 * run resumes exactly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Hyper-parameters of {@linkcode AdamW}; the defaults are PyTorch's with the recipe's decay. */
export interface AdamWOptions {
  /** First-moment decay β1 (default 0.9). */
  beta1: number;
  /** Second-moment decay β2 (default 0.999). */
  beta2: number;
  /** Term added to the bias-corrected √v (default 1e-8). */
  eps: number;
  /** Decoupled weight decay (default 0.05, the recipe's; PyTorch's own default is 0.01). */
  weightDecay: number;
  /**
   * Names of variables (`tf.Variable.name`) exempt from weight decay on top of the rule of
   * {@linkcode decaysWeight} (biases and tensors of rank ≤ 1 never decay). Empty by default. A
   * name that matches no variable is an error.
   */
  noDecay: string[];
}

/**
 * Whether a parameter of this shape gets weight decay, as the reference's optimizer factory
 * decides: tensors of rank ≥ 2 (weight matrices) do; biases, every other 1-D tensor and scalars
 * (the logit scale) get weight decay 0. Shapes are this repo's internal ones, where every bias is
 * 1-D (the experts' biases stack into one `[K·H]` vector).
 *
 * @param shape the parameter's shape.
 */
export function decaysWeight(shape: readonly number[]): boolean {
  return shape.length >= 2;
}

/** The recipe's AdamW hyper-parameters. */
export const defaultAdamWOptions: AdamWOptions = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.05,
  noDecay: [],
};

/** The serialisable state of {@linkcode AdamW}: one `m` and `v` per variable, in order. */
export interface AdamWState {
  /** Updates done so far (the `t` of the bias correction). */
  step: number;
  /** First moments, one per variable, flattened. */
  m: Float32Array[];
  /** Second moments, one per variable, flattened. */
  v: Float32Array[];
}

/** AdamW over a fixed list of variables; see the module doc for the update. */
export class AdamW {
  /** The variables it updates, in the order of {@linkcode AdamW.step}'s gradients. */
  readonly params: tf.Variable[];
  /** The hyper-parameters in use. */
  readonly options: AdamWOptions;
  #m: tf.Variable[];
  #v: tf.Variable[];
  #decay: boolean[];
  #step = 0;

  /**
   * An optimizer over `params`, with zeroed moments.
   *
   * @param params the variables to update (all must be float32).
   * @param options overrides of {@linkcode defaultAdamWOptions}.
   */
  constructor(params: tf.Variable[], options: Partial<AdamWOptions> = {}) {
    this.options = { ...defaultAdamWOptions, ...options };
    const o = this.options;
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
      throw new Error(`AdamW: betas must lie in [0, 1), got (${o.beta1}, ${o.beta2})`);
    }
    if (!(o.eps >= 0) || !(o.weightDecay >= 0)) {
      throw new Error(`AdamW: eps and weightDecay must be >= 0, got ${o.eps}, ${o.weightDecay}`);
    }
    const names = new Set(params.map((p) => p.name));
    for (const n of o.noDecay) {
      if (!names.has(n)) {
        throw new Error(
          `AdamW: noDecay names '${n}', which is not one of the variables (${
            [...names].join(", ")
          })`,
        );
      }
    }
    this.params = params;
    this.#decay = params.map((p) => decaysWeight(p.shape) && !o.noDecay.includes(p.name));
    // tidy frees the zeros; the variables keep their own reference to the data
    this.#m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.#v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
  }

  /** Updates done so far. */
  get stepCount(): number {
    return this.#step;
  }

  /**
   * One update with learning rate `lr`; `grads[i]` is the gradient of `params[i]` (same
   * shape). The gradients are not disposed.
   */
  step(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new Error(
        `AdamW.step: got ${grads.length} gradients for ${this.params.length} variables`,
      );
    }
    if (!Number.isFinite(lr)) throw new Error(`AdamW.step: lr must be finite, got ${lr}`);
    const { beta1, beta2, eps, weightDecay } = this.options;
    const t = ++this.#step;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(beta2, t);
    tf.tidy(() => {
      const b1 = tf.scalar(beta1), c1 = tf.scalar(1 - beta1);
      const b2 = tf.scalar(beta2), c2 = tf.scalar(1 - beta2);
      const decay = tf.scalar(1 - lr * weightDecay);
      const stepSize = tf.scalar(lr / bc1);
      const invSqrtBc2 = tf.scalar(1 / Math.sqrt(bc2));
      const epsT = tf.scalar(eps);
      for (let i = 0; i < this.params.length; i++) {
        const p = this.params[i], g = grads[i];
        if (!tf.util.arraysEqual(p.shape, g.shape)) {
          throw new Error(
            `AdamW.step: gradient ${i} has shape [${g.shape}] but variable '${p.name}' has [${p.shape}]`,
          );
        }
        const m = tf.add(tf.mul(this.#m[i], b1), tf.mul(g, c1));
        const v = tf.add(tf.mul(this.#v[i], b2), tf.mul(tf.square(g), c2));
        const p0 = this.#decay[i] ? tf.mul(p, decay) : p;
        const denom = tf.add(tf.mul(tf.sqrt(v), invSqrtBc2), epsT);
        p.assign(tf.sub(p0, tf.mul(stepSize, tf.div(m, denom))));
        this.#m[i].assign(m);
        this.#v[i].assign(v);
      }
    });
  }

  /** Copies the state out (for a checkpoint). */
  async exportState(): Promise<AdamWState> {
    const m = await Promise.all(this.#m.map((t) => t.data() as Promise<Float32Array>));
    const v = await Promise.all(this.#v.map((t) => t.data() as Promise<Float32Array>));
    return { step: this.#step, m: m.map((a) => a.slice()), v: v.map((a) => a.slice()) };
  }

  /** Restores a state written by {@linkcode AdamW.exportState} for the same variables. */
  importState(state: AdamWState): void {
    const n = this.params.length;
    if (state.m.length !== n || state.v.length !== n) {
      throw new Error(
        `AdamW.importState: state holds ${state.m.length}/${state.v.length} moments, the optimizer ` +
          `${n} variables; was it saved for another model config?`,
      );
    }
    if (!(Number.isInteger(state.step) && state.step >= 0)) {
      throw new Error(`AdamW.importState: step must be a non-negative integer, got ${state.step}`);
    }
    for (let i = 0; i < n; i++) {
      const size = this.params[i].size;
      if (state.m[i].length !== size || state.v[i].length !== size) {
        throw new Error(
          `AdamW.importState: moment ${i} has ${state.m[i].length} values, variable ` +
            `'${this.params[i].name}' ${size}; was it saved for another model config?`,
        );
      }
    }
    for (let i = 0; i < n; i++) {
      const shape = this.params[i].shape;
      tf.tidy(() => {
        this.#m[i].assign(tf.tensor(state.m[i], shape, "float32"));
        this.#v[i].assign(tf.tensor(state.v[i], shape, "float32"));
      });
    }
    this.#step = state.step;
  }

  /** Frees the moment tensors (the parameters stay). */
  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
    this.#m = [];
    this.#v = [];
  }
}
