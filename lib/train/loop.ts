/**
 * lib/train/: the training recipe (config.ts), this loop, its run folder (run_dir.ts), validation
 * (validate.ts) and gradient engines (engines.ts), one run on a bundle (run.ts), loss, AdamW,
 * clipping, schedule; parallel/ the data-parallel engine. May import runtime/, data/, model/.
 *
 * Training the fusion head with the recipe of SPEC §3 (config.ts): symmetric
 * InfoNCE, AdamW, cosine schedule with warm-up, gradient accumulation and clipping, one random
 * round per dialogue per epoch, model selection on a validation split, exact resume.
 *
 * This file holds the loop ({@linkcode train}) and its public types; the run folder and resume
 * are in run_dir.ts, the validation split, gallery and metric in validate.ts, the two gradient
 * engines in engines.ts (their names are re-exported here). It stays over 400 lines because
 * {@linkcode train} is one function: the epoch loop closes over the run's state, paths and engine.
 *
 * Everything random is a function of the seed and the position in the run (epoch, micro-batch):
 * the rounds and the shuffle of epoch `e` come from `Rng(mix(seed, e))`, the dropout masks of
 * micro-batch `i` from `mix(seed, i)`. So a run stopped after any epoch and resumed ends with
 * exactly the weights of an uninterrupted run, on the same backend (and, for the `parallel`
 * engine, the same worker count; another worker count differs by float rounding only).
 *
 * @module
 */
import { writeFileAtomic } from "../runtime/paths.ts";
import { type CorpusIndex, prepareCorpus } from "../model/ranking.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { hasExperts } from "../model/config.ts";
import { Rng } from "../runtime/rng.ts";
import { cosineWithWarmup, scheduleSteps } from "./schedule.ts";
import {
  modelConfigOf,
  type TrainConfig,
  trainConfigHash,
  type TrainEngine,
  validateTrainConfig,
} from "./config.ts";
import { _heldOutGallery, _split, _valGallery, validate } from "./validate.ts";
import { type EvalRecord, type TrainData, trainPool } from "./data.ts";
import {
  _dataSignature,
  _loadModelInto,
  _loadOptimizer,
  _saveModel,
  _saveOptimizer,
  type _State,
  readRunState,
} from "./run_dir.ts";
import { _createEngine, type _Engine } from "./engines.ts";
import { clusterTargets, neighbourOrder } from "./sampler.ts";

export { gateStats, validate } from "./validate.ts";
export type { EvalRecord, GateStats, TrainData, TrainSplit } from "./data.ts";
export { GradAccumulator } from "./engines.ts";

/** One `log.jsonl` line of type `step`. */
export interface StepLog {
  /** Always `step`. */
  type: "step";
  /** Updates done, this one included (1-based). */
  step: number;
  /** 0-based epoch of the update. */
  epoch: number;
  /** Mean InfoNCE loss over the update's micro-batches. */
  loss: number;
  /** Learning rate the update used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Mean of the text weight `w` over the update's samples. */
  gateMean: number;
  /** Standard deviation of `w` over the update's samples. */
  gateStd: number;
  /** Mean router probability per expert (the expert load). */
  expertLoad: number[];
  /** Training samples per second over this update. */
  samplesPerSec: number;
}

/** Progress reported to `onProgress` after every update. */
export interface TrainProgress {
  /** Updates done. */
  step: number;
  /** Updates in the whole run. */
  totalSteps: number;
  /** 0-based epoch. */
  epoch: number;
  /** Loss of the last update. */
  loss: number;
  /** Samples per second, averaged since the start of this session. */
  samplesPerSec: number;
  /** Estimated seconds left (training only, evaluations excluded). */
  etaSec: number;
}

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

