/**
 * The evaluation of one method on one benchmark split of a bundle (used by `deno task eval`,
 * lib/cli/eval.ts, and the paper pipeline).
 *
 * Ranks the targets of one benchmark split of a bundle at every round with one baseline and
 * writes (atomically) a JSON file with the ranks (`[Q][rounds]`, 0-based, ties broken by corpus
 * index), cumulative and per-round Hits@K for K = 1, 5, 10, 50, the method, benchmark, data
 * folder, backend and seconds; prints a table of cumulative Hits@K per round. The bundle is
 * validated before any work. With `--method adafuse` the fused queries come from the
 * checkpoint's head, and the JSON also holds, per dialogue and round, the gate's text weight
 * `w`, `cos(t, g)` and the router probabilities.
 *
 * @module
 */
import { type BackendName, initBackend } from "../runtime/backend.ts";
import {
  type BaselineName,
  BASELINES,
  evaluateMethod,
  fusionMethod,
  rowCosines,
} from "./baselines.ts";
import { type Bundle, loadBundle } from "../data/bundle.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { hitsCumulative, hitsPerRound } from "./metrics.ts";
import { writeFileAtomic } from "../runtime/paths.ts";

/** Every method the evaluation knows: the baselines and the learned head. */
export type EvalMethod = BaselineName | "adafuse";
/** The names of {@linkcode EvalMethod}. */
export const EVAL_METHODS: readonly EvalMethod[] = [...BASELINES, "adafuse"];

/** The cut-offs reported. */
export const EVAL_KS: readonly number[] = [1, 5, 10, 50];

/** Arguments of {@linkcode runEval}. */
export interface EvalArgs {
  /** Bundle folder. */
  data: string;
  /** Split to evaluate, e.g. `visdial`. */
  benchmark: string;
  /** Baseline, or `adafuse` (needs `checkpoint`). */
  method: EvalMethod;
  /** ADaFuSE checkpoint (`.safetensors`), for `--method adafuse`. */
  checkpoint?: string;
  /** Output JSON file. */
  out: string;
  /** tfjs backend (default: `ADAFUSE_BACKEND` or auto). */
  backend?: BackendName;
  /** Ranking worker threads on wasm (default auto). */
  workers?: number;
  /** Print the table (default true). */
  print?: boolean;
}

/** What {@linkcode runEval} writes to `--out`. */
export interface EvalOutput {
  /** The method. */
  method: string;
  /** The split. */
  benchmark: string;
  /** The bundle folder. */
  data: string;
  /** The backend that ran. */
  backend: string;
  /** Wall-clock seconds of the ranking. */
  seconds: number;
  /** Dialogues. */
  count: number;
  /** Rounds. */
  rounds: number;
  /** Corpus size. */
  corpusSize: number;
  /** Hits@K in percent, by K: cumulative (the paper's metric) and per round. */
  hits: Record<string, { cumulative: number[]; per_round: number[] }>;
  /** 0-based target ranks, `[count][rounds]`. */
  ranks: number[][];
  /** Warnings of the bundle loader. */
  warnings: string[];
  /** ADaFuSE only: the checkpoint evaluated. */
  checkpoint?: string;
  /** ADaFuSE only: the gate's text weight `w`, `[count][rounds]`. */
  gate?: number[][];
  /** ADaFuSE only: `cos(t, g)`, `[count][rounds]`. */
  cos?: number[][];
  /** ADaFuSE only: router probabilities, `[count][rounds][K]`. */
  router?: number[][][];
}

/** Formats the table of cumulative Hits@K per round. */
export function hitsTable(hits: EvalOutput["hits"], rounds: number): string {
  const ks = Object.keys(hits);
  const lines = [["round", ...ks.map((k) => `H@${k}`)].map((s) => s.padStart(7)).join("")];
  for (let r = 0; r < rounds; r++) {
    lines.push(
      [String(r), ...ks.map((k) => hits[k].cumulative[r].toFixed(2))].map((s) => s.padStart(7))
        .join(""),
    );
  }
  return lines.join("\n");
}

