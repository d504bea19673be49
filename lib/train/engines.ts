/**
 * The gradient engines of {@linkcode train} (lib/train/loop.ts), and the gradient accumulator of
 * the autodiff one.
 *
 * The gradients come from one of two engines (`config.engine`): `autodiff` (tfjs autodiff of
 * {@linkcode FusionHead.apply} on the main thread, AdamW of lib/train/adamw.ts) or `parallel`
 * (lib/train/parallel/trainer.ts: workers with wasm replicas, a hand-written backward pass, the same
 * clipping and AdamW on shared weights). `parallel` needs the wasm backend; on another backend
 * the run uses `autodiff` and logs it. Both write the same files: the weights go through
 * {@linkcode FusionHead} for validation and checkpoints, the optimizer file has one format.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW, type AdamWState } from "./adamw.ts";
import { clipByGlobalNorm } from "./clip.ts";
import { infoNceLoss } from "./loss.ts";
import type { FusionHead } from "../model/fusion_head.ts";
import { DataParallelTrainer, dataParallelWorkers } from "./parallel/trainer.ts";
import type { TrainConfig, TrainEngine } from "./config.ts";

/**
 * Gradient accumulation over micro-batches: {@linkcode GradAccumulator.add} sums each
 * micro-batch's gradients (taking ownership of them), {@linkcode GradAccumulator.mean} returns
 * the average for one optimizer update and resets.
 */
export class GradAccumulator {
  #sum: tf.Tensor[] | null = null;
  #n = 0;

  /** Micro-batches added since the last {@linkcode GradAccumulator.mean}. */
  get count(): number {
    return this.#n;
  }

  /** Adds one micro-batch's gradients (disposed here; the order must not change). */
  add(grads: tf.Tensor[]): void {
    if (this.#sum === null) {
      this.#sum = grads;
    } else {
      if (grads.length !== this.#sum.length) {
        throw new Error(
          `GradAccumulator.add: got ${grads.length} gradients, earlier ${this.#sum.length}`,
        );
      }
      const prev = this.#sum;
      this.#sum = prev.map((a, i) => tf.add(a, grads[i]));
      tf.dispose([...prev, ...grads]);
    }
    this.#n++;
  }

  /** The mean of the added gradients (new tensors, the caller's), and a reset. */
  mean(): tf.Tensor[] {
    if (this.#sum === null) throw new Error("GradAccumulator.mean: nothing was added");
    const n = this.#n, sum = this.#sum;
    const out = tf.tidy(() => sum.map((a) => tf.div(a, n)));
    tf.dispose(sum);
    this.#sum = null;
    this.#n = 0;
    return out;
  }

  /** Frees what was added and not yet averaged. */
  dispose(): void {
    if (this.#sum) tf.dispose(this.#sum);
    this.#sum = null;
    this.#n = 0;
  }
}

/**
 * A source of optimizer updates for the loop: micro-batches in, averaged, clipped AdamW
 * updates out. Statistics of an update: `[Σ loss over its micro-batches, Σ w, Σ w², Σ p per
 * expert…]`.
 */
export interface GradientEngine {
  readonly name: TrainEngine;
  readonly workers: number;
  /** Forward and backward pass of one micro-batch (the arrays may be reused after it). */
  micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number): Promise<
    void
  >;
  /** One update over the micro-batches since the last: norm before clipping, statistics. */
  update(lr: number): Promise<{ norm: number; stats: Float32Array }>;
  /** Makes the main-thread model hold the current weights (for validation and checkpoints). */
  sync(): Promise<void>;
  exportOptimizer(): Promise<AdamWState>;
  importOptimizer(s: AdamWState): void;
  dispose(): void;
}

/** The gradient engine `c.engine` names (autodiff or parallel) for `model`, with a line to `log`. */
export async function createEngine(
  model: FusionHead,
  c: TrainConfig,
  log: (s: string) => void,
): Promise<GradientEngine> {
  if (c.engine === "parallel") {
    const backend = tf.getBackend();
    if (backend === "wasm") {
      const e = await _ParallelEngine.create(model, c, dataParallelWorkers(c.workers));
      log(
        `train: engine parallel, ${
          e.workers === 0 ? "on the main thread" : `${e.workers} worker(s)`
        } (workers=${c.workers})`,
      );
      return e;
    }
    log(
      `train: engine 'parallel' runs on the wasm backend only and the backend is '${backend}': ` +
        "training with the autodiff engine instead (its dropout masks differ, so do the numbers; " +
        "set engine=autodiff to say so)",
    );
  } else log("train: engine autodiff");
  return new _AutodiffEngine(model, c);
}

/** tfjs autodiff of {@linkcode FusionHead.apply} on the main thread, AdamW of lib/train/adamw.ts. */
class _AutodiffEngine implements GradientEngine {
  readonly name = "autodiff" as const;
  readonly workers = 0;
  #model: FusionHead;
  #vars: tf.Variable[];
  #opt: AdamW;
  #acc = new GradAccumulator();
  #stats: tf.Tensor | null = null;
  #clip: number;

