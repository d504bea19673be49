/**
 * The query constructions of the baselines, and the evaluation loop any method plugs into.
 *
 * - `chatir`: the text embedding of the dialogue so far, `t_r` (text only).
 * - `dar`: score fusion `w_t·cos(t_r, c) + w_g·cos(g_r, c)` with the official schedule
 *   `(0.8, 0.2)` for rounds 0-1 and `(0.5, 0.5)` from round 2 ({@linkcode DAR_SCHEDULE}).
 * - `add`: plain embedding addition, `normalize(t_r + g_r)`.
 *
 * A method is a {@linkcode QueryBuilder}: given the round's text and generated-image embeddings
 * `[Q, d]` it returns the score parts of lib/model/ranking.ts. A learned fusion head
 * `(t, g) => Promise<q>` becomes one with {@linkcode fusionMethod}.
 *
 * @module
 */
import { normalizeRows } from "../runtime/rows.ts";
import { type Bundle, type Split, targetPool } from "../data/bundle.ts";
import { combineParts, type CorpusIndex, prepareCorpus, type ScorePart } from "../model/ranking.ts";

/** DAR's score-fusion schedule: `[w_text, w_gen]` before and from `switchRound`. */
export interface DarSchedule {
  /** Weights for rounds `< switchRound`. */
  early: [number, number];
  /** Weights for rounds `≥ switchRound`. */
  late: [number, number];
  /** First round that uses `late`. */
  switchRound: number;
}

/** DAR's official schedule: (0.8, 0.2) for rounds 0-1, (0.5, 0.5) from round 2. */
export const DAR_SCHEDULE: Readonly<DarSchedule> = {
  early: [0.8, 0.2],
  late: [0.5, 0.5],
  switchRound: 2,
};

/** The built-in methods. */
export type BaselineName = "chatir" | "dar" | "add";

/** The built-in method names, for argument checks. */
export const BASELINES: readonly BaselineName[] = ["chatir", "dar", "add"];

/**
 * Builds the score parts of one round from its text and generated-image embeddings, both
 * row-major `[Q, d]`.
 */
export type QueryBuilder = (
  t: Float32Array,
  g: Float32Array,
  round: number,
) => ScorePart[] | Promise<ScorePart[]>;

/** Ranks of a method on a split. */
export interface EvalResult {
  /** 0-based target ranks, row-major `[count, rounds]`. */
  ranks: Int32Array;
  /** Dialogues Q. */
  count: number;
  /** Rounds R. */
  rounds: number;
}

/** DAR's `[w_text, w_gen]` at `round`. */
export function darWeights(round: number, s: DarSchedule = DAR_SCHEDULE): [number, number] {
  return round < s.switchRound ? s.early : s.late;
}

/** ChatIR: the text embedding alone. */
export function chatirMethod(): QueryBuilder {
  return (t) => [{ queries: t }];
}

/** DAR: score fusion of text and generated image with the given schedule. */
export function darMethod(schedule: DarSchedule = DAR_SCHEDULE): QueryBuilder {
  return (t, g, r) => {
    const [wt, wg] = darWeights(r, schedule);
    return [{ queries: t, weights: wt }, { queries: g, weights: wg }];
  };
}

/** Embedding addition: `normalize(t + g)`. */
export function addMethod(dim: number): QueryBuilder {
  return (t, g) => {
    const s = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) s[i] = t[i] + g[i];
    return [{ queries: normalizeRows(s, dim) }];
  };
}

/**
 * A method from a fusion function `(t, g) => q`, all `[Q, d]` row-major (e.g. the ADaFuSE
 * head). The fused query is used as it comes (the head normalises it itself).
 */
export function fusionMethod(
  fuse: (t: Float32Array, g: Float32Array, round: number) => Promise<Float32Array>,
): QueryBuilder {
  return async (t, g, r) => [{ queries: await fuse(t, g, r) }];
}

/** The cosine of each row pair of `a` and `b` (`[count, dim]` row-major). */
export function rowCosines(
  a: Float32Array,
  b: Float32Array,
  count: number,
  dim: number,
): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let dot = 0, na = 0, nb = 0;
    for (let k = i * dim; k < (i + 1) * dim; k++) {
      dot += a[k] * b[k];
      na += a[k] * a[k];
      nb += b[k] * b[k];
    }
    out[i] = dot / Math.sqrt(Math.max(na * nb, 1e-24));
  }
  return out;
}

