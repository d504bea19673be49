/**
 * Exact retrieval ranks over a whole corpus.
 *
 * **Rank** (docs/method.md, the metrics): the 0-based position of the target in the corpus sorted
 * by score, descending, **ties broken by corpus index ascending**:
 * `rank = #{j : s_j > s_t} + #{j < t : s_j == s_t}`. So rank 0 is a hit at 1.
 *
 * The score of corpus item `c` is a weighted sum of dot products (cosines, the embeddings being
 * unit length) with one or more query embeddings, `Σ_i w_i · (q_i · c)`: ChatIR is one part
 * with weight 1, DAR's score fusion `w_t·cos(t,c) + w_g·cos(g,c)` is two. Because the score is
 * linear in the queries, the parts are first combined into the single query `Σ_i w_i q_i`
 * (accumulated in float64, rounded once to float32), so score fusion costs one product; ranks
 * are then exact over the float32 scores of that query.
 *
 * On the wasm backend (single-threaded) large jobs are spread over worker threads, each with
 * its own copy of the corpus; on other backends (webgpu, tensorflow) everything runs on the
 * current backend. Only asynchronous reads are used.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { rankChunk, transposeCorpus } from "./_rank_chunk.ts";

/** Options of {@linkcode prepareCorpus}. */
export interface CorpusOptions {
  /**
   * Worker threads for the wasm backend: a number (0 or 1 = none), or `auto` (the default,
   * overridden by the `ADAFUSE_RANK_WORKERS` environment variable): up to 4, one per core, for
   * jobs of more than 20 million scores on wasm, none otherwise.
   */
  workers?: number | "auto";
  /** Queries per product (default 256: 256 × 50,000 scores per chunk). */
  chunk?: number;
  /**
   * Milliseconds the workers stay alive after a ranking (default 10,000); they restart on the
   * next one. Live workers keep a Deno process from exiting, so a forgotten `dispose()` delays
   * the exit by at most this long.
   */
  workerIdleMs?: number;
}

/** A corpus prepared for ranking: see {@linkcode prepareCorpus}. Call `dispose()` when done. */
export interface CorpusIndex {
  /** Embedding dimension d. */
  readonly dim: number;
  /** Number of corpus items N. */
  readonly size: number;
  /** Queries per product. */
  readonly chunk: number;
  /** Ranks of `targets` for the combined queries `[Q, dim]`; see {@linkcode rankTargets}. */
  rank(queries: Float32Array, targets: Int32Array): Promise<Int32Array>;
  /** Frees the device copy of the corpus and stops the workers. */
  dispose(): void;
}

/** One part of a score: queries `[Q, d]` and a weight (one number, or one per query). */
export interface ScorePart {
  /** Query embeddings, row-major `[Q, d]`. */
  queries: Float32Array;
  /** Weight of this part: a number, or a Float32Array of Q per-query weights. Default 1. */
  weights?: Float32Array | number;
}

function _workerCount(opt: number | "auto" | undefined, jobScores: number): number {
  const env = Deno.env.get("ADAFUSE_RANK_WORKERS");
  let n: number | "auto" = opt ?? "auto";
  if (opt === undefined && env !== undefined && env.trim() !== "") {
    n = Number(env);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`ADAFUSE_RANK_WORKERS=${env} is not a count; use 0 (none) or 1-16`);
    }
  }
  if (tf.getBackend() !== "wasm") return 0;
  if (n === "auto") {
    if (jobScores < 2e7) return 0;
    n = Math.min(4, navigator.hardwareConcurrency ?? 1);
  }
  return n > 1 ? n : 0;
}

class _Pool {
  #workers: Worker[] = [];
  #ready: Promise<void>;
  constructor(n: number, corpusT: Float32Array, dim: number, size: number) {
    const url = new URL("./_rank_worker.ts", import.meta.url).href;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { type: "module" });
      this.#workers.push(w);
      starts.push(
        new Promise((resolve, reject) => {
          w.onmessage = (e) => {
            if (e.data.type === "ready") resolve();
            else reject(new Error(`ranking worker failed to start: ${e.data.message}`));
          };
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`ranking worker failed to start: ${e.message}`));
          };
        }),
      );
      w.postMessage({ type: "init", corpusT, dim, size });
    }
    this.#ready = Promise.all(starts).then(() => {});
  }

  async run(
    chunks: { queries: Float32Array; targets: Int32Array }[],
  ): Promise<Int32Array[]> {
    await this.#ready;
    const out: Int32Array[] = new Array(chunks.length);
    let next = 0;
    const loop = (w: Worker) =>
      new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next >= chunks.length) return resolve();
          const id = next++;
          w.postMessage({ type: "chunk", id, ...chunks[id] });
        };
        w.onmessage = (e) => {
          if (e.data.type === "ranks") {
            out[e.data.id] = e.data.ranks;
            send();
          } else {
            reject(new Error(`ranking worker: ${e.data.message}`));
          }
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`ranking worker crashed: ${e.message}`));
        };
        send();
      });
    await Promise.all(this.#workers.map(loop));
    return out;
  }

  terminate(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}

/**
 * Prepares a corpus `[N, dim]` (row-major) for ranking. The corpus is uploaded once,
 * pre-transposed to `[dim, N]` so that every product is a plain one (no transpose flags), on
 * the current tfjs backend or in worker threads (see {@linkcode CorpusOptions}); both are set up
 * lazily on the first ranking.
 *
 * @param corpus row-major `[N, dim]` embeddings.
 * @param dim the embedding dimension.
 * @param opts workers and chunk size.
 */
