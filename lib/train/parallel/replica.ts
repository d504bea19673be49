/**
 * One replica of the data-parallel trainer ({@linkcode ./trainer.ts}): the head's math
 * (lib/model/head_math.ts) over the shared weight buffer, writing its gradients straight into
 * its own shared gradient buffer (overwritten by the first micro-batch of an update, added to
 * by the next ones). Runs inside a worker (`worker.ts`) or, with no workers, on the main thread.
 *
 * Nothing of TensorFlow.js runs in a step: the weights are read where AdamW writes them, and
 * the gradients are where the reduction reads them, so an update copies nothing.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { FusionHead, type StateDict } from "../../model/fusion_head.ts";
import type { FusionConfig } from "../../model/config.ts";
import { HeadMath, type HeadParam, type ShardStats } from "../../model/head_math.ts";
import { sharedBlas } from "../../runtime/blas.ts";
import { nativeThreadsForThisThread } from "../../runtime/native_kernels.ts";
import { jsSgemm } from "../../runtime/js_sgemm.ts";

/** A trainable variable of the replica: its internal name, shape, size and offset. */
export type ReplicaParam = HeadParam;

/** The forward pass of one shard. */
export interface ShardForward {
  /** Fused queries of the shard's rows, `rows × d` (a copy the caller owns). */
  q: Float32Array;
  /** Sums over the shard's rows for logging. */
  stats: ShardStats;
}

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
  #grad: Float32Array;
  #accumulate = false;
  #logitScale: number;
  /** The trainable parameters, in the order of the flat buffers. */
  readonly params: ReplicaParam[];

  /**
   * A replica over the flat buffers `weights` (read) and `grad` (written).
   *
   * @param config the head's config.
   * @param weights the shared weights ({@linkcode flatWeights} fills them).
   * @param grad this replica's gradient buffer.
   * @param logitScale the `logit_scale` of the initial weights (kept when it is frozen).
   */
  constructor(
    config: FusionConfig,
    weights: Float32Array,
    grad: Float32Array,
    logitScale: number,
  ) {
    this.#config = config;
    this.#logitScale = logitScale;
    const blas = sharedBlas(undefined, nativeThreadsForThisThread()) ?? jsSgemm;
    this.#math = new HeadMath(config, blas);
    this.params = this.#math.params;
    for (const [name, a] of [["weights", weights], ["gradients", grad]] as const) {
      if (a.length !== this.#math.size) {
        throw new Error(
          `Replica: the ${name} buffer has ${a.length} values, the head ${this.#math.size}`,
        );
      }
    }
    this.#w = weights;
    this.#grad = grad;
  }

  /** The current `logit_scale` (log of the InfoNCE scale) when it is a trained parameter. */
  logitScale(): number | null {
    const p = this.params.find((x) => x.name === "logit_scale");
    return p ? this.#w[p.offset] : null;
  }

  /**
   * Forward pass of rows `row0 … row0+rows−1` of a batch, with dropout masks from `seed`
   * (none when the config's dropout is 0 or `seed` is null, i.e. evaluation mode). With
   * `keep` false no activation is kept (inference: no backward pass follows).
   */
  forward(
    t: Float32Array,
    g: Float32Array,
    rows: number,
    row0: number,
    seed: number | null,
    keep = true,
  ): ShardForward {
    const drop = seed !== null && this.#config.dropout > 0 ? { seed, row0 } : null;
    const r = this.#math.forward(this.#w, t, g, rows, drop, keep);
    return { q: r.q.slice(), stats: this.#math.stats() };
  }

  /** Backward pass of the last forward's rows from `dq = dL/dq`; adds to the gradient sum. */
  backward(dq: Float32Array): void {
    this.#math.backward(this.#w, dq, this.#grad, this.#accumulate);
    this.#accumulate = true;
  }

  /**
   * Ends the gradient sum of an update: the sum since the last call is in the gradient buffer
   * (the next backward pass overwrites it).
   */
  takeGradients(): void {
    if (!this.#accumulate) {
      throw new Error("Replica.takeGradients: no backward pass since the last");
    }
    this.#accumulate = false;
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