/**
 * Runs the evaluation: loads and validates the bundle (only the asked split), starts the
 * backend, ranks, writes `--out` atomically and returns what it wrote.
 */
export async function runEval(args: EvalArgs): Promise<EvalOutput> {
  if (!EVAL_METHODS.includes(args.method)) {
    throw new Error(`method '${args.method}' is unknown; use one of ${EVAL_METHODS.join(", ")}`);
  }
  const bundle = await loadBundle(args.data, { splits: [args.benchmark] });
  for (const w of bundle.warnings) console.error(`warning: ${w}`);
  const info = await initBackend(args.backend);
  const t0 = performance.now();
  let extra: Partial<EvalOutput> = {};
  let res;
  if (args.method === "adafuse") {
    if (!args.checkpoint) throw new Error("method adafuse needs a checkpoint");
    const fused = await _adafuseMethod(bundle, args.benchmark, args.checkpoint);
    try {
      res = await evaluateMethod(bundle, args.benchmark, fused.method, { workers: args.workers });
    } finally {
      fused.head.dispose();
    }
    extra = { checkpoint: args.checkpoint, gate: fused.gate, cos: fused.cos, router: fused.router };
  } else {
    res = await evaluateMethod(bundle, args.benchmark, args.method, { workers: args.workers });
  }
  const seconds = (performance.now() - t0) / 1000;
  const { count, rounds, ranks } = res;
  const hits: EvalOutput["hits"] = {};
  for (const k of EVAL_KS) {
    hits[String(k)] = {
      cumulative: hitsCumulative(ranks, count, rounds, k),
      per_round: hitsPerRound(ranks, count, rounds, k),
    };
  }
  const out: EvalOutput = {
    method: args.method,
    benchmark: args.benchmark,
    data: args.data,
    backend: info.name,
    seconds,
    count,
    rounds,
    corpusSize: bundle.corpusSize,
    hits,
    ranks: Array.from(
      { length: count },
      (_, i) => Array.from(ranks.subarray(i * rounds, (i + 1) * rounds)),
    ),
    warnings: bundle.warnings,
    ...extra,
  };
  await writeFileAtomic(args.out, JSON.stringify(out) + "\n");
  if (args.print ?? true) {
    console.log(
      `${args.method} on ${args.benchmark} (${count} dialogues × ${rounds} rounds, corpus ` +
        `${bundle.corpusSize}), cumulative Hits@K (%):`,
    );
    console.log(hitsTable(hits, rounds));
    console.log(
      `ranked in ${seconds.toFixed(1)} s on ${info.name} (${info.device}); wrote ${args.out}`,
    );
  }
  return out;
}

/**
 * The ADaFuSE head of `checkpoint` as an evaluation method, recording per dialogue and round
 * the gate's text weight, `cos(t, g)` and the router probabilities as it fuses.
 */
async function _adafuseMethod(bundle: Bundle, split: string, checkpoint: string) {
  const head = await loadCheckpoint(checkpoint);
  if (head.config.dim !== bundle.dim) {
    head.dispose();
    throw new Error(
      `${checkpoint}: the head takes ${head.config.dim}-d embeddings but ${bundle.dir} has ` +
        `${bundle.dim}-d ones; train a head on this bundle (deno task train)`,
    );
  }
  const { count } = bundle.splits[split];
  const rounds = bundle.rounds, d = bundle.dim;
  const gate = Array.from({ length: count }, () => new Array<number>(rounds));
  const cos = Array.from({ length: count }, () => new Array<number>(rounds));
  const router = Array.from({ length: count }, () => new Array<number[]>(rounds));
  const method = fusionMethod(async (t, g, r) => {
    const f = await head.fuse(t, g, count);
    const k = f.p.length / count;
    const c = rowCosines(t, g, count, d);
    for (let i = 0; i < count; i++) {
      cos[i][r] = c[i];
      gate[i][r] = f.w[i];
      router[i][r] = Array.from(f.p.subarray(i * k, (i + 1) * k));
    }
    return f.q;
  });
  return { head, method, gate, cos, router };
}
