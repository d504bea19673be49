/**
 * A tiny training used by `notebooks/00_setup.ipynb` and the tests to show that the chosen
 * backend trains: a dense layer fitted to a noisy linear map by full-batch gradient descent.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matMul } from "./ops.ts";
import { Rng } from "../runtime/rng.ts";

/** Settings of {@linkcode fitDenseDemo}. */
export interface DenseDemoConfig {
  /** Seed of the data and the initial weights. */
  seed: number;
  /** Gradient steps. */
  steps: number;
  /** Learning rate (plain gradient descent). */
  lr: number;
  /** Samples, inputs and outputs of the toy problem. */
  samples?: number;
  /** Input width. */
  inputs?: number;
  /** Output width. */
  outputs?: number;
}

/** The loss after every step, and the final error of the weights. */
export interface DenseDemoResult {
  /** Mean squared error per step. */
  losses: number[];
  /** Root mean squared difference between learned and true weights. */
  weightError: number;
}

/** Fits `y = x·W + b` with a dense layer; returns the loss curve. */
export async function fitDenseDemo(config: DenseDemoConfig): Promise<DenseDemoResult> {
  const n = config.samples ?? 256, din = config.inputs ?? 16, dout = config.outputs ?? 4;
  const rng = new Rng(config.seed);
  const x = rng.fillNormal(new Float32Array(n * din));
  const wTrue = rng.fillNormal(new Float32Array(din * dout));
  const y = new Float32Array(n * dout);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < dout; o++) {
      let s = 0.5;
      for (let k = 0; k < din; k++) s += x[i * din + k] * wTrue[k * dout + o];
      y[i * dout + o] = s + 0.05 * rng.normal();
    }
  }
  const xt = tf.tensor2d(x, [n, din]), yt = tf.tensor2d(y, [n, dout]);
  const w = tf.variable(
    tf.tensor2d(rng.fillNormal(new Float32Array(din * dout), 0.1), [din, dout]),
  );
  const b = tf.variable(tf.zeros([dout]));
  const losses: number[] = [];
  try {
    for (let s = 0; s < config.steps; s++) {
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() =>
          tf.losses.meanSquaredError(yt, tf.add(matMul(xt, w), b)) as tf.Scalar
        );
        w.assign(tf.sub(w, tf.mul(grads[w.name], config.lr)));
        b.assign(tf.sub(b, tf.mul(grads[b.name], config.lr)));
        return value;
      });
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    const wl = await w.data();
    let se = 0;
    for (let i = 0; i < wl.length; i++) se += (wl[i] - wTrue[i]) ** 2;
    return { losses, weightError: Math.sqrt(se / wl.length) };
  } finally {
    tf.dispose([xt, yt, w, b]);
  }
}
