/**
 * The steps of {@linkcode train} (lib/train/loop.ts), private to train/: the plan of a run
 * (splits, sizes, schedule), starting its engine fresh or from a checkpoint, and its epochs
 * (`EpochRunner`: an epoch's updates, then validation and saving).
 *
 * @module
 */
import { writeFileAtomic } from "../runtime/paths.ts";
import { type CorpusIndex, prepareCorpus } from "../model/ranking.ts";
import type { FusionHead } from "../model/fusion_head.ts";
import { type FusionConfig, hasExperts } from "../model/config.ts";
import { Rng } from "../runtime/rng.ts";
import { cosineWithWarmup, scheduleSteps } from "./schedule.ts";
import { modelConfigOf, type TrainConfig } from "./config.ts";
import { heldOutGallery, splitOf, valGallery, validate } from "./validate.ts";
import {
  type EvalRecord,
  type StepLog,
  type TrainData,
  trainPool,
  type TrainProgress,
  type TrainSplit,
} from "./data.ts";
import {
  loadModelInto,
  loadOptimizer,
  RunDir,
  type RunState,
  saveModel,
  saveOptimizer,
} from "./run_dir.ts";
import { createEngine, type GradientEngine } from "./engines.ts";
import { clusterTargets, neighbourOrder } from "./sampler.ts";

