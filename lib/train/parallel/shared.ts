/**
 * The request handler of one data-parallel replica, shared by the worker (`worker.ts`) and
 * the main-thread mode of {@linkcode ./trainer.ts}.
 *
 * Requests (`type`): `init { config, sd, index, parts, buffers }` → `{ params }`;
 * `batch { buffer, rows }` (the shared batch of lib/model/head_math.ts `HeadBatch`);
 * `forward { r0, rows, seed }` → `{ stats }` (queries into the batch); `backward` (the row
 * part, from the batch's `dq`); `grads { rows, accumulate }` (this replica's columns of every
 * weight gradient, into the shared sum); `reduce { lo, hi }` → `{ ss }` (sum of squares of a
 * slice of the gradient); `adam { lo, hi, args }` (AdamW on a slice of the shared weights,
 * which every replica reads in place); `fuse { t, g, rows }` → `{ q }` (evaluation mode);
 * `timing` → `{ timing }` (milliseconds in the kernel and its products since the last);
 * `state` → `{ sd }`; `load { sd }`; `dispose`.
 *
 * @module
 */
import { type StateDict } from "../../model/fusion_head.ts";
import type { FusionConfig } from "../../model/config.ts";
import { flatWeights, Replica } from "./replica.ts";
import { AdamWKernel } from "./adamw.ts";
import { bufferViews, type SharedBuffers } from "./buffers.ts";
import { HeadBatch } from "../../model/head_math.ts";

/** Holds one replica and answers the requests listed in the module documentation. */
export class ReplicaHost {
  #r: Replica | undefined;
  #index = 0;
  #config: FusionConfig | undefined;
  #adamw: AdamWKernel | undefined;

  #replica(): Replica {
    if (!this.#r) throw new Error("data-parallel replica: got a request before init");
    return this.#r;
  }

  #kernel(): AdamWKernel {
    if (!this.#adamw) throw new Error("data-parallel replica: got a request before init");
    return this.#adamw;
  }

  /** Answers one request: the reply fields and the buffers to transfer with them. */
  // deno-lint-ignore no-explicit-any
  async handle(m: any): Promise<[Record<string, unknown>, Transferable[]]> {
    switch (m.type) {
      case "init": {
        const b = m.buffers as SharedBuffers;
        const config = m.config as FusionConfig, sd = m.sd as StateDict;
        this.#config = config;
        this.#index = m.index;
        const { sum, weights } = bufferViews(b);
        this.#adamw = new AdamWKernel(b);
        // Replica 0 writes the initial weights; the trainer starts no step before every
        // replica has answered.
        if (this.#index === 0) await flatWeights(config, sd, weights);
        this.#r = new Replica(
          config,
          weights,
          sum,
          sd["logit_scale"].data[0],
          m.index,
          m.parts,
        );
        return [{ params: this.#r.params }, []];
      }
      case "batch":
        this.#replica().setBatch(HeadBatch.fromBuffer(this.#config!, m.rows, m.buffer));
        return [{}, []];
      case "forward":
        return [{ stats: this.#replica().forward(m.r0, m.rows, m.seed) }, []];
      case "fuse": {
        const q = this.#replica().fuse(m.t, m.g, m.rows);
        return [{ q }, [q.buffer as ArrayBuffer]];
      }
      case "backward":
        this.#replica().backward();
        return [{}, []];
      case "grads":
        this.#replica().weightGrads(m.rows, m.accumulate);
        return [{}, []];
      case "reduce":
        return [{ ss: this.#kernel().sumOfSquares(m.lo, m.hi) }, []];
      case "adam":
        this.#kernel().update(m.lo, m.hi, m.args);
        return [{}, []];
      case "timing":
        return [{ timing: this.#replica().timing() }, []];
      case "state":
        return [{ sd: await this.#replica().stateDict() }, []];
      case "load":
        // One replica writes the shared weights (index 0); the others only take the scale.
        if (this.#index === 0) await this.#replica().loadStateDict(m.sd);
        else this.#replica().setLogitScale(m.sd["logit_scale"].data[0]);
        return [{}, []];
      case "dispose":
        this.#r = undefined;
        this.#adamw = undefined;
        return [{}, []];
    }
    throw new Error(`data-parallel replica: unknown request '${m.type}'`);
  }
}
