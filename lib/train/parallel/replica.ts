/**
 * One replica of the data-parallel trainer ({@linkcode ./trainer.ts}): a fusion head,
 * the activations of its shard between the forward and the backward pass,
 * and its sum of gradients over the micro-batches of the current update. Runs inside a worker
 * (`worker.ts`) or, with no workers, on the main thread.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { FusionHead, type StateDict } from "../../model/fusion_head.ts";
import { type FusionConfig, hasExperts, hasGate } from "../../model/config.ts";
import { DROPOUT_SITES, dropoutMultipliers, type ShardStats, ShardStep } from "./step.ts";
import { wasmHeapView } from "../../runtime/native_kernels.ts";

/** A trainable variable of the replica: its internal name, shape and size. */
export interface ReplicaParam {
  /** Internal name ({@linkcode FusionHead.get}). */
  name: string;
  /** Shape in the internal `[in, out]` layout. */
  shape: number[];
  /** Number of values. */
  size: number;
}

/** The forward pass of one shard. */
export interface ShardForward {
  /** Fused queries of the shard's rows, `rows × d`. */
  q: Float32Array;
  /** Sums over the shard's rows for logging. */
  stats: ShardStats;
}

/** A replica; see the module documentation. */
export class Replica {
  #head: FusionHead;
  #step: ShardStep;
  #inputs: tf.Tensor[] = [];
  #acc: tf.Tensor[] | null = null;
  /** The trainable variables, in the order of every gradient buffer. */
  readonly params: ReplicaParam[];

  /**
   * A replica with the weights `sd`.
   *
   * @param config the head's config.
   * @param sd initial weights (PyTorch layout).
   */
  constructor(config: FusionConfig, sd: StateDict) {
    this.#head = FusionHead.fromStateDict(sd, config);
    const names = this.#head.names();
    const vars = this.#head.variables;
    this.params = vars.map((v) => ({
      name: names.find((n) => this.#head.get(n) === v)!,
      shape: v.shape,
      size: v.size,
    }));
    this.#step = new ShardStep(this.#head);
  }

  /** The current `logit_scale` (log of the InfoNCE scale). */
  async logitScale(): Promise<number> {
    return ((await this.#head.get("logit_scale").data()) as Float32Array)[0];
  }

  /**
   * Forward pass of rows `row0 … row0+rows−1` of a batch, with dropout masks from `seed`
   * (none when the config's dropout is 0 or `seed` is null, i.e. evaluation mode). With
   * `keep` false the activations are freed at once (inference: no backward pass follows).
   */
  async forward(
    t: Float32Array,
    g: Float32Array,
    rows: number,
    row0: number,
    seed: number | null,
    keep = true,
  ): Promise<ShardForward> {
    const c = this.#head.config;
    const d = c.dim;
    tf.dispose(this.#inputs);
    const tt = tf.tensor2d(t, [rows, d]), gg = tf.tensor2d(g, [rows, d]);
    this.#inputs = [tt, gg];
    let masks: (Float32Array | null)[] | null = null;
    if (seed !== null && c.dropout > 0) {
      const widths = [c.proj, c.proj, c.hidden, c.experts * c.hidden, d];
      masks = [];
      for (let s = 0; s < DROPOUT_SITES; s++) {
        // sites: 0, 1 projections, 2 gate hidden, 3 experts, 4 output layer
        const unused = (s === 2 && !hasGate(c.variant)) ||
          (s === 3 && !hasExperts(c.variant)) || (s === 4 && c.variant === "gate_only");
        masks.push(unused ? null : dropoutMultipliers(seed, s, row0, rows, widths[s], c.dropout));
      }
    }
    const { q, stats } = this.#step.forward(tt, gg, masks);
    try {
      const [qa, st] = await Promise.all([q.data() as Promise<Float32Array>, stats()]);
      return { q: qa, stats: st };
    } finally {
      q.dispose();
      if (!keep) {
        this.#step.dispose();
        tf.dispose(this.#inputs);
        this.#inputs = [];
      }
    }
  }

  /** Backward pass of the last forward's rows from `dq = dL/dq`; adds to the gradient sum. */
  backward(dq: Float32Array): void {
    const rows = dq.length / this.#head.config.dim;
    const dqt = tf.tensor2d(dq, [rows, this.#head.config.dim]);
    const grads = this.#step.backward(dqt);
    dqt.dispose();
    tf.dispose(this.#inputs);
    this.#inputs = [];
    if (this.#acc === null) {
      this.#acc = grads;
    } else {
      const prev = this.#acc;
      this.#acc = prev.map((a, i) => tf.add(a, grads[i]));
      tf.dispose([...prev, ...grads]);
    }
  }

  /**
   * Writes the gradient sum since the last call into `out` (the variables' values one after
   * the other, in {@linkcode Replica.params} order) and resets it.
   */
  async takeGradients(out: Float32Array): Promise<void> {
    const acc = this.#acc;
    if (acc === null) throw new Error("Replica.takeGradients: no backward pass since the last");
    this.#acc = null;
    let o = 0;
    for (const g of acc) {
      // On wasm, straight from the heap (no copy of 47 MB per update into a new array).
      const a = wasmHeapView(g) ?? ((await g.data()) as Float32Array);
      out.set(a, o);
      o += a.length;
    }
    tf.dispose(acc);
  }

  /** Copies the variables' values into `out` (one after the other, in params order). */
  async readWeights(out: Float32Array): Promise<void> {
    let o = 0;
    for (const v of this.#head.variables) {
      const a = (await v.data()) as Float32Array;
      out.set(a, o);
      o += a.length;
    }
  }

  /** Sets the variables from `flat` (the layout of {@linkcode Replica.readWeights}). */
  writeWeights(flat: Float32Array): void {
    let o = 0;
    for (const v of this.#head.variables) {
      const src = flat.subarray(o, o + v.size);
      o += v.size;
      // On wasm, into the variable's own heap memory (no new tensor per weight per update).
      const view = wasmHeapView(v);
      if (view) {
        view.set(src);
        continue;
      }
      const t = tf.tensor(src, v.shape, "float32");
      v.assign(t);
      t.dispose();
    }
  }

  /** The weights as a reference `state_dict`. */
  stateDict(): Promise<StateDict> {
    return this.#head.toStateDict();
  }

  /** Replaces the weights (PyTorch layout). */
  loadStateDict(sd: StateDict): void {
    this.#head.loadStateDict(sd);
  }

  /** Frees every tensor of the replica. */
  dispose(): void {
    this.#step.dispose();
    tf.dispose(this.#inputs);
    if (this.#acc) tf.dispose(this.#acc);
    this.#acc = null;
    this.#head.dispose();
  }
}
