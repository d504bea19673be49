/**
 * Long because one class drives the workers' message protocol in lockstep.
 *
 * Data-parallel training of the fusion head: N Deno workers, each with its own single-threaded
 * wasm backend and a replica of the head, share every batch so that all cores work.
 *
 * The symmetric InfoNCE loss couples all rows of a batch (the logits are `Q·Tᵀ` over the whole
 * batch), so the batch is not simply split. One micro-batch goes, through one shared batch
 * buffer (lib/model/head_math.ts `HeadBatch`):
 *
 * 1. each worker runs the forward pass of its rows (lib/model/head_math.ts) and keeps the
 *    activations; the main thread reads the fused queries `Q` (`B × d`, small);
 * 2. the main thread computes the loss of the whole batch and `dL/dQ` (lib/train/loss.ts
 *    `infoNceGrad`) into the batch;
 * 3. each worker back-propagates its rows, leaving every layer's input and output gradient in
 *    the batch;
 * 4. each worker computes its share of the columns of every weight gradient from all rows,
 *    straight into the one shared gradient buffer (added to it after the first micro-batch of
 *    an update).
 *
 * The gradient is so complete where AdamW reads it: no worker has a gradient of its own, and
 * none is summed (the old reduction of per-worker gradients read and wrote three times the
 * parameters per update, on a machine whose memory bandwidth is the limit). At
 * {@linkcode DataParallelTrainer.update} the gradient is averaged over the micro-batches
 * (gradient accumulation), clipped to the global norm, and AdamW (lib/train/parallel/adamw.ts)
 * updates the shared weights, a slice per worker, which every worker reads in place.
 *
 * Dropout masks are a hash of (seed, site, batch row, column) (lib/model/head_math.ts), so the result
 * does not depend on the number of workers. With no workers (`workers: 0`) the same engine runs
 * on the main thread, on whatever backend is current (e.g. webgpu).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AdamWOptions, type AdamWState, decaysWeight, defaultAdamWOptions } from "../adamw.ts";
import { infoNceGrad } from "../loss.ts";
import { FusionHead, type StateDict } from "../../model/fusion_head.ts";
import { type FusionConfig, fusionConfig, stateDictSpec } from "../../model/config.ts";
import type { ReplicaParam } from "./replica.ts";
import { ReplicaHost } from "./shared.ts";
import { bufferViews, createSharedBuffers, type SharedBuffers } from "./buffers.ts";
import { HeadBatch, type Sgemm, type ShardStats } from "../../model/head_math.ts";
import { type Blas, openBlas, requestedBlas } from "../../runtime/blas.ts";
import { jsSgemm } from "../../runtime/js_sgemm.ts";

/** Options of {@linkcode DataParallelTrainer.create}. */
export interface DataParallelOptions {
  /**
   * Worker threads: 0 runs on the main thread (any backend); `auto` (the default, overridden
   * by `ADAFUSE_TRAIN_WORKERS`) uses one per core, up to 4, on wasm and 0 on other backends.
   */
  workers?: number | "auto";
  /** The head's config (overrides of the defaults). */
  model?: Partial<FusionConfig>;
  /** Initial weights (PyTorch layout); default `FusionHead.create(model, seed)`. */
  stateDict?: StateDict;
  /** Seed of the initial weights when no `stateDict` is given (default 0). */
  seed?: number;
  /** AdamW options; `noDecay` takes internal names (`text.b`, ...). */
  adamw?: Partial<AdamWOptions>;
  /** Clip the global gradient norm to this (default 3.0, the recipe's). */
  clipNorm?: number;
}

/** One micro-batch: rows of `t`, `g` and their target embeddings `y`, all row-major. */
export interface MicroBatch {
  /** Text embeddings `rows × d`. */
  t: Float32Array;
  /** Generated-image embeddings `rows × d`. */
  g: Float32Array;
  /** Target image embeddings `rows × d`. */
  y: Float32Array;
  /** Rows in the micro-batch. */
  rows: number;
  /** Seed of the dropout masks; null for no dropout. */
  seed: number | null;
}

/** What {@linkcode DataParallelTrainer.microBatch} returns. */
export interface MicroBatchResult extends ShardStats {
  /** The micro-batch's InfoNCE loss. */
  loss: number;
}