export function prepareCorpus(
  corpus: Float32Array,
  dim: number,
  opts: CorpusOptions = {},
): CorpusIndex {
  if (!Number.isInteger(dim) || dim <= 0 || corpus.length % dim !== 0 || corpus.length === 0) {
    throw new Error(
      `prepareCorpus: corpus of length ${corpus.length} is not [N, ${dim}]; pass the ` +
        "row-major corpus and its embedding dimension",
    );
  }
  const size = corpus.length / dim;
  const chunk = opts.chunk ?? 256;
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new Error(`prepareCorpus: chunk must be a positive integer, got ${chunk}`);
  }
  let corpusT: Float32Array | undefined = transposeCorpus(corpus, dim);
  let tensor: tf.Tensor2D | undefined;
  let pool: _Pool | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const stopPool = () => {
    clearTimeout(idle);
    idle = undefined;
    pool?.terminate();
    pool = undefined;
  };
  const rankNow = async (queries: Float32Array, targets: Int32Array): Promise<Int32Array> => {
    if (disposed) throw new Error("CorpusIndex: used after dispose(); prepare the corpus again");
    const q = targets.length;
    const chunks: { queries: Float32Array; targets: Int32Array }[] = [];
    for (let s = 0; s < q; s += chunk) {
      const e = Math.min(q, s + chunk);
      chunks.push({ queries: queries.slice(s * dim, e * dim), targets: targets.slice(s, e) });
    }
    let parts: Int32Array[];
    const nWorkers = _workerCount(opts.workers, q * size);
    if (nWorkers > 0) {
      clearTimeout(idle);
      pool ??= new _Pool(nWorkers, corpusT!, dim, size);
      try {
        parts = await pool.run(chunks);
      } catch (e) {
        stopPool();
        throw e;
      }
      idle = setTimeout(stopPool, opts.workerIdleMs ?? 10_000);
    } else {
      tensor ??= tf.tensor2d(corpusT!, [dim, size]);
      parts = [];
      for (const c of chunks) parts.push(await rankChunk(tensor, c.queries, c.targets));
    }
    const out = new Int32Array(q);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  // One ranking at a time: the workers serve one job at a time.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    dim,
    size,
    chunk,
    rank(queries: Float32Array, targets: Int32Array): Promise<Int32Array> {
      const job = queue.then(() => rankNow(queries, targets));
      queue = job.catch(() => {});
      return job;
    },
    dispose() {
      disposed = true;
      tensor?.dispose();
      tensor = undefined;
      stopPool();
      corpusT = undefined;
    },
  };
}

/**
 * Combines score parts into one query matrix `[Q, d]`: `Σ_i w_i q_i` (float64 accumulation).
 *
 * @throws when a part's length or weights disagree with `q` queries of dimension `dim`, or a
 *   value is not finite.
 */
export function combineParts(parts: ScorePart[], q: number, dim: number): Float32Array {
  if (parts.length === 0) throw new Error("rankTargets: no score parts; pass at least one");
  if (parts.length === 1 && (parts[0].weights ?? 1) === 1) {
    _checkPart(parts[0], 0, q, dim);
    return parts[0].queries;
  }
  const acc = new Float64Array(q * dim);
  parts.forEach((p, i) => {
    _checkPart(p, i, q, dim);
    const w = p.weights ?? 1;
    for (let r = 0; r < q; r++) {
      const wr = typeof w === "number" ? w : w[r];
      const o = r * dim;
      for (let k = 0; k < dim; k++) acc[o + k] += wr * p.queries[o + k];
    }
  });
  return Float32Array.from(acc);
}

function _checkPart(p: ScorePart, i: number, q: number, dim: number): void {
  if (p.queries.length !== q * dim) {
    throw new Error(
      `rankTargets: part ${i} has ${p.queries.length} values, expected ${q} queries × ${dim} ` +
        "(one query row per target)",
    );
  }
  const w = p.weights ?? 1;
  if (typeof w !== "number" && w.length !== q) {
    throw new Error(
      `rankTargets: part ${i} has ${w.length} weights for ${q} queries; pass one weight per ` +
        "query or a single number",
    );
  }
  const ws = typeof w === "number" ? [w] : w;
  for (let r = 0; r < ws.length; r++) {
    if (!Number.isFinite(ws[r])) {
      throw new Error(`rankTargets: part ${i} weight ${r} is ${ws[r]}; weights must be finite`);
    }
  }
  for (let k = 0; k < p.queries.length; k++) {
    if (!Number.isFinite(p.queries[k])) {
      throw new Error(
        `rankTargets: part ${i} query ${Math.floor(k / dim)} has ${p.queries[k]} at ` +
          `dimension ${k % dim}; queries must be finite`,
      );
    }
  }
}

/**
 * Exact 0-based ranks of `targets` over the whole corpus, for the score
 * `Σ_i w_i · (q_i · c)` (see the module documentation for the definition and tie rule).
 *
 * @param corpus from {@linkcode prepareCorpus}.
 * @param parts score parts, each with `[Q, d]` queries.
 * @param targets Q corpus indices.
 * @returns Q ranks in `[0, N)`.
 */
export async function rankTargets(
  corpus: CorpusIndex,
  parts: ScorePart[],
  targets: Int32Array,
): Promise<Int32Array> {
  const q = targets.length;
  for (let i = 0; i < q; i++) {
    if (!(targets[i] >= 0 && targets[i] < corpus.size)) {
      throw new Error(
        `rankTargets: target ${i} is ${targets[i]}, outside the corpus [0, ${corpus.size}); ` +
          "targets are 0-based corpus row indices",
      );
    }
  }
  if (q === 0) return new Int32Array(0);
  return await corpus.rank(combineParts(parts, q, corpus.dim), targets);
}
