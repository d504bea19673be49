/**
 * Training the fusion head with the reference recipe (docs/method.md; config.ts): symmetric
 * InfoNCE, AdamW, cosine schedule with warm-up, gradient accumulation and clipping, one random
 * round per dialogue per epoch, model selection on a validation split, exact resume.
 *
 * This file holds {@linkcode train}, a few flat steps read top to bottom (plan, check the
 * folder, start the engine, then train and end each epoch), and its public types; the steps
 * themselves are in _epochs.ts, the shared data types in data.ts, the run folder and resume in
 * run_dir.ts, the validation split, gallery and metric in validate.ts, the two gradient engines
 * in engines.ts (their names are re-exported here).
 *
 * Everything random is a function of the seed and the position in the run (epoch, micro-batch):
 * the rounds and the shuffle of epoch `e` come from `Rng(mix(seed, e))`, the dropout masks of
 * micro-batch `i` from `mix(seed, i)`. So a run stopped after any epoch and resumed ends with
 * exactly the weights of an uninterrupted run, on the same backend (and, for the `parallel`
 * engine, the same worker count; another worker count differs by float rounding only).
 *
 * @module
 */
import { FusionHead } from "../model/fusion_head.ts";
import {
  type TrainConfig,
  trainConfigHash,
  type TrainEngine,
  validateTrainConfig,
} from "./config.ts";
import type { EvalRecord, TrainData, TrainProgress } from "./data.ts";
import { dataSignature, RunDir, type RunState } from "./run_dir.ts";
import type { GradientEngine } from "./engines.ts";
import { EpochRunner, planEpochs, startEngine } from "./_epochs.ts";

export { gateStats, validate } from "./validate.ts";
export type {
  EvalRecord,
  GateStats,
  StepLog,
  TrainData,
  TrainProgress,
  TrainSplit,
} from "./data.ts";
export { GradAccumulator } from "./engines.ts";

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** The run directory (created when missing). */
  outDir: string;
  /** Continue the run stopped in `outDir` (it must hold the same config). */
  resume?: boolean;
  /** Called after every update. */
  onProgress?: (p: TrainProgress) => void;
  /** Where progress lines go (default: stderr). Pass `() => {}` for silence. */
  log?: (line: string) => void;
  /** Stop after this many epochs of this call (for tests of resume); the run stays resumable. */
  stopAfterEpochs?: number;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Path of `best.safetensors` (null when no evaluation ran yet). */
  bestCheckpoint: string | null;
  /** Epoch (0-based) of the best val metric; -1 when none. */
  bestEpoch: number;
  /** Best val metric; -Infinity when none. */
  bestMetric: number;
  /** Every evaluation so far. */
  history: EvalRecord[];
  /** Path of `last.safetensors`. */
  lastCheckpoint: string;
  /** Epochs done. */
  epochsDone: number;
  /** Whether all epochs are done. */
  finished: boolean;
  /** True when the run was found finished in `outDir` and nothing was trained. */
  cached: boolean;
  /** The config's hash. */
  configHash: string;
  /**
   * The engine that trained in this call (`autodiff` where `parallel` was asked for on a
   * backend other than wasm); null when nothing was trained (`cached`).
   */
  engine: TrainEngine | null;
  /** Worker threads of the `parallel` engine in this call (0: main thread or `autodiff`). */
  workers: number;
}

/**
 * Trains a fusion head on `data` with `config`, writing the run to `opts.outDir`.
 *
 * A directory holding a finished run of the same config and data is not trained again: the
 * stored result comes back with `cached: true`. One holding an unfinished run of the same
 * config needs `resume: true`; one holding another config is refused.
 *
 * The steps, top to bottom: plan the run (splits, sizes, schedule), check the folder, start the
 * engine (fresh or resumed), then for each epoch train it and end it (validate, save).
 */
export async function train(
  data: TrainData,
  config: TrainConfig,
  opts: TrainOptions,
): Promise<TrainResult> {
  validateTrainConfig(config);
  const c = config;
  const log = opts.log ??
    ((s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s + "\n")));
  const p = planEpochs(data, c, log);

  const run = new RunDir(opts.outDir);
  const dir = run.dir, paths = run.paths;
  await Deno.mkdir(dir, { recursive: true });
  const hash = await trainConfigHash(c);
  const sig = dataSignature(data, c);
  const prev = await run.state();
  const result = (s: RunState, cached: boolean): TrainResult => ({
    bestCheckpoint: s.bestMetric === null ? null : paths.best,
    bestEpoch: s.bestEpoch,
    bestMetric: s.bestMetric ?? -Infinity,
    history: s.history,
    lastCheckpoint: paths.last,
    epochsDone: s.epochsDone,
    finished: s.finished,
    cached,
    configHash: hash,
    engine: null,
    workers: 0,
  });
  if (prev) {
    if (prev.configHash !== hash || prev.dataSignature !== sig) {
      throw new Error(
        `lib/train/loop.ts: ${dir} holds a run of another ${
          prev.configHash !== hash ? "config" : "data set"
        } ` +
          `(config hash ${prev.configHash.slice(0, 12)}, this one ${hash.slice(0, 12)}); ` +
          "choose another output directory or delete it",
      );
    }
    if (prev.finished) {
      log(
        `train: ${dir} already holds the finished run of this config (hash ${
          hash.slice(0, 12)
        }); nothing to do`,
      );
      return result(prev, true);
    }
    if (!opts.resume) {
      throw new Error(
        `lib/train/loop.ts: ${dir} holds an unfinished run of this config (${prev.epochsDone}/${c.epochs} epochs); ` +
          "pass resume (--resume) to continue it, or delete the directory to start over",
      );
    }
  }

  const model = FusionHead.create(p.mcfg, c.seed);
  const state: RunState = prev ?? {
    version: 1,
    configHash: hash,
    dataSignature: sig,
    epochsDone: 0,
    step: 0,
    bestMetric: null,
    bestEpoch: -1,
    history: [],
    finished: false,
  };
  let engine: GradientEngine | null = null;
  let epochs: EpochRunner | null = null;
  try {
    engine = await startEngine(model, p, dir, prev, { hash, sig }, log);
    state.engine = engine.name;
    const logFile = await Deno.open(paths.log, { append: true, create: true });
    try {
      epochs = new EpochRunner(
        p,
        engine,
        model,
        state,
        { dir, hash, logFile },
        log,
        opts.onProgress,
      );
      const stop = opts.stopAfterEpochs === undefined
        ? c.epochs
        : Math.min(c.epochs, state.epochsDone + opts.stopAfterEpochs);
      for (let epoch = state.epochsDone; epoch < stop; epoch++) {
        const trainLoss = await epochs.train(epoch);
        await epochs.end(epoch, trainLoss);
      }
    } finally {
      logFile.close();
    }
  } finally {
    engine?.dispose();
    model.dispose();
    epochs?.dispose();
  }
  return {
    ...result(state, false),
    engine: (engine as GradientEngine | null)?.name ?? null,
    workers: (engine as GradientEngine | null)?.workers ?? 0,
  };
}
