/**
 * The request handler of one data-parallel replica, shared by the worker (`worker.ts`) and
 * the main-thread mode of {@linkcode ./trainer.ts}.
 *
 * Requests (`type`): `init { config, sd, index, buffers }` → `{ params }`;
 * `forward { t, g, rows, row0, seed, keep }` → `{ q, stats }`; `backward { dq }`; `take` (ends an
 * update's gradient sum, which the backward passes wrote into the replica's shared buffer); `reduce { lo, hi, inv }` → `{ ss }` (sum of
 * all replicas' gradients over a slice); `adam { lo, hi, args }` (AdamW on a slice of the
 * shared weights, which every replica reads in place); `state` → `{ sd }`;
 * `load { sd }`; `dispose`.
 *
 * @module
 */
import { type StateDict } from "../../model/fusion_head.ts";
import type { FusionConfig } from "../../model/config.ts";
import { flatWeights, Replica } from "./replica.ts";
import { adamwSlice, reduceSlice } from "./adamw.ts";

/** The flat buffers shared by all replicas (SharedArrayBuffers with workers). */
export interface SharedBuffers {
  /** One gradient buffer per replica. */
  grads: ArrayBufferLike[];
  /** The averaged, then clipped, gradients. */
  sum: ArrayBufferLike;
  /** The master weights. */
  weights: ArrayBufferLike;
  /** AdamW first moments. */
  m: ArrayBufferLike;
  /** AdamW second moments. */
  v: ArrayBufferLike;
}

/** Holds one replica and answers the requests listed in the module documentation. */
export class ReplicaHost {
  #r: Replica | undefined;
  #index = 0;
  #grads: Float32Array<ArrayBufferLike>[] = [];
  #sum: Float32Array<ArrayBufferLike> = new Float32Array(0);
  #w: Float32Array<ArrayBufferLike> = new Float32Array(0);
  #m: Float32Array<ArrayBufferLike> = new Float32Array(0);
  #v: Float32Array<ArrayBufferLike> = new Float32Array(0);

  #replica(): Replica {
    if (!this.#r) throw new Error("data-parallel replica: got a request before init");
    return this.#r;
  }

  /** Answers one request: the reply fields and the buffers to transfer with them. */
  // deno-lint-ignore no-explicit-any
  async handle(m: any): Promise<[Record<string, unknown>, Transferable[]]> {
    switch (m.type) {
      case "init": {
        const b = m.buffers as SharedBuffers;
        const config = m.config as FusionConfig, sd = m.sd as StateDict;
        this.#index = m.index;
        this.#grads = b.grads.map((x) => new Float32Array(x));
        this.#sum = new Float32Array(b.sum);
        this.#w = new Float32Array(b.weights);
        this.#m = new Float32Array(b.m);
        this.#v = new Float32Array(b.v);
        // Replica 0 writes the initial weights; the trainer starts no step before every
        // replica has answered.
        if (this.#index === 0) await flatWeights(config, sd, this.#w);
        this.#r = new Replica(config, this.#w, this.#grads[this.#index], sd["logit_scale"].data[0]);
        return [{ params: this.#r.params }, []];
      }
      case "forward": {
        const r = this.#replica().forward(m.t, m.g, m.rows, m.row0, m.seed, m.keep ?? true);
        return [{ q: r.q, stats: r.stats }, [r.q.buffer as ArrayBuffer]];
      }
      case "backward":
        this.#replica().backward(m.dq);
        return [{}, []];
      case "take":
        this.#replica().takeGradients();
        return [{}, []];
      case "reduce":
        return [{ ss: reduceSlice(this.#grads, this.#sum, m.lo, m.hi, m.inv) }, []];
      case "adam":
        adamwSlice(this.#w, this.#m, this.#v, this.#sum, m.lo, m.hi, m.args);
        return [{}, []];
      case "state":
        return [{ sd: await this.#replica().stateDict() }, []];
      case "load":
        // One replica writes the shared weights (index 0); the others only take the scale.
        if (this.#index === 0) await this.#replica().loadStateDict(m.sd);
        else this.#replica().setLogitScale(m.sd["logit_scale"].data[0]);
        return [{}, []];
      case "dispose":
        this.#r = undefined;
        return [{}, []];
    }
    throw new Error(`data-parallel replica: unknown request '${m.type}'`);
  }
}
