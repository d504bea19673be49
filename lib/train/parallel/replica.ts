/**
 * One replica of the data-parallel trainer ({@linkcode ./trainer.ts}): the head's math
 * (lib/model/head_math.ts) over the shared weight buffer and the shared batch. It runs the
 * forward and backward pass of its rows of each micro-batch, then its share of the columns of
 * every weight gradient from all rows, straight into the one shared gradient buffer
 * (overwritten by the first micro-batch of an update, added to by the next ones). Runs inside a
 * worker (`worker.ts`) or, with no workers, on the main thread.
 *
 * Nothing of TensorFlow.js runs in a step (it converts `state_dict`s only): the weights are
 * read where AdamW writes them, and the gradient is complete where AdamW reads it, so an
 * update neither copies nor sums gradients.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { FusionHead, type StateDict } from "../../model/fusion_head.ts";
import type { FusionConfig } from "../../model/config.ts";
import {
  type HeadBatch,
  HeadMath,
  type HeadParam,
  type ShardStats,
} from "../../model/head_math.ts";
import { nativeBlas } from "../../runtime/native_kernels.ts";
import { jsSgemm } from "../../runtime/js_sgemm.ts";

/** A trainable variable of the replica: its internal name, shape, size and offset. */
export type ReplicaParam = HeadParam;

/** The weights of `sd` in the flat layout of {@linkcode HeadMath} (into `out`). */
export async function flatWeights(
  config: FusionConfig,
  sd: StateDict,
  out: Float32Array,
): Promise<void> {
  const head = FusionHead.fromStateDict(sd, config);
  try {
    const math = new HeadMath(config, jsSgemm);
    for (const p of math.params) {
      const v = head.get(p.name);
      if (v.size !== p.size) {
        throw new Error(`flatWeights: ${p.name} has ${v.size} values, the layout ${p.size}`);
      }
      out.set((await v.data()) as Float32Array, p.offset);
    }
  } finally {
    head.dispose();
  }
}

/** A replica; see the module documentation. */
export class Replica {
  #config: FusionConfig;
  #math: HeadMath;
  #w: Float32Array;
  #sum: Float32Array;
  #batch: HeadBatch | null = null;
  #part: number;
  #parts: number;
  #logitScale: number;
  /** The trainable parameters, in the order of the flat buffers. */
  readonly params: ReplicaParam[];

  /**
   * Replica `part` of `parts` over the flat buffers `weights` (read) and `sum` (its share of
   * every weight gradient written there).
   *
   * @param config the head's config.
   * @param weights the shared weights ({@linkcode flatWeights} fills them).
   * @param sum the shared gradient buffer.
   * @param logitScale the `logit_scale` of the initial weights (kept when it is frozen).
   * @param part this replica's index, which picks its share of the weight gradients' columns.
   * @param parts the number of replicas.
   */
  constructor(
    config: FusionConfig,
    weights: Float32Array,
    sum: Float32Array,
    logitScale: number,
    part = 0,
    parts = 1,
  ) {
    this.#config = config;
    this.#logitScale = logitScale;
    this.#part = part;
    this.#parts = parts;
    // the library the backend's products run on in this thread (a worker's: 1 thread each)
    const blas = nativeBlas() ?? jsSgemm;
    this.#math = new HeadMath(config, blas);
    this.params = this.#math.params;
    for (const [name, a] of [["weights", weights], ["gradient", sum]] as const) {
      if (a.length !== this.#math.size) {
        throw new Error(
          `Replica: the ${name} buffer has ${a.length} values, the head ${this.#math.size}`,
        );
      }
    }
    this.#w = weights;
    this.#sum = sum;
  }

  /** Uses `batch` (shared by every replica) for the training steps from now on. */
  setBatch(batch: HeadBatch): void {
    this.#batch = batch;
  }

  #needBatch(): HeadBatch {
    if (!this.#batch) throw new Error("Replica: no batch buffer set (setBatch first)");
    return this.#batch;
  }

  /**
   * Forward pass of batch rows `r0 … r0+rows−1` (from the shared batch, queries into it),
   * with dropout masks from `seed` (none when the config's dropout is 0 or `seed` is null),
   * keeping what the backward pass needs.
   */
  forward(r0: number, rows: number, seed: number | null): ShardStats {
    const drop = seed !== null && this.#config.dropout > 0 ? { seed, row0: r0 } : null;
    this.#math.forwardRows(this.#w, this.#needBatch(), r0, rows, drop, true);
    return this.#math.stats();
  }

  /** Evaluation-mode fused queries of `rows` rows `t`, `g` (a copy the caller owns). */
  fuse(t: Float32Array, g: Float32Array, rows: number): Float32Array {
    return this.#math.forward(this.#w, t, g, rows, null, false).q.slice();
  }

  /** The row part of the backward pass of the last forward, from the batch's `dq` rows. */
  backward(): void {
    this.#math.backwardRows(this.#w);
  }

  /**
   * This replica's share of every weight gradient from all `rows` rows of the batch, into the
   * shared gradient buffer (added when `accumulate`).
   */
  weightGrads(rows: number, accumulate: boolean): void {
    this.#math.weightGrads(this.#needBatch(), rows, this.#sum, accumulate, this.#part, this.#parts);
  }

  /** Milliseconds in the kernel and in its products since the last call (then reset). */
  timing(): { kernelMs: number; productMs: number } {
    return this.#math.timing(true);
  }

  /** The weights as a reference `state_dict`. */
  async stateDict(): Promise<StateDict> {
    const head = FusionHead.create(this.#config, 0);
    try {
      const set = (name: string, data: Float32Array, shape: number[]) =>
        tf.tidy(() => head.get(name).assign(tf.tensor(data, shape, "float32")));
      set("logit_scale", Float32Array.of(this.#logitScale), []);
      for (const p of this.params) {
        set(p.name, this.#w.slice(p.offset, p.offset + p.size), p.shape);
      }
      return await head.toStateDict();
    } finally {
      head.dispose();
    }
  }

  /** Sets the frozen `logit_scale` that {@linkcode Replica.stateDict} reports. */
  setLogitScale(v: number): void {
    this.#logitScale = v;
  }

  /** Replaces the weights (PyTorch layout) in the shared buffer. */
  async loadStateDict(sd: StateDict): Promise<void> {
    await flatWeights(this.#config, sd, this.#w);
    this.#logitScale = sd["logit_scale"].data[0];
  }
}