/** A 32-bit mix of two integers (splitmix-style), for per-epoch and per-step seeds. */
function _mix(a: number, b: number): number {
  let z = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Trains a fusion head on `data` with `config`, writing the run to `opts.outDir`.
 *
 * A directory holding a finished run of the same config and data is not trained again: the
 * stored result comes back with `cached: true`. One holding an unfinished run of the same
 * config needs `resume: true`; one holding another config is refused.
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
  const trainSplit = _split(data, c.trainSplit, "training");
  const valSplit = _split(data, c.valSplit, "validation");
  // Targets come from the split's own image pool when it has one (never the search corpus then).
  const pool = trainPool(data, trainSplit).images;
  if (!trainSplit.images || !valSplit.images) {
    log(
      `train: warning: ${!trainSplit.images ? c.trainSplit : c.valSplit} has no image pool; its ` +
        "targets are search-corpus images (the benchmarks search them too)",
    );
  }
  const { dim: d, rounds: R } = data;
  const mcfg = modelConfigOf(c);
  if (mcfg.dim !== d) {
    throw new Error(
      `lib/train/loop.ts: model.dim is ${mcfg.dim} but the data has dim ${d}; set model.dim=${d}`,
    );
  }
  const N = c.maxTrainDialogues === null
    ? trainSplit.count
    : Math.min(trainSplit.count, c.maxTrainDialogues);
  const B = c.batchSize;
  const nBatches = Math.floor(N / B);
  if (nBatches < 1) {
    throw new Error(
      `lib/train/loop.ts: ${N} training dialogues make no full batch of ${B}; lower batchSize or add data`,
    );
  }
  const stepsPerEpoch = Math.ceil(nBatches / c.accumulate);
  const { totalSteps, warmupSteps } = scheduleSteps(c.epochs, c.warmupEpochs, stepsPerEpoch);

  const dir = opts.outDir.replace(/\/$/, "");
  const paths = {
    config: `${dir}/config.json`,
    state: `${dir}/state.json`,
    last: `${dir}/last.safetensors`,
    best: `${dir}/best.safetensors`,
    optim: `${dir}/optimizer.safetensors`,
    log: `${dir}/log.jsonl`,
  };
  await Deno.mkdir(dir, { recursive: true });
  const hash = await trainConfigHash(c);
  const sig = _dataSignature(data, c);
  const prev = await readRunState(dir);
  const result = (s: _State, cached: boolean): TrainResult => ({
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

  const model = FusionHead.create(mcfg, c.seed);
  let index: CorpusIndex | null = null;
  let heldOutIndex: CorpusIndex | null = null;
  let engine: _Engine | null = null;
  const state: _State = prev ?? {
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
  try {
    if (prev) {
      const meta = await _loadModelInto(model, paths.last);
      const o = await _loadOptimizer(paths.optim);
      if (Number(meta.epochsDone) !== prev.epochsDone || o.epochsDone !== prev.epochsDone) {
        throw new Error(
          `lib/train/loop.ts: ${dir} is inconsistent (state.json says ${prev.epochsDone} epochs, ` +
            `last.safetensors ${meta.epochsDone}, optimizer ${o.epochsDone}); it was stopped while ` +
            "saving: delete the directory and start over",
        );
      }
      engine = await _createEngine(model, c, log);
      engine.importOptimizer(o.state);
      const before = prev.engine ?? "autodiff";
      if (before !== engine.name) {
        log(
          `train: warning: ${dir} was trained so far with the ${before} engine and continues with ` +
            `the ${engine.name} engine (other dropout masks): the run will not equal an ` +
            "uninterrupted one",
        );
      }
      // Drop log lines of a partly done epoch, so the log reads as an uninterrupted run's.
      const old = await Deno.readTextFile(paths.log).catch(() => "");
      const keep = old.split("\n").filter((l) => l && JSON.parse(l).epoch < prev.epochsDone);
      await writeFileAtomic(paths.log, keep.map((l) => l + "\n").join(""));
      log(`train: resuming ${dir} after epoch ${prev.epochsDone}/${c.epochs} (step ${prev.step})`);
    } else {
      engine = await _createEngine(model, c, log);
      await writeFileAtomic(
        paths.config,
        JSON.stringify({ configHash: hash, dataSignature: sig, config: c }, null, 2) + "\n",
      );
      await writeFileAtomic(paths.log, "");
    }
    state.engine = engine.name;
    const logFile = await Deno.open(paths.log, { append: true, create: true });
    try {
      await _loop(engine);
    } finally {
      logFile.close();
    }

    // deno-lint-ignore no-inner-declarations
    async function _loop(eng: _Engine) {
      const enc = new TextEncoder();
      const writeLog = (o: unknown) => logFile.writeSync(enc.encode(JSON.stringify(o) + "\n"));
      const tBuf = new Float32Array(B * d),
        gBuf = new Float32Array(B * d),
        yBuf = new Float32Array(B * d);
      const rounds = new Int32Array(N), perm = new Int32Array(N);
      const k = hasExperts(mcfg.variant) ? mcfg.experts : 0;
      // hard in-batch negatives (a diagnostic): one group of similar targets per micro-batch
      const cluster = c.negatives === "neighbours"
        ? clusterTargets(pool, trainSplit.target, N, d, nBatches, _mix(c.seed, 0x4e454947))
        : null;
      // The ETA: training time at this session's step rate, plus the epoch ends (validation,
      // checkpoints) still to come at their mean cost so far (none counted before the first).
      let sessionSamples = 0, stepSec = 0, endSec = 0, ends = 0;
      const stop = opts.stopAfterEpochs === undefined
        ? c.epochs
        : Math.min(c.epochs, state.epochsDone + opts.stopAfterEpochs);
      for (let epoch = state.epochsDone; epoch < stop; epoch++) {
        const rng = new Rng(_mix(c.seed, epoch));
        for (let i = 0; i < N; i++) rounds[i] = rng.int(R);
        for (let i = 0; i < N; i++) perm[i] = i;
        rng.shuffle(perm);
        if (cluster) neighbourOrder(perm, cluster, rng);
        let epochLoss = 0, epochBatches = 0;
        for (let b0 = 0; b0 < nBatches; b0 += c.accumulate) {
          const t0 = performance.now();
          const nMicro = Math.min(c.accumulate, nBatches - b0);
          for (let mb = b0; mb < b0 + nMicro; mb++) {
            for (let j = 0; j < B; j++) {
              const i = perm[mb * B + j], off = (i * R + rounds[i]) * d;
              tBuf.set(trainSplit.text.subarray(off, off + d), j * d);
              gBuf.set(trainSplit.gen.subarray(off, off + d), j * d);
              const tg = trainSplit.target[i];
              yBuf.set(pool.subarray(tg * d, tg * d + d), j * d);
            }
            const dropSeed = _mix(c.seed ^ 0x5bd1e995, epoch * nBatches + mb);
            await eng.micro(tBuf, gBuf, yBuf, B, dropSeed);
          }
          const lr = cosineWithWarmup(state.step, c.lr, totalSteps, warmupSteps);
          const { norm, stats: sv } = await eng.update(lr);
          state.step++;
          const ns = nMicro * B;
          const loss = sv[0] / nMicro, gateMean = sv[1] / ns;
          const gateStd = Math.sqrt(Math.max(0, sv[2] / ns - gateMean * gateMean));
          const expertLoad = Array.from(sv.subarray(3, 3 + k), (x) => x / ns);
          const secs = (performance.now() - t0) / 1000;
          epochLoss += sv[0];
          epochBatches += nMicro;
          sessionSamples += ns;
          if (!Number.isFinite(loss)) {
            throw new Error(
              `lib/train/loop.ts: the loss became ${loss} at step ${state.step} (epoch ${epoch}); lower lr or check the data`,
            );
          }
          if (state.step % c.logEvery === 0 || state.step === totalSteps) {
            const line: StepLog = {
              type: "step",
              step: state.step,
              epoch,
              loss,
              lr,
              gradNorm: norm,
              gateMean,
              gateStd,
              expertLoad,
              samplesPerSec: ns / secs,
            };
            writeLog(line);
          }
          stepSec += (performance.now() - t0) / 1000;
          const rate = sessionSamples / stepSec;
          const eta = ((totalSteps - state.step) * c.accumulate * B) / rate +
            (ends ? (c.epochs - epoch) * (endSec / ends) : 0);
          opts.onProgress?.({
            step: state.step,
            totalSteps,
            epoch,
            loss,
            samplesPerSec: rate,
            etaSec: eta,
          });
          if (
            state.step % Math.max(1, Math.round(stepsPerEpoch / 4)) === 0 ||
            state.step === totalSteps
          ) {
            log(
              `train: epoch ${epoch + 1}/${c.epochs} step ${state.step}/${totalSteps} loss ${
                loss.toFixed(4)
              } ` +
                `lr ${lr.toExponential(2)} |g| ${norm.toFixed(3)} w ${gateMean.toFixed(3)} ` +
                `${rate.toFixed(0)} samples/s ETA ${_fmtSec(eta)}`,
            );
          }
        }
        const trainLoss = epochLoss / epochBatches;
        const tEnd = performance.now();
        await eng.sync();
        if ((epoch + 1) % c.evalEvery === 0 || epoch === c.epochs - 1) {
          index ??= prepareCorpus(_valGallery(data, trainSplit, valSplit), d);
          if (!heldOutIndex) {
            const held = _heldOutGallery(data, valSplit);
            if (held) heldOutIndex = prepareCorpus(held, d);
          }
          const ev = await validate(
            model,
            index,
            valSplit,
            R,
            c.valK,
            c.maxValDialogues,
            heldOutIndex,
          );
          const rec: EvalRecord = {
            epoch,
            step: state.step,
            trainLoss,
            valMetric: ev.metric,
            valHits: ev.hits,
            heldOutMetric: ev.heldOut?.metric ?? null,
            heldOutHits: ev.heldOut?.hits ?? null,
            gate: ev.gate,
          };
          state.history.push(rec);
          writeLog({ type: "eval", ...rec });
          const better = state.bestMetric === null || ev.metric > state.bestMetric;
          log(
            `train: epoch ${epoch + 1} val mean Hits@${c.valK} ${(100 * ev.metric).toFixed(2)}% ` +
              `(round 0 ${(100 * ev.hits[0]).toFixed(1)}%, last ${
                (100 * ev.hits[R - 1]).toFixed(1)
              }%)` +
              (ev.heldOut ? `, held-out gallery ${(100 * ev.heldOut.metric).toFixed(2)}%` : "") +
              `; image weight ${ev.gate.mean.toFixed(3)} ± ${ev.gate.sd.toFixed(3)}, slope ` +
              `${ev.gate.slope.toFixed(3)} (R² ${ev.gate.r2.toFixed(3)})` +
              (ev.gate.auc === null ? "" : `, off-scene AUC ${ev.gate.auc.toFixed(3)}`) +
              (better ? " best so far" : ""),
          );
          if (better) {
            state.bestMetric = ev.metric;
            state.bestEpoch = epoch;
            await _saveModel(model, paths.best, {
              epoch: String(epoch),
              valMetric: String(ev.metric),
              configHash: hash,
            });
          }
        }
        state.epochsDone = epoch + 1;
        state.finished = state.epochsDone === c.epochs;
        await _saveModel(model, paths.last, {
          epochsDone: String(state.epochsDone),
          configHash: hash,
        });
        await _saveOptimizer(await eng.exportOptimizer(), paths.optim, state.epochsDone);
        await writeFileAtomic(paths.state, JSON.stringify(state, null, 1) + "\n");
        endSec += (performance.now() - tEnd) / 1000;
        ends++;
      }
    }
  } finally {
    (engine as _Engine | null)?.dispose();
    model.dispose();
    (index as CorpusIndex | null)?.dispose();
    (heldOutIndex as CorpusIndex | null)?.dispose();
  }
  return {
    ...result(state, false),
    engine: (engine as _Engine | null)?.name ?? null,
    workers: (engine as _Engine | null)?.workers ?? 0,
  };
}

function _fmtSec(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60).toString().padStart(2, "0")}s` : `${Math.round(s)}s`;
}