/** What {@linkcode DataParallelTrainer.update} returns. */
export interface UpdateResult {
  /** Global gradient norm of the averaged gradients, before clipping. */
  gradNorm: number;
  /** Micro-batches averaged by this update. */
  microBatches: number;
}

interface _Endpoint {
  call(type: string, payload?: Record<string, unknown>, transfer?: Transferable[]): Promise<
    // deno-lint-ignore no-explicit-any
    any
  >;
  close(): void;
}

class _WorkerEndpoint implements _Endpoint {
  #w: Worker;
  #next = 0;
  // deno-lint-ignore no-explicit-any
  #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  #dead: Error | null = null;

  constructor(index: number) {
    this.#w = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    this.#w.onmessage = (e) => {
      const p = this.#pending.get(e.data.id);
      if (!p) return;
      this.#pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data);
      else p.reject(new Error(`data-parallel worker ${index}: ${e.data.message}`));
    };
    this.#w.onerror = (e) => {
      e.preventDefault();
      this.#dead = new Error(`data-parallel worker ${index} crashed: ${e.message}`);
      for (const p of this.#pending.values()) p.reject(this.#dead);
      this.#pending.clear();
    };
  }

  // deno-lint-ignore no-explicit-any
  call(type: string, payload = {}, transfer: Transferable[] = []): Promise<any> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#w.postMessage({ id, type, ...payload }, transfer);
    });
  }

  close(): void {
    this.#w.terminate();
    for (const p of this.#pending.values()) p.reject(new Error("data-parallel trainer disposed"));
    this.#pending.clear();
  }
}

class _LocalEndpoint implements _Endpoint {
  #host = new ReplicaHost();

  // deno-lint-ignore no-explicit-any
  async call(type: string, m: Record<string, unknown> = {}): Promise<any> {
    return (await this.#host.handle({ type, ...m }))[0];
  }

  close(): void {
    this.#host.handle({ type: "dispose" });
  }
}

/** The worker count for `opt` (see {@linkcode DataParallelOptions.workers}). */
export function dataParallelWorkers(opt: number | "auto" = "auto"): number {
  let n: number | "auto" = opt;
  const env = Deno.env.get("ADAFUSE_TRAIN_WORKERS");
  if (opt === "auto" && env !== undefined && env.trim() !== "") {
    n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 64) {
      throw new Error(`ADAFUSE_TRAIN_WORKERS=${env} is not a worker count; use 0 (none) to 64`);
    }
  }
  if (n === "auto") {
    return tf.getBackend() === "wasm" ? Math.min(4, navigator.hardwareConcurrency ?? 1) : 0;
  }
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new Error(`data-parallel: workers must be an integer in [0, 64] or 'auto', got ${n}`);
  }
  return n;
}

/**
 * Trains one fusion head on several cores; see the module documentation. Create with
 * {@linkcode DataParallelTrainer.create}; free with {@linkcode DataParallelTrainer.dispose}.
 */
export class DataParallelTrainer {
  /** The head's config. */
  readonly config: FusionConfig;
  /** Worker threads (0: main thread). */
  readonly workers: number;
  /** The trainable variables in gradient order. */
  readonly params: ReplicaParam[];
  /** Clip norm in use. */
  readonly clipNorm: number;
  /** AdamW hyper-parameters in use (`noDecay` in internal names). */
  readonly adamw: AdamWOptions;
  #ends: _Endpoint[];
  #sum: Float32Array;
  #weights: Float32Array;
  #m: Float32Array;
  #v: Float32Array;
  #slices: [number, number][];
  #noDecay: [number, number][];
  #logitScale: number;
  #micro = 0;
  #dLogitScale = 0;
  #step = 0;
  #busy = false;
  #lossBlas: Sgemm | null = null;
  #batch: HeadBatch | null = null;