/** The built-in method of that name. */
export function baseline(name: BaselineName, dim: number, dar?: DarSchedule): QueryBuilder {
  if (name === "chatir") return chatirMethod();
  if (name === "dar") return darMethod(dar);
  if (name === "add") return addMethod(dim);
  throw new Error(`unknown method '${name}'; use one of ${BASELINES.join(", ")}`);
}

/** The `[Q, dim]` slice of round `r` of a `[Q, rounds, dim]` array. */
export function roundSlice(
  a: Float32Array,
  count: number,
  rounds: number,
  dim: number,
  r: number,
): Float32Array {
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    out.set(a.subarray((i * rounds + r) * dim, (i * rounds + r + 1) * dim), i * dim);
  }
  return out;
}

/**
 * Ranks the targets of every dialogue at every round for the method `build`. All rounds are
 * ranked in one job (one pass of workers over the corpus).
 *
 * @param index the prepared corpus.
 * @param split the dialogues.
 * @param rounds rounds per dialogue.
 * @param build the method.
 * @returns ranks `[count, rounds]` row-major.
 */
export async function evaluateQueries(
  index: CorpusIndex,
  split: Split,
  rounds: number,
  build: QueryBuilder,
): Promise<EvalResult> {
  const { count } = split;
  const dim = index.dim;
  const all = new Float32Array(rounds * count * dim);
  for (let r = 0; r < rounds; r++) {
    const t = roundSlice(split.text, count, rounds, dim, r);
    const g = roundSlice(split.gen, count, rounds, dim, r);
    const parts = await build(t, g, r);
    all.set(combineParts(parts, count, dim), r * count * dim);
  }
  const targets = new Int32Array(rounds * count);
  for (let r = 0; r < rounds; r++) targets.set(split.target, r * count);
  const flat = await index.rank(all, targets);
  const ranks = new Int32Array(count * rounds);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < count; i++) ranks[i * rounds + r] = flat[r * count + i];
  }
  return { ranks, count, rounds };
}

/** Options of {@linkcode evaluateMethod}. */
export interface EvaluateOptions {
  /** A prepared corpus to reuse (it is not disposed); prepared and disposed here otherwise. */
  index?: CorpusIndex;
  /** DAR's schedule (default {@linkcode DAR_SCHEDULE}). */
  dar?: DarSchedule;
  /** Worker threads when the corpus is prepared here (see lib/model/ranking.ts). */
  workers?: number | "auto";
}

/**
 * Ranks of a built-in method (or any {@linkcode QueryBuilder}) on one split of a bundle. The
 * gallery is the images the split's targets index: the corpus, or the split's own image pool
 * (lib/data/bundle.ts `Split.images`, e.g. `train`/`val`), so that the ranks always refer to it.
 *
 * @param bundle a loaded bundle.
 * @param splitName e.g. `visdial`.
 * @param method `chatir`, `dar`, `add`, or a query builder.
 */
export async function evaluateMethod(
  bundle: Bundle,
  splitName: string,
  method: BaselineName | QueryBuilder,
  opts: EvaluateOptions = {},
): Promise<EvalResult> {
  const split = bundle.splits[splitName];
  if (!split) {
    throw new Error(
      `evaluateMethod: the bundle in ${bundle.dir} has no loaded split '${splitName}' ` +
        `(loaded: ${Object.keys(bundle.splits).join(", ")}); pick one of those`,
    );
  }
  const build = typeof method === "function" ? method : baseline(method, bundle.dim, opts.dar);
  const pool = targetPool(bundle, split);
  if (opts.index && opts.index.size !== pool.size) {
    throw new Error(
      `evaluateMethod: the index given holds ${opts.index.size} images, but split '${splitName}' ` +
        `targets ${pool.fromCorpus ? "the corpus" : "its own image pool"} of ${pool.size}; ` +
        "pass an index of that gallery, or none",
    );
  }
  const index = opts.index ?? prepareCorpus(pool.images, bundle.dim, { workers: opts.workers });
  try {
    return await evaluateQueries(index, split, bundle.rounds, build);
  } finally {
    if (!opts.index) index.dispose();
  }
}
