/**
 * The reproduction pipeline, step by step, with every step cached on disk so that notebooks,
 * `deno task repro` and `deno task figures` share the work: the data bundle (synthetic by
 * default), the trained head, each evaluation, and the gate samples of Figure 4. What it runs on
 * (data, recipe, seeds) is a config of experiment.ts.
 *
 * Cache layout (all under `data/`, ignored by git; `ADAFUSE_CACHE_DIR` moves it):
 * - `data/cache/synthetic-<preset>-<seed>-<hash8>/`: the bundle (see lib/data/synthetic/generator.ts);
 * - `data/runs/<bundle>--<train preset>-seed<S>-<hash8>/`: the training run of training seed S
 *   (lib/train/loop.ts); one per seed of `config.trainSeeds`;
 * - `data/cache/eval/<bundle>/<method>[--<run>]/<benchmark>.json`: one evaluation;
 * - `data/cache/gate/<bundle>--<run>-<split>-<n>-gate<gateSeed>.json`: the gate samples.
 * A cached file is only ever written whole (temp file, then rename), so a stopped run never
 * leaves a half result behind, and the next run picks up where it stopped.
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import { DAR_SCHEDULE, darWeights, rowCosines } from "../eval/baselines.ts";
import { BundleCache } from "../data/bundle_cache.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { type EvalMethod, type EvalOutput, runEval } from "../eval/evaluate.ts";
import { trainOnBundle, type TrainOnBundleOptions } from "../train/run.ts";
import { isFinishedRun, RunDir } from "../train/run_dir.ts";
import { defaultProgressMode, trainingProgress } from "../show/progress.ts";
import { averageRankDrop, degradationRate } from "../eval/metrics.ts";
import type { DegradationSeries } from "./fig1_degradation.ts";
import type { RankTable } from "./reference.ts";
import { CACHE_DIR, readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import { Rng } from "../runtime/rng.ts";
import { ensureSynthetic } from "../data/synthetic/generator.ts";
import { type TrainConfig, trainConfig, trainConfigHash } from "../train/config.ts";
import {
  type ReproConfig,
  reproConfig,
  reproSeeds,
  type ResolvedReproConfig,
} from "./experiment.ts";

function _trainSeed(c: ResolvedReproConfig, trainSeed?: number): number {
  const s = trainSeed ?? c.trainSeeds[0];
  if (!Number.isInteger(s)) throw new Error(`pipeline: training seed ${s} is not an integer`);
  return s;
}

function _base(path: string): string {
  return path.replace(/\/+$/, "").replace(/^.*\//, "");
}

/** The bundle folder: `config.data`, or the synthetic bundle (generated once, then cached). */
export async function reproData(config: Partial<ReproConfig> = {}): Promise<string> {
  const c = reproConfig(config);
  if (c.data) return c.data;
  return await ensureSynthetic({ preset: c.dataPreset, seed: c.dataSeed, overrides: c.synthetic });
}

/** A finished training run: its folder and the checkpoint selected on `val`. */
export interface TrainedRun {
  /** The training seed of the run. */
  seed: number;
  /** The run folder (`log.jsonl`, `state.json`, checkpoints). */
  dir: string;
  /** The checkpoint selected on the validation split. */
  checkpoint: string;
}

/**
 * The training config of a reproduction config and training seed: its preset, the seed (default:
 * the first of {@linkcode reproSeeds}), then `overrides`.
 */
export function reproTrainingConfig(
  config: Partial<ReproConfig> = {},
  trainSeed?: number,
): TrainConfig {
  const c = reproConfig(config);
  return trainConfig(c.trainPreset, { seed: _trainSeed(c, trainSeed), ...c.overrides });
}

/** Options of {@linkcode reproTrain}. */
export interface ReproTrainOptions {
  /** The training seed (default: the first of {@linkcode reproSeeds}). */
  seed?: number;
  /** Called after every update (e.g. lib/show/progress.ts's bar). */
  onProgress?: TrainOnBundleOptions["onProgress"];
  /** Where the progress lines go (default: stderr). */
  log?: (line: string) => void;
}

/** The training config a reproduction config trains with (its first training seed). */
export function trainConfigOf(config: Partial<ReproConfig> = {}): TrainConfig {
  return reproTrainingConfig(config);
}

/**
 * The bundle the pipeline read last: training seeds and the gate samples read the same training
 * split in turn, once per process with it (lib/data/bundle_cache.ts).
 */
const _bundles = new BundleCache();

/**
 * Lets go of the bundle the pipeline keeps (the training split: 2.8 GB as float32 on the
 * default); `npm run repro` calls it once the trainings and gate samples are done.
 */
export function releaseReproData(): void {
  _bundles.clear();
}

/**
 * Trains the head once per (data, training config, training seed) and returns the run; a
 * finished run of the same config is reused without a word, a stopped one is resumed. The
 * training seed is `opts.seed`, else the first of `trainSeeds`. Without `onProgress`
 * or `log`, training in a notebook shows a live progress bar and prints no lines.
 *
 * @param config the reproduction config.
 * @param opts the training seed and where progress goes.
 */