  private constructor(
    config: FusionConfig,
    workers: number,
    params: ReplicaParam[],
    clipNorm: number,
    adamw: AdamWOptions,
    ends: _Endpoint[],
    bufs: SharedBuffers,
    logitScale: number,
  ) {
    this.config = config;
    this.workers = workers;
    this.params = params;
    this.clipNorm = clipNorm;
    this.adamw = adamw;
    this.#ends = ends;
    const views = bufferViews(bufs);
    this.#sum = views.sum;
    this.#weights = views.weights;
    this.#m = views.m;
    this.#v = views.v;
    this.#logitScale = logitScale;
    const total = this.#sum.length, n = ends.length;
    this.#slices = Array.from(
      { length: n },
      (_, i) => [Math.floor((i * total) / n), Math.floor(((i + 1) * total) / n)],
    );
    const names = params.map((p) => p.name);
    for (const nd of adamw.noDecay) {
      if (!names.includes(nd)) {
        throw new Error(
          `data-parallel: adamw.noDecay names '${nd}', not a trainable parameter (${
            names.join(", ")
          })`,
        );
      }
    }
    this.#noDecay = [];
    let o = 0;
    for (const p of params) {
      // the reference's rule (lib/train/adamw.ts decaysWeight): biases, 1-D tensors, scalars:
      // no decay
      if (!decaysWeight(p.shape) || adamw.noDecay.includes(p.name)) {
        this.#noDecay.push([o, o + p.size]);
      }
      o += p.size;
    }
  }

  /** Starts the workers (or the main-thread replica) with the initial weights. */
  static async create(opts: DataParallelOptions = {}): Promise<DataParallelTrainer> {
    await tf.ready();
    const config = fusionConfig(opts.model ?? {});
    const clipNorm = opts.clipNorm ?? 3.0;
    if (!(clipNorm > 0)) throw new Error(`data-parallel: clipNorm must be > 0, got ${clipNorm}`);
    const adamw: AdamWOptions = { ...defaultAdamWOptions, ...(opts.adamw ?? {}) };
    const workers = dataParallelWorkers(opts.workers ?? "auto");
    let sd = opts.stateDict;
    if (!sd) {
      const h = FusionHead.create(config, opts.seed ?? 0);
      sd = await h.toStateDict();
      h.dispose();
    }
    const n = Math.max(1, workers);
    const total = stateDictSpec(config)
      .filter((s) => s.name !== "logit_scale" || config.learnableScale)
      .reduce((a, s) => a + s.count, 0);
    const bufs = createSharedBuffers(total);
    const ends: _Endpoint[] = [];
    for (let i = 0; i < n; i++) ends.push(workers ? new _WorkerEndpoint(i) : new _LocalEndpoint());
    try {
      const replies = await Promise.all(
        ends.map((e, index) => e.call("init", { config, sd, index, parts: n, buffers: bufs })),
      );
      return new DataParallelTrainer(
        config,
        workers,
        replies[0].params as ReplicaParam[],
        clipNorm,
        adamw,
        ends,
        bufs,
        sd["logit_scale"].data[0],
      );
    } catch (e) {
      for (const x of ends) x.close();
      throw e;
    }
  }

  /** The InfoNCE scale `s = exp(logit_scale)` the loss uses now. */
  get scale(): number {
    return Math.exp(this.#logitScale);
  }

  /** Micro-batches accumulated since the last update. */
  get pending(): number {
    return this.#micro;
  }

  #enter(what: string): void {
    if (this.#busy) {
      throw new Error(`DataParallelTrainer.${what}: another call is running; await it first`);
    }
    if (this.#ends.length === 0) throw new Error(`DataParallelTrainer.${what}: used after dispose`);
    this.#busy = true;
  }

  /**
   * Forward and backward pass of one micro-batch over the workers; its gradients are added to
   * the sums that the next {@linkcode DataParallelTrainer.update} averages.
   */
  async microBatch(b: MicroBatch): Promise<MicroBatchResult> {
    this.#enter("microBatch");
    try {
      const d = this.config.dim, B = b.rows;
      for (const [name, a] of [["t", b.t], ["g", b.g], ["y", b.y]] as const) {
        if (a.length !== B * d) {
          throw new Error(
            `DataParallelTrainer.microBatch: ${name} has ${a.length} values, expected rows × d = ` +
              `${B} × ${d}`,
          );
        }
      }
      if (B < 2) {
        throw new Error("DataParallelTrainer.microBatch: a contrastive batch needs ≥ 2 rows");
      }
      const n = Math.min(this.#ends.length, B);
      const batch = await this.#batchFor(B);
      batch.a.t.set(b.t);
      batch.a.g.set(b.g);
      const bounds = Array.from({ length: n + 1 }, (_, i) => Math.floor((i * B) / n));
      const fwd = await Promise.all(
        this.#ends.slice(0, n).map((e, i) =>
          e.call("forward", { r0: bounds[i], rows: bounds[i + 1] - bounds[i], seed: b.seed })
        ),
      );
      const { loss, dq, dls } = this.#lossGrad(batch.a.q.subarray(0, B * d), b.y, B);
      batch.a.dq.set(dq);
      await Promise.all(this.#ends.slice(0, n).map((e) => e.call("backward")));
      // every replica's share of the columns of every weight gradient, from all B rows
      const accumulate = this.#micro > 0;
      await Promise.all(this.#ends.map((e) => e.call("grads", { rows: B, accumulate })));
      this.#micro++;
      this.#dLogitScale += dls;
      const k = fwd[0].stats.pSum.length;
      const out: MicroBatchResult = { loss, wSum: 0, w2Sum: 0, pSum: new Float32Array(k) };
      for (const r of fwd) {
        out.wSum += r.stats.wSum;
        out.w2Sum += r.stats.w2Sum;
        for (let j = 0; j < k; j++) out.pSum[j] += r.stats.pSum[j];
      }
      return out;
    } finally {
      this.#busy = false;
    }
  }

  /** The shared batch, grown (and sent to every replica) when `rows` do not fit. */
  async #batchFor(rows: number): Promise<HeadBatch> {
    if (this.#batch && this.#batch.rows >= rows) return this.#batch;
    const batch = HeadBatch.create(this.config, rows, this.workers > 0);
    await Promise.all(
      this.#ends.map((e) => e.call("batch", { buffer: batch.buffer, rows: batch.rows })),
    );
    this.#batch = batch;
    return batch;
  }

  #lossGrad(
    qa: Float32Array,
    ya: Float32Array,
    B: number,
  ): { loss: number; dq: Float32Array; dls: number } {
    // One BLAS thread: the products are small (B × B × d), and a second thread of the main
    // thread's library would compete with the workers for the cores (OpenBLAS's helper threads
    // spin for a while after each call).
    this.#lossBlas ??= openBlas(requestedBlas(), 1) ?? jsSgemm;
    const r = infoNceGrad(qa, ya, B, this.config.dim, this.scale, this.#lossBlas);
    return { loss: r.loss, dq: r.dq, dls: this.config.learnableScale ? r.dLogScale : 0 };
  }

  /**
   * One optimizer update: averages the gradients of the micro-batches since the last update,
   * clips them to the global norm {@linkcode DataParallelTrainer.clipNorm} (PyTorch's
   * formula), and applies AdamW with learning rate `lr` on every replica.
   */
  async update(lr: number): Promise<UpdateResult> {
    this.#enter("update");
    try {
      const m = this.#micro;
      if (m === 0) throw new Error("DataParallelTrainer.update: no micro-batch since the last");
      if (!Number.isFinite(lr)) throw new Error(`DataParallelTrainer.update: lr is ${lr}`);
      const inv = 1 / m;
      let lsOffset = -1;
      if (this.config.learnableScale) {
        lsOffset = this.params.find((p) => p.name === "logit_scale")!.offset;
        this.#sum[lsOffset] = this.#dLogitScale;
      }
      // The gradient buffer holds the sum over the micro-batches: its norm, averaged.
      const parts = await Promise.all(
        this.#ends.map((e, i) => {
          const [lo, hi] = this.#slices[i];
          return e.call("reduce", { lo, hi });
        }),
      );
      const norm = Math.sqrt(parts.reduce((a, r) => a + r.ss, 0)) * inv;
      const clip = Math.min(1, this.clipNorm / (norm + 1e-6));
      const { noDecay: _, ...hyper } = this.adamw;
      const args = {
        lr,
        step: ++this.#step,
        coef: clip * inv,
        opts: hyper,
        noDecay: this.#noDecay,
      };
      await Promise.all(
        this.#ends.map((e, i) => {
          const [lo, hi] = this.#slices[i];
          return e.call("adam", { lo, hi, args });
        }),
      );
      if (lsOffset >= 0) this.#logitScale = this.#weights[lsOffset];
      this.#micro = 0;
      this.#dLogitScale = 0;
      return { gradNorm: norm, microBatches: m };
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Evaluation-mode fused queries of `count` rows (no dropout), the rows split over the
   * workers, `chunk` rows per request: row-major `count × d`.
   */
  async fuse(t: Float32Array, g: Float32Array, count: number, chunk = 2048): Promise<Float32Array> {
    this.#enter("fuse");
    try {
      const d = this.config.dim;
      if (t.length !== count * d || g.length !== count * d) {
        throw new Error(
          `DataParallelTrainer.fuse: t and g must hold count × d = ${count} × ${d} values, got ` +
            `${t.length} and ${g.length}`,
        );
      }
      const out = new Float32Array(count * d);
      let next = 0;
      const loop = async (e: _Endpoint) => {
        while (next < count) {
          const lo = next, hi = Math.min(count, lo + chunk);
          next = hi;
          const r = await e.call("fuse", {
            t: t.slice(lo * d, hi * d),
            g: g.slice(lo * d, hi * d),
            rows: hi - lo,
          });
          out.set(r.q, lo * d);
        }
      };
      await Promise.all(this.#ends.map(loop));
      return out;
    } finally {
      this.#busy = false;
    }
  }

  /** One micro-batch and one update (no accumulation). */
  async step(b: MicroBatch, lr: number): Promise<MicroBatchResult & UpdateResult> {
    const r = await this.microBatch(b);
    return { ...r, ...(await this.update(lr)) };
  }

  /**
   * Per replica, the milliseconds spent since the last call in the head's kernel
   * (lib/model/head_math.ts: forward, backward, weight gradients) and, of those, in its matrix
   * products; the rest of a step's wall time is the loss, the optimizer and the messages.
   */
  async timing(): Promise<{ kernelMs: number; productMs: number }[]> {
    return (await Promise.all(this.#ends.map((e) => e.call("timing")))).map((r) => r.timing);
  }

  /** The current weights (from replica 0) as a reference `state_dict`. */
  async stateDict(): Promise<StateDict> {
    return (await this.#ends[0].call("state")).sd;
  }

  /** Replaces the weights of every replica. */
  async loadStateDict(sd: StateDict): Promise<void> {
    this.#enter("loadStateDict");
    try {
      await Promise.all(this.#ends.map((e) => e.call("load", { sd })));
    } finally {
      this.#busy = false;
    }
    this.#logitScale = sd["logit_scale"].data[0];
  }

  /** The AdamW state (moments per parameter, in {@linkcode DataParallelTrainer.params} order). */
  exportOptimizer(): AdamWState {
    const m: Float32Array[] = [], v: Float32Array[] = [];
    let o = 0;
    for (const p of this.params) {
      m.push(this.#m.slice(o, o + p.size));
      v.push(this.#v.slice(o, o + p.size));
      o += p.size;
    }
    return { step: this.#step, m, v };
  }

  /** Restores an AdamW state written by {@linkcode DataParallelTrainer.exportOptimizer}. */
  importOptimizer(state: AdamWState): void {
    const n = this.params.length;
    if (state.m.length !== n || state.v.length !== n) {
      throw new Error(
        `DataParallelTrainer.importOptimizer: ${state.m.length}/${state.v.length} moments for ` +
          `${n} parameters; was it saved for another model config?`,
      );
    }
    let o = 0;
    this.params.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) {
        throw new Error(
          `DataParallelTrainer.importOptimizer: moment ${i} has ${state.m[i].length} values, ` +
            `parameter '${p.name}' ${p.size}`,
        );
      }
      this.#m.set(state.m[i], o);
      this.#v.set(state.v[i], o);
      o += p.size;
    });
    this.#step = state.step;
  }

  /** A fresh {@linkcode FusionHead} on the current backend holding the current weights. */
  async toHead(): Promise<FusionHead> {
    return FusionHead.fromStateDict(await this.stateDict(), this.config);
  }

  /** Stops the workers and frees every replica. */
  dispose(): void {
    for (const e of this.#ends) e.close();
    this.#ends = [];
    if (this.#lossBlas && "close" in this.#lossBlas) (this.#lossBlas as Blas).close();
    this.#lossBlas = null;
  }
}