  constructor(model: FusionHead, c: TrainConfig) {
    this.#model = model;
    this.#vars = model.variables;
    this.#clip = c.clipNorm;
    this.#opt = new AdamW(this.#vars, {
      beta1: c.beta1,
      beta2: c.beta2,
      eps: c.eps,
      weightDecay: c.weightDecay,
    });
  }

  micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number) {
    const model = this.#model, d = model.config.dim;
    const tt = tf.tensor2d(t, [rows, d]), gg = tf.tensor2d(g, [rows, d]);
    const yy = tf.tensor2d(y, [rows, d]);
    const hold: { st?: tf.Tensor } = {};
    const { grads, value } = tf.variableGrads(() => {
      const out = model.apply(tt, gg, { training: true, seed });
      const loss = infoNceLoss(out.q, yy, model.scale());
      hold.st = tf.keep(tf.concat([
        tf.reshape(loss, [1]),
        tf.reshape(tf.sum(out.w), [1]),
        tf.reshape(tf.sum(tf.square(out.w)), [1]),
        tf.sum(out.p, 0),
      ]));
      return loss;
    }, this.#vars);
    value.dispose();
    tf.dispose([tt, gg, yy]);
    this.#acc.add(this.#vars.map((v) => grads[v.name]));
    const st = hold.st!;
    if (this.#stats === null) this.#stats = st;
    else {
      const s2: tf.Tensor = tf.add(this.#stats, st);
      tf.dispose([this.#stats, st]);
      this.#stats = s2;
    }
    return Promise.resolve();
  }

  async update(lr: number) {
    const avg = this.#acc.mean();
    const { grads: clipped, norm } = await clipByGlobalNorm(avg, this.#clip);
    tf.dispose(avg);
    this.#opt.step(clipped, lr);
    tf.dispose(clipped);
    const stats = this.#stats!;
    this.#stats = null;
    const sv = (await stats.data()) as Float32Array;
    stats.dispose();
    return { norm, stats: sv };
  }

  sync() {
    return Promise.resolve();
  }

  exportOptimizer() {
    return this.#opt.exportState();
  }

  importOptimizer(s: AdamWState) {
    this.#opt.importState(s);
  }

  dispose() {
    this.#acc.dispose();
    this.#stats?.dispose();
    this.#stats = null;
    this.#opt.dispose();
  }
}

/** lib/train/parallel/trainer.ts: workers with wasm replicas, hand-written backward, shared AdamW. */
class _ParallelEngine implements GradientEngine {
  readonly name = "parallel" as const;
  readonly workers: number;
  #dp: DataParallelTrainer;
  #model: FusionHead;
  #stats: Float64Array;

  private constructor(dp: DataParallelTrainer, model: FusionHead) {
    this.#dp = dp;
    this.#model = model;
    this.workers = dp.workers;
    this.#stats = new Float64Array(3 + model.config.experts);
  }

  static async create(model: FusionHead, c: TrainConfig, workers: number) {
    const dp = await DataParallelTrainer.create({
      workers,
      model: model.config,
      stateDict: await model.toStateDict(),
      adamw: { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay },
      clipNorm: c.clipNorm,
    });
    return new _ParallelEngine(dp, model);
  }

  async micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number) {
    const r = await this.#dp.microBatch({ t, g, y, rows, seed });
    const s = this.#stats;
    s[0] += r.loss;
    s[1] += r.wSum;
    s[2] += r.w2Sum;
    for (let j = 0; j < r.pSum.length && 3 + j < s.length; j++) s[3 + j] += r.pSum[j];
  }

  async update(lr: number) {
    const u = await this.#dp.update(lr);
    const stats = Float32Array.from(this.#stats);
    this.#stats.fill(0);
    return { norm: u.gradNorm, stats };
  }

  async sync() {
    this.#model.loadStateDict(await this.#dp.stateDict());
  }

  exportOptimizer() {
    return Promise.resolve(this.#dp.exportOptimizer());
  }

  importOptimizer(s: AdamWState) {
    this.#dp.importOptimizer(s);
  }

  dispose() {
    this.#dp.dispose();
  }
}