/** A 32-bit mix of two integers (splitmix-style), for per-epoch and per-step seeds. */
function _mix(a: number, b: number): number {
  let z = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** What a training run is made of, from the data and the config (no state). */
export interface EpochPlan {
  c: TrainConfig;
  data: TrainData;
  trainSplit: TrainSplit;
  valSplit: TrainSplit;
  /** The image pool the training targets index. */
  pool: Float32Array;
  mcfg: FusionConfig;
  /** Training dialogues used, micro-batch size, full micro-batches an epoch. */
  N: number;
  B: number;
  nBatches: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
}

/** The splits, sizes and schedule of a run; throws naming the fix when they do not fit. */
export function planEpochs(data: TrainData, c: TrainConfig, log: (s: string) => void): EpochPlan {
  const trainSplit = splitOf(data, c.trainSplit, "training");
  const valSplit = splitOf(data, c.valSplit, "validation");
  // Targets come from the split's own image pool when it has one (never the search corpus then).
  const pool = trainPool(data, trainSplit).images;
  if (!trainSplit.images || !valSplit.images) {
    log(
      `train: warning: ${!trainSplit.images ? c.trainSplit : c.valSplit} has no image pool; its ` +
        "targets are search-corpus images (the benchmarks search them too)",
    );
  }
  const mcfg = modelConfigOf(c);
  if (mcfg.dim !== data.dim) {
    throw new Error(
      `lib/train/_epochs.ts: model.dim is ${mcfg.dim} but the data has dim ${data.dim}; ` +
        `set model.dim=${data.dim}`,
    );
  }
  const N = c.maxTrainDialogues === null
    ? trainSplit.count
    : Math.min(trainSplit.count, c.maxTrainDialogues);
  const B = c.batchSize;
  const nBatches = Math.floor(N / B);
  if (nBatches < 1) {
    throw new Error(
      `lib/train/_epochs.ts: ${N} training dialogues make no full batch of ${B}; ` +
        `lower batchSize or add data`,
    );
  }
  const stepsPerEpoch = Math.ceil(nBatches / c.accumulate);
  const { totalSteps, warmupSteps } = scheduleSteps(c.epochs, c.warmupEpochs, stepsPerEpoch);
  return {
    c,
    data,
    trainSplit,
    valSplit,
    pool,
    mcfg,
    N,
    B,
    nBatches,
    stepsPerEpoch,
    totalSteps,
    warmupSteps,
  };
}

/**
 * Starts the engine for `model`: fresh (writing the run's config and an empty log), or, when
 * `prev` is an unfinished run, from its last checkpoint and optimizer state (dropping the log
 * lines of its partly done epoch).
 */
export async function startEngine(
  model: FusionHead,
  p: EpochPlan,
  dir: string,
  prev: RunState | undefined,
  ids: { hash: string; sig: string },
  log: (s: string) => void,
): Promise<GradientEngine> {
  const paths = new RunDir(dir).paths, c = p.c;
  if (!prev) {
    const engine = await createEngine(model, c, log);
    await writeFileAtomic(
      paths.config,
      JSON.stringify({ configHash: ids.hash, dataSignature: ids.sig, config: c }, null, 2) + "\n",
    );
    await writeFileAtomic(paths.log, "");
    return engine;
  }
  const meta = await loadModelInto(model, paths.last);
  const o = await loadOptimizer(paths.optim);
  if (Number(meta.epochsDone) !== prev.epochsDone || o.epochsDone !== prev.epochsDone) {
    throw new Error(
      `lib/train/_epochs.ts: ${dir} is inconsistent (state.json says ${prev.epochsDone} epochs, ` +
        `last.safetensors ${meta.epochsDone}, optimizer ${o.epochsDone}); it was stopped while ` +
        "saving: delete the directory and start over",
    );
  }
  const engine = await createEngine(model, c, log);
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
  return engine;
}

/**
 * The epochs of one {@linkcode train} call: {@linkcode EpochRunner.train} runs an epoch's updates,
 * {@linkcode EpochRunner.end} validates and saves after it. Holds the batch buffers, the galleries
 * (made at the first validation) and the ETA's clock.
 */
export class EpochRunner {
  #p: EpochPlan;
  #eng: GradientEngine;
  #model: FusionHead;
  #state: RunState;
  #dir: string;
  #hash: string;
  #logFile: Deno.FsFile;
  #log: (s: string) => void;
  #onProgress?: (p: TrainProgress) => void;
  #enc = new TextEncoder();
  #buf: { t: Float32Array; g: Float32Array; y: Float32Array };
  #rounds: Int32Array;
  #perm: Int32Array;
  #cluster: Int32Array | null;
  #index: CorpusIndex | null = null;
  #heldOut: CorpusIndex | null = null;
  // The ETA: training time at this session's step rate, plus the epoch ends (validation,
  // checkpoints) still to come at their mean cost so far (none counted before the first).
  #samples = 0;
  #stepSec = 0;
  #endSec = 0;
  #ends = 0;

  constructor(
    p: EpochPlan,
    eng: GradientEngine,
    model: FusionHead,
    state: RunState,
    run: { dir: string; hash: string; logFile: Deno.FsFile },
    log: (s: string) => void,
    onProgress?: (p: TrainProgress) => void,
  ) {
    this.#p = p;
    this.#eng = eng;
    this.#model = model;
    this.#state = state;
    this.#dir = run.dir;
    this.#hash = run.hash;
    this.#logFile = run.logFile;
    this.#log = log;
    this.#onProgress = onProgress;
    const { B, N, data: { dim: d } } = p;
    this.#buf = {
      t: new Float32Array(B * d),
      g: new Float32Array(B * d),
      y: new Float32Array(B * d),
    };
    this.#rounds = new Int32Array(N);
    this.#perm = new Int32Array(N);
    // hard in-batch negatives (a diagnostic): one group of similar targets per micro-batch
    this.#cluster = p.c.negatives === "neighbours"
      ? clusterTargets(p.pool, p.trainSplit.target, N, d, p.nBatches, _mix(p.c.seed, 0x4e454947))
      : null;
  }

  #writeLog(o: unknown): void {
    this.#logFile.writeSync(this.#enc.encode(JSON.stringify(o) + "\n"));
  }

  /** The epoch's order: a round per dialogue and a shuffle, from `Rng(mix(seed, epoch))`. */
  #order(epoch: number): void {
    const { N, data: { rounds: R }, c } = this.#p;
    const rng = new Rng(_mix(c.seed, epoch));
    for (let i = 0; i < N; i++) this.#rounds[i] = rng.int(R);
    for (let i = 0; i < N; i++) this.#perm[i] = i;
    rng.shuffle(this.#perm);
    if (this.#cluster) neighbourOrder(this.#perm, this.#cluster, rng);
  }

  /** Micro-batch `mb` of the epoch's order into the batch buffers. */
  #fill(mb: number): void {
    const { B, trainSplit, pool, data: { dim: d, rounds: R } } = this.#p;
    const { t, g, y } = this.#buf;
    for (let j = 0; j < B; j++) {
      const i = this.#perm[mb * B + j], off = (i * R + this.#rounds[i]) * d;
      t.set(trainSplit.text.subarray(off, off + d), j * d);
      g.set(trainSplit.gen.subarray(off, off + d), j * d);
      const tg = trainSplit.target[i];
      y.set(pool.subarray(tg * d, tg * d + d), j * d);
    }
  }

  /** Trains epoch `epoch`: every update, with its log line and progress; its mean loss. */
  async train(epoch: number): Promise<number> {
    const { c, B, nBatches, totalSteps, warmupSteps, stepsPerEpoch, mcfg } = this.#p;
    const state = this.#state, eng = this.#eng;
    const k = hasExperts(mcfg.variant) ? mcfg.experts : 0;
    this.#order(epoch);
    let epochLoss = 0, epochBatches = 0;
    for (let b0 = 0; b0 < nBatches; b0 += c.accumulate) {
      const t0 = performance.now();
      const nMicro = Math.min(c.accumulate, nBatches - b0);
      for (let mb = b0; mb < b0 + nMicro; mb++) {
        this.#fill(mb);
        const dropSeed = _mix(c.seed ^ 0x5bd1e995, epoch * nBatches + mb);
        await eng.micro(this.#buf.t, this.#buf.g, this.#buf.y, B, dropSeed);
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
      this.#samples += ns;
      if (!Number.isFinite(loss)) {
        throw new Error(
          `lib/train/_epochs.ts: the loss became ${loss} at step ${state.step} (epoch ${epoch}); ` +
            `lower lr or check the data`,
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
        this.#writeLog(line);
      }
      this.#stepSec += (performance.now() - t0) / 1000;
      const rate = this.#samples / this.#stepSec;
      const eta = ((totalSteps - state.step) * c.accumulate * B) / rate +
        (this.#ends ? (c.epochs - epoch) * (this.#endSec / this.#ends) : 0);
      this.#onProgress?.({
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
        this.#log(
          `train: epoch ${epoch + 1}/${c.epochs} step ${state.step}/${totalSteps} loss ${
            loss.toFixed(4)
          } ` +
            `lr ${lr.toExponential(2)} |g| ${norm.toFixed(3)} w ${gateMean.toFixed(3)} ` +
            `${rate.toFixed(0)} samples/s ETA ${_fmtSec(eta)}`,
        );
      }
    }
    return epochLoss / epochBatches;
  }

  /**
   * After epoch `epoch`: validates (every `evalEvery` epochs and after the last), keeps the best
   * checkpoint, then saves the last checkpoint, the optimizer and `state.json`.
   */
  async end(epoch: number, trainLoss: number): Promise<void> {
    const { c, data, trainSplit, valSplit } = this.#p;
    const { dim: d, rounds: R } = data;
    const state = this.#state, paths = new RunDir(this.#dir).paths;
    const tEnd = performance.now();
    // the galleries are built once, at the first validation: not a cost of every epoch end, so
    // kept out of the mean that the ETA charges to the ends still to come
    let buildMs = 0;
    await this.#eng.sync();
    if ((epoch + 1) % c.evalEvery === 0 || epoch === c.epochs - 1) {
      if (!this.#index) {
        const t0 = performance.now();
        this.#index = prepareCorpus(valGallery(data, trainSplit, valSplit), d);
        const held = heldOutGallery(data, valSplit);
        if (held) this.#heldOut = prepareCorpus(held, d);
        buildMs = performance.now() - t0;
      }
      const ev = await validate(
        this.#model,
        this.#index,
        valSplit,
        R,
        c.valK,
        c.maxValDialogues,
        this.#heldOut,
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
      this.#writeLog({ type: "eval", ...rec });
      const better = state.bestMetric === null || ev.metric > state.bestMetric;
      this.#log(
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
        await saveModel(this.#model, paths.best, {
          epoch: String(epoch),
          valMetric: String(ev.metric),
          configHash: this.#hash,
        });
      }
    }
    state.epochsDone = epoch + 1;
    state.finished = state.epochsDone === c.epochs;
    await saveModel(this.#model, paths.last, {
      epochsDone: String(state.epochsDone),
      configHash: this.#hash,
    });
    await saveOptimizer(await this.#eng.exportOptimizer(), paths.optim, state.epochsDone);
    await writeFileAtomic(paths.state, JSON.stringify(state, null, 1) + "\n");
    this.#endSec += (performance.now() - tEnd - buildMs) / 1000;
    this.#ends++;
  }

  /** Frees the galleries. */
  dispose(): void {
    this.#index?.dispose();
    this.#heldOut?.dispose();
  }
}

function _fmtSec(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60).toString().padStart(2, "0")}s` : `${Math.round(s)}s`;
}
