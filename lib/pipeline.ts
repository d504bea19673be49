/**
 * The reproduction pipeline, step by step, with every step cached on disk so that notebooks,
 * `deno task repro` and `deno task figures` share the work: the data bundle (synthetic by
 * default), the trained head, each evaluation, and the gate samples of Figure 4.
 *
 * Cache layout (all under `data/`, ignored by git; `ADAFUSE_CACHE_DIR` moves it):
 * - `data/cache/synthetic-<preset>-<seed>-<hash8>/`: the bundle (see lib/synthetic.ts);
 * - `data/runs/<bundle>--<train preset>-<hash8>/`: the training run (lib/train.ts);
 * - `data/cache/eval/<bundle>/<method>[--<run>]/<benchmark>.json`: one evaluation;
 * - `data/cache/gate/<bundle>--<run>-<n>-<seed>.json`: the gate samples.
 * A cached file is only ever written whole (temp file, then rename), so a stopped run never
 * leaves a half result behind, and the next run picks up where it stopped.
 *
 * @module
 */
import { initBackend } from "./backend.ts";
import { DAR_SCHEDULE, darWeights, rowCosines } from "./baselines.ts";
import { loadBundle } from "./bundle.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { type EvalMethod, type EvalOutput, runEval } from "./cli/eval.ts";
import { configFromArgs, parseTrainArgs, runTrain } from "./cli/train.ts";
import { averageRankDrop, degradationRate } from "./metrics.ts";
import type { DegradationSeries, RankTable } from "./paper_figures.ts";
import { CACHE_DIR, writeFileAtomic } from "./paths.ts";
import { Rng } from "./rng.ts";
import { ensureSynthetic } from "./synthetic.ts";
import { defaultProgressMode, trainingProgress } from "./show/progress.ts";
import type { TrainOptions } from "./train.ts";
import { type TrainConfig, trainConfigHash } from "./train_config.ts";

/** What a reproduction runs on: the data, the training recipe, the seeds. */
export interface ReproConfig {
  /** Seed of the synthetic data and of training. */
  seed: number;
  /** Synthetic data preset: `default` (the paper's sizes) or `small` (tests, quick looks). */
  preset: string;
  /** A bundle folder of real embeddings; when set, `preset` is ignored. */
  data?: string;
  /** Training preset of lib/train_config.ts (`repro` fits the time here; `default` = SPEC). */
  trainPreset: string;
  /** `key=value` overrides of the training config. */
  trainSet: string[];
}

/** The configuration `deno task repro` and the notebooks use unless told otherwise. */
export const REPRO_DEFAULTS: Readonly<ReproConfig> = Object.freeze({
  seed: 0,
  preset: "default",
  trainPreset: "repro",
  trainSet: [],
});

/** The four benchmarks of Figure 3, in the paper's panel order. */
export const PAPER_BENCHMARKS: readonly string[] = [
  "visdial",
  "chatgpt_blip2",
  "human_blip2",
  "flan_alpaca_xxl_blip2",
];

function _cfg(c: Partial<ReproConfig>): ReproConfig {
  return { ...REPRO_DEFAULTS, ...c, trainSet: [...(c.trainSet ?? REPRO_DEFAULTS.trainSet)] };
}