export async function reproTrain(
  config: Partial<ReproConfig> = {},
  opts: ReproTrainOptions = {},
): Promise<TrainedRun> {
  const c = reproConfig(config);
  const seed = _trainSeed(c, opts.seed);
  const data = await reproData(c);
  const trainCfg = reproTrainingConfig(c, seed);
  const fullHash = await trainConfigHash(trainCfg);
  const dir = `${CACHE_DIR}/runs/${_base(data)}--${c.trainPreset}-seed${trainCfg.seed}-${
    fullHash.slice(0, 8)
  }`;
  const state = await new RunDir(dir).state();
  // a finished run of this config is reused silently (no "nothing to do" line in notebooks)
  if (!isFinishedRun(state, fullHash)) {
    const bar = !opts.onProgress && !opts.log && defaultProgressMode() === "notebook"
      ? trainingProgress("training")
      : undefined;
    await trainOnBundle(data, trainCfg, {
      outDir: dir,
      loadData: (dir, splits) => _bundles.load(dir, splits),
      resume: state !== undefined && !state.finished,
      onProgress: bar?.onProgress ?? opts.onProgress,
      log: bar?.log ?? opts.log,
    });
    await bar?.finish();
  }
  const checkpoint = new RunDir(dir).paths.best;
  try {
    await Deno.stat(checkpoint);
  } catch {
    throw new Error(`${dir}: training finished without a best checkpoint; see ${dir}/log.jsonl`);
  }
  return { seed: trainCfg.seed, dir, checkpoint };
}

/** One run per training seed of `config` ({@linkcode reproSeeds}), in that order, cached. */
export async function reproSeedRuns(config: Partial<ReproConfig> = {}): Promise<TrainedRun[]> {
  const runs: TrainedRun[] = [];
  for (const s of reproSeeds(config)) runs.push(await reproTrain(config, { seed: s }));
  return runs;
}

/**
 * One method on one benchmark, evaluated once and cached (`adafuse` trains the head first,
 * through {@linkcode reproTrain}, with `trainSeed`, default the first of the config's seeds;
 * the baselines ignore it). `head` picks the run's checkpoint: `best` (selected on `val`, the
 * default) or `last` (after the last epoch; cached as `adafuse-last--<run>`).
 */
export async function reproEval(
  config: Partial<ReproConfig>,
  benchmark: string,
  method: EvalMethod,
  trainSeed?: number,
  head: "best" | "last" = "best",
): Promise<EvalOutput> {
  const c = reproConfig(config);
  const data = await reproData(c);
  const run = method === "adafuse" ? await reproTrain(c, { seed: trainSeed }) : undefined;
  const checkpoint = run && (head === "last" ? new RunDir(run.dir).paths.last : run.checkpoint);
  const tag = run ? `${method}${head === "last" ? "-last" : ""}--${_base(run.dir)}` : method;
  const out = `${CACHE_DIR}/cache/eval/${_base(data)}/${tag}/${benchmark}.json`;
  const cached = await readJsonIfExists<EvalOutput>(out);
  if (cached) return cached;
  await initBackend();
  console.log(`eval: ${method} on ${benchmark} (${_base(data)})`);
  return await runEval({
    data,
    benchmark,
    method,
    checkpoint,
    out,
    print: false,
  });
}

/** One training seed's evaluation. */
export interface SeedEval {
  /** The training seed. */
  seed: number;
  /** The evaluation of the head trained with it. */
  eval: EvalOutput;
}

/**
 * A method on a benchmark once per training seed ({@linkcode reproSeeds}), each cached. The
 * baselines do not train, so they give one entry per seed with the same (cached) numbers.
 */
export async function reproEvalSeeds(
  config: Partial<ReproConfig>,
  benchmark: string,
  method: EvalMethod,
): Promise<SeedEval[]> {
  const out: SeedEval[] = [];
  for (const seed of reproSeeds(config)) {
    out.push({ seed, eval: await reproEval(config, benchmark, method, seed) });
  }
  return out;
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
 * replacement from the training split (all pairs when there are fewer), cached. The pairs are a
 * function of `config.gateSeed`; the head is the run of `trainSeed` (default: the first seed).
 */
export async function reproGate(
  config: Partial<ReproConfig> = {},
  n = 100_000,
  split = "train",
  trainSeed?: number,
): Promise<GateSamples> {
  const c = reproConfig(config);
  const data = await reproData(c);
  const run = await reproTrain(c, { seed: trainSeed });
  const out = `${CACHE_DIR}/cache/gate/${_base(data)}--${
    _base(run.dir)
  }-${split}-${n}-gate${c.gateSeed}.json`;
  const cached = await readJsonIfExists<GateSamples>(out);
  if (cached) return cached;
  await initBackend();
  const bundle = await _bundles.load(data, [split]);
  const s = bundle.splits[split];
  const { rounds, dim } = bundle;
  const total = s.count * rounds;
  const pick = new Int32Array(total).map((_, i) => i);
  new Rng(c.gateSeed).shuffle(pick);
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