function _base(path: string): string {
  return path.replace(/\/+$/, "").replace(/^.*\//, "");
}

async function _readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${path}: unreadable cache file (${(e as Error).message}); delete it`);
  }
}

/** The bundle folder: `config.data`, or the synthetic bundle (generated once, then cached). */
export async function reproData(config: Partial<ReproConfig> = {}): Promise<string> {
  const c = _cfg(config);
  if (c.data) return c.data;
  return await ensureSynthetic({ preset: c.preset, seed: c.seed });
}

/** A finished training run: its folder and the checkpoint selected on `val`. */
export interface TrainedRun {
  /** The run folder (`log.jsonl`, `state.json`, checkpoints). */
  dir: string;
  /** The checkpoint selected on the validation split. */
  checkpoint: string;
}

/** The training command line of a reproduction config. */
function _trainArgv(c: ReproConfig, data: string, out: string): string[] {
  return [
    "--data",
    data,
    "--out",
    out,
    "--preset",
    c.trainPreset,
    "--set",
    `seed=${c.seed}`,
    ...c.trainSet.flatMap((s) => ["--set", s]),
  ];
}

/** The training config a reproduction config trains with (preset, `trainSet`, its seed). */
export async function trainConfigOf(config: Partial<ReproConfig> = {}): Promise<TrainConfig> {
  const c = _cfg(config);
  const data = await reproData(c);
  return await configFromArgs(parseTrainArgs(_trainArgv(c, data, "-")));
}

/**
 * Trains the head once per (data, training config) and returns the run; a finished run of the
 * same config is reused without a word, a stopped one is resumed. `opts.onProgress` sees every
 * update (e.g. lib/show/progress.ts's bar), `opts.log` the progress lines (default stderr; in a
 * notebook, without either option, a live progress bar and no lines).
 */
export async function reproTrain(
  config: Partial<ReproConfig> = {},
  opts: Pick<TrainOptions, "onProgress" | "log"> = {},
): Promise<TrainedRun> {
  const c = _cfg(config);
  const data = await reproData(c);
  const probe = await configFromArgs(parseTrainArgs(_trainArgv(c, data, "-")));
  const fullHash = await trainConfigHash(probe);
  const dir = `${CACHE_DIR}/runs/${_base(data)}--${c.trainPreset}-${fullHash.slice(0, 8)}`;
  const state = await _readJson<{ finished?: boolean; configHash?: string }>(`${dir}/state.json`);
  // a finished run of this config is reused silently (no "nothing to do" line in notebooks)
  if (!(state?.finished && state.configHash === fullHash)) {
    const argv = _trainArgv(c, data, dir);
    if (state && !state.finished) argv.push("--resume");
    // in a notebook, training without a progress option shows a live bar (nothing on stderr)
    const bar = !opts.onProgress && !opts.log && defaultProgressMode() === "notebook"
      ? trainingProgress("training")
      : undefined;
    await runTrain(argv, undefined, bar ?? opts);
    await bar?.finish();
  }
  const checkpoint = `${dir}/best.safetensors`;
  try {
    await Deno.stat(checkpoint);
  } catch {
    throw new Error(`${dir}: training finished without a best checkpoint; see ${dir}/log.jsonl`);
  }
  return { dir, checkpoint };
}

/**
 * One method on one benchmark, evaluated once and cached (`adafuse` trains the head first,
 * through {@linkcode reproTrain}).
 */
export async function reproEval(
  config: Partial<ReproConfig>,
  benchmark: string,
  method: EvalMethod,
): Promise<EvalOutput> {
  const c = _cfg(config);
  const data = await reproData(c);
  const run = method === "adafuse" ? await reproTrain(c) : undefined;
  const tag = run ? `${method}--${_base(run.dir)}` : method;
  const out = `${CACHE_DIR}/cache/eval/${_base(data)}/${tag}/${benchmark}.json`;
  const cached = await _readJson<EvalOutput>(out);
  if (cached) return cached;
  await initBackend();
  console.log(`eval: ${method} on ${benchmark} (${_base(data)})`);
  return await runEval({
    data,
    benchmark,
    method,
    checkpoint: run?.checkpoint,
    out,
    print: false,
  });
}

/** Ranks of an evaluation as a {@linkcode RankTable}. */
export function rankTable(e: EvalOutput): RankTable {
  const ranks = new Int32Array(e.count * e.rounds);
  e.ranks.forEach((row, i) => ranks.set(row, i * e.rounds));
  return { count: e.count, rounds: e.rounds, ranks };
}

/** Degradation rate and average rank drop per round of `fused` against `text` (ChatIR). */
export function degradationSeries(
  method: string,
  fused: EvalOutput,
  text: EvalOutput,
): DegradationSeries {
  const f = rankTable(fused), t = rankTable(text);
  if (f.count !== t.count || f.rounds !== t.rounds) {
    throw new Error(
      `degradation: ${method} has ${f.count}×${f.rounds} ranks, text ${t.count}×${t.rounds}; ` +
        "evaluate both on the same benchmark",
    );
  }
  return {
    method,
    rate: degradationRate(f.ranks, t.ranks, f.count, f.rounds),
    drop: averageRankDrop(f.ranks, t.ranks, f.count, f.rounds),
  };
}

/** Samples of the gate for Figure 4. */
export interface GateSamples {
  /** `cos(t, g)` of each sampled (dialogue, round) pair. */
  cos: number[];
  /** The image weight `1 − w` the head gives it. */
  imageWeight: number[];
  /** Split the pairs come from. */
  split: string;
}

/**
 * The image weight `1 − w` and `cos(t, g)` for `n` (dialogue, round) pairs drawn without
 * replacement from the training split (all pairs when there are fewer), cached.
 */
export async function reproGate(
  config: Partial<ReproConfig> = {},
  n = 100_000,
  split = "train",
): Promise<GateSamples> {
  const c = _cfg(config);
  const data = await reproData(c);
  const run = await reproTrain(c);
  const out = `${CACHE_DIR}/cache/gate/${_base(data)}--${
    _base(run.dir)
  }-${split}-${n}-${c.seed}.json`;
  const cached = await _readJson<GateSamples>(out);
  if (cached) return cached;
  await initBackend();
  const bundle = await loadBundle(data, { splits: [split] });
  const s = bundle.splits[split];
  const { rounds, dim } = bundle;
  const total = s.count * rounds;
  const pick = new Int32Array(total).map((_, i) => i);
  new Rng(c.seed + 4).shuffle(pick);
  const m = Math.min(n, total);
  const chosen = pick.subarray(0, m).sort();
  const t = new Float32Array(m * dim), g = new Float32Array(m * dim);
  for (let j = 0; j < m; j++) {
    const off = chosen[j] * dim; // [count, rounds, dim] row-major: pair index × dim
    t.set(s.text.subarray(off, off + dim), j * dim);
    g.set(s.gen.subarray(off, off + dim), j * dim);
  }
  const cos = Array.from(rowCosines(t, g, m, dim));
  const head = await loadCheckpoint(run.checkpoint);
  try {
    const w = await head.gate(t, g, m);
    const res: GateSamples = { cos, imageWeight: Array.from(w, (v) => 1 - v), split };
    await writeFileAtomic(out, JSON.stringify(res));
    return res;
  } finally {
    head.dispose();
  }
}

/** DAR's mean image weight over the rounds of a dialogue (0.445 with the official schedule). */
export function darMeanImageWeight(rounds = 11, schedule = DAR_SCHEDULE): number {
  let s = 0;
  for (let r = 0; r < rounds; r++) s += darWeights(r, schedule)[1];
  return s / rounds;
}
