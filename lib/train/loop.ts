/**
 * lib/train/: the training recipe (config.ts), this loop, one run on a bundle (run.ts), loss,
 * AdamW, clipping, schedule; parallel/ the data-parallel engine. May import runtime/, data/,
 * model/.
 *
 * Training the fusion head with the recipe of SPEC §3 (config.ts): symmetric
 * InfoNCE, AdamW, cosine schedule with warm-up, gradient accumulation and clipping, one random
 * round per dialogue per epoch, model selection on a validation split, exact resume.
 *
 * A run directory holds:
 * - `config.json`: the config and its hash (the run's identity);
 * - `log.jsonl`: one line per `logEvery` updates (`type: "step"`: step, epoch, loss, lr, grad
 *   norm before clipping, gate mean/std of `w`, expert load = mean of `p` per expert,
 *   samples/s) and one per evaluation (`type: "eval"`: the val metric and Hits@K per round);
 * - `last.safetensors` (weights, reference `state_dict` names), `optimizer.safetensors` (AdamW
 *   moments) and `state.json` (epoch, step, best, history), written atomically after every
 *   epoch; `best.safetensors` whenever the val metric improves.
 *
 * **Targets and the validation gallery.** When the training split has its own image pool
 * (lib/bundle.ts `Split.images`, as the reference's VisDial-train images), the target embedding
 * of each dialogue is a row of that pool; validation ranks the val queries against the val
 * split's pool followed by the train pool, so neither the loss nor the selection metric ever
 * reads the search corpus that the benchmarks rank. The train images are there as distractors:
 * the val pool alone (2,000 images on the synthetic default, against a 50,000-image corpus)
 * would make Hits@10 nearly saturate at late rounds and the selection blunt; with them the
 * gallery is about as large as the corpus (22,000). Only the metric's changes over the epochs
 * matter for selection; its level is not a benchmark number. A split without a pool falls back
 * to the corpus (with a warning in the log).
 *
 * Everything random is a function of the seed and the position in the run (epoch, micro-batch):
 * the rounds and the shuffle of epoch `e` come from `Rng(mix(seed, e))`, the dropout masks of
 * micro-batch `i` from `mix(seed, i)`. So a run stopped after any epoch and resumed ends with
 * exactly the weights of an uninterrupted run, on the same backend (and, for the `parallel`
 * engine, the same worker count; another worker count differs by float rounding only).
 *
 * The gradients come from one of two engines (`config.engine`): `autodiff` (tfjs autodiff of
 * {@linkcode FusionHead.apply} on the main thread, AdamW of lib/train/adamw.ts) or `parallel`
 * (lib/train/parallel/trainer.ts: workers with wasm replicas, a hand-written backward pass, the same
 * clipping and AdamW on shared weights). `parallel` needs the wasm backend; on another backend
 * the run uses `autodiff` and logs it. Both write the same files: the weights go through
 * {@linkcode FusionHead} for validation and checkpoints, the optimizer file has one format.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW, type AdamWState } from "./adamw.ts";
import { clipByGlobalNorm } from "./clip.ts";
import { infoNceLoss } from "./loss.ts";
import { FusionHead, type StateDict } from "../model/fusion_head.ts";
import { readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import { type CorpusIndex, prepareCorpus, rankTargets } from "../model/ranking.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { Rng } from "../runtime/rng.ts";
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
} from "../data/safetensors.ts";
import { cosineWithWarmup, scheduleSteps } from "./schedule.ts";
import { DataParallelTrainer, dataParallelWorkers } from "./parallel/trainer.ts";
import {
  modelConfigOf,
  type TrainConfig,
  trainConfigHash,
  type TrainEngine,
  validateTrainConfig,
} from "./config.ts";

/** One split of a bundle, as training reads it (lib/data/bundle.ts's splits have this shape). */
export interface TrainSplit {
  /** Dialogues in the split. */
  count: number;
  /** Text embeddings `[count, rounds, dim]`, row-major. */
  text: Float32Array;
  /** Generated-image embeddings `[count, rounds, dim]`, row-major. */
  gen: Float32Array;
  /** Target row of each dialogue: into `images` when the split has a pool, else the corpus. */
  target: Int32Array;
  /**
   * The split's own image pool `[imageCount, dim]` (lib/bundle.ts `Split.images`): training
   * targets and validation ranking use it instead of the search corpus.
   */
  images?: Float32Array;
  /** Rows of `images`. */
  imageCount?: number;
}

/** The data training needs (lib/data/bundle.ts's `Bundle` has this shape). */
export interface TrainData {
  /** Embedding size. */
  dim: number;
  /** Rounds per dialogue (11). */
  rounds: number;
  /** Corpus rows. */
  corpusSize: number;
  /** Corpus embeddings `[corpusSize, dim]`. */
  corpus: Float32Array;
  /** Named splits (`train`, `val`, benchmarks). */
  splits: Record<string, TrainSplit>;
}

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

/** One evaluation on the validation split. */
export interface EvalRecord {
  /** 0-based epoch after which it ran. */
  epoch: number;
  /** Updates done by then. */
  step: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** The selection metric (mean over rounds of the cumulative Hits@K). */
  valMetric: number;
  /** Cumulative Hits@K per round 0..R−1, as fractions. */
  valHits: number[];
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

interface _State {
  version: 1;
  configHash: string;
  dataSignature: string;
  epochsDone: number;
  step: number;
  bestMetric: number | null;
  bestEpoch: number;
  history: EvalRecord[];
  finished: boolean;
  /** The engine of the last session (absent in runs written before engines existed). */
  engine?: TrainEngine;
}

/** A 32-bit mix of two integers (splitmix-style), for per-epoch and per-step seeds. */
function _mix(a: number, b: number): number {
  let z = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function _split(data: TrainData, name: string, role: string): TrainSplit {
  const s = data.splits[name];
  if (!s) {
    throw new Error(
      `train.ts: the bundle has no ${role} split '${name}' (it has: ${
        Object.keys(data.splits).join(", ")
      }); ` +
        `set ${role === "training" ? "trainSplit" : "valSplit"} to one of them`,
    );
  }
  const n = s.count * data.rounds * data.dim;
  if (s.text.length !== n || s.gen.length !== n || s.target.length !== s.count) {
    throw new Error(
      `train.ts: split '${name}' is malformed: text ${s.text.length}, gen ${s.gen.length} values ` +
        `and ${s.target.length} targets for ${s.count} dialogues × ${data.rounds} rounds × ${data.dim}`,
    );
  }
  const pool = _pool(data, s);
  if (pool.images.length !== pool.size * data.dim) {
    throw new Error(
      `train.ts: split '${name}' image pool has ${pool.images.length} values for ` +
        `${pool.size} rows × ${data.dim}; set imageCount to its rows`,
    );
  }
  for (let i = 0; i < s.count; i++) {
    if (!(s.target[i] >= 0 && s.target[i] < pool.size)) {
      throw new Error(
        `train.ts: split '${name}' target ${i} is ${s.target[i]}, outside ${
          s.images ? "its image pool" : "the corpus"
        } [0, ${pool.size}); fix the targets`,
      );
    }
  }
  return s;
}

/**
 * The gallery validation ranks against: the val pool followed by the train pool (distractors,
 * so that the gallery is about as hard as the search corpus; the val targets keep their rows at
 * the front), the val pool alone when only it exists, the corpus for a val split without a pool.
 */
function _valGallery(data: TrainData, train: TrainSplit, val: TrainSplit): Float32Array {
  const v = _pool(data, val);
  if (!val.images || !train.images || train.images === val.images) return v.images;
  const t = _pool(data, train);
  const g = new Float32Array(v.images.length + t.images.length);
  g.set(v.images);
  g.set(t.images, v.images.length);
  return g;
}

/** The images a split's targets index: its own pool when it has one, else the search corpus. */
function _pool(data: TrainData, s: TrainSplit): { images: Float32Array; size: number } {
  if (s.images !== undefined) {
    return { images: s.images, size: s.imageCount ?? s.images.length / data.dim };
  }
  return { images: data.corpus, size: data.corpusSize };
}

/** A short fingerprint of the data (sizes and a sample of values), stored with the run. */
function _dataSignature(data: TrainData, c: TrainConfig): string {
  const tr = data.splits[c.trainSplit], va = data.splits[c.valSplit];
  let h = 0x811c9dc5;
  const feed = (a: ArrayLike<number>) => {
    const step = Math.max(1, Math.floor(a.length / 997));
    for (let i = 0; i < a.length; i += step) {
      h = Math.imul(h ^ Math.round(a[i] * 1e6), 16777619);
    }
  };
  feed(data.corpus);
  feed(tr.text);
  feed(tr.gen);
  feed(tr.target);
  if (va) feed(va.text);
  // Pools enter only when present, so runs on bundles without pools keep their signature.
  let pools = "";
  if (tr.images) {
    feed(tr.images);
    pools += `:trainpool${_pool(data, tr).size}`;
  }
  if (va?.images) {
    feed(va.images);
    feed(va.target);
    pools += `:valpool${_pool(data, va).size}`;
  }
  return `${data.dim}x${data.rounds}:corpus${data.corpusSize}:train${tr.count}:val${
    va?.count ?? 0
  }${pools}:` +
    (h >>> 0).toString(16);
}

function _saveModel(model: FusionHead, path: string, meta: Record<string, string>) {
  return saveCheckpoint(model, path, meta);
}

async function _loadModelInto(model: FusionHead, path: string): Promise<Record<string, string>> {
  const bytes = await Deno.readFile(path);
  const entries = readSafetensors(bytes, path);
  const sd: StateDict = {};
  for (const [k, v] of Object.entries(entries)) {
    sd[k] = { shape: v.shape, data: v.data as Float32Array };
  }
  model.loadStateDict(sd, { file: path });
  return readSafetensorsMetadata(bytes, path);
}

async function _saveOptimizer(s: AdamWState, path: string, epochsDone: number) {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  s.m.forEach((a, i) => tensors[`m.${i}`] = { dtype: "F32", shape: [a.length], data: a });
  s.v.forEach((a, i) => tensors[`v.${i}`] = { dtype: "F32", shape: [a.length], data: a });
  const meta = { step: String(s.step), epochsDone: String(epochsDone), count: String(s.m.length) };
  await writeFileAtomic(path, encodeSafetensors(tensors, meta));
}

async function _loadOptimizer(path: string): Promise<{ state: AdamWState; epochsDone: number }> {
  const bytes = await Deno.readFile(path);
  const meta = readSafetensorsMetadata(bytes, path);
  const e = readSafetensors(bytes, path);
  const n = Number(meta.count);
  const m: Float32Array[] = [], v: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    if (!e[`m.${i}`] || !e[`v.${i}`]) {
      throw new Error(`${path}: moment ${i} is missing; the file is damaged`);
    }
    m.push(e[`m.${i}`].data as Float32Array);
    v.push(e[`v.${i}`].data as Float32Array);
  }
  return { state: { step: Number(meta.step), m, v }, epochsDone: Number(meta.epochsDone) };
}

/**
 * Gradient accumulation over micro-batches: {@linkcode GradAccumulator.add} sums each
 * micro-batch's gradients (taking ownership of them), {@linkcode GradAccumulator.mean} returns
 * the average for one optimizer update and resets.
 */
export class GradAccumulator {
  #sum: tf.Tensor[] | null = null;
  #n = 0;

  /** Micro-batches added since the last {@linkcode GradAccumulator.mean}. */
  get count(): number {
    return this.#n;
  }

  /** Adds one micro-batch's gradients (disposed here; the order must not change). */
  add(grads: tf.Tensor[]): void {
    if (this.#sum === null) {
      this.#sum = grads;
    } else {
      if (grads.length !== this.#sum.length) {
        throw new Error(
          `GradAccumulator.add: got ${grads.length} gradients, earlier ${this.#sum.length}`,
        );
      }
      const prev = this.#sum;
      this.#sum = prev.map((a, i) => tf.add(a, grads[i]));
      tf.dispose([...prev, ...grads]);
    }
    this.#n++;
  }

  /** The mean of the added gradients (new tensors, the caller's), and a reset. */
  mean(): tf.Tensor[] {
    if (this.#sum === null) throw new Error("GradAccumulator.mean: nothing was added");
    const n = this.#n, sum = this.#sum;
    const out = tf.tidy(() => sum.map((a) => tf.div(a, n)));
    tf.dispose(sum);
    this.#sum = null;
    this.#n = 0;
    return out;
  }

  /** Frees what was added and not yet averaged. */
  dispose(): void {
    if (this.#sum) tf.dispose(this.#sum);
    this.#sum = null;
    this.#n = 0;
  }
}

/**
 * Cumulative Hits@K per round (the ChatIR protocol: a dialogue counts from the first round its
 * target ranks < K) on the first `maxDialogues` dialogues of `split`, and its mean over rounds
 * (the selection metric). Ranks come from lib/model/ranking.ts (0-based, ties by corpus index).
 */
export async function validationHits(
  model: FusionHead,
  index: CorpusIndex,
  split: TrainSplit,
  rounds: number,
  k: number,
  maxDialogues: number | null = null,
): Promise<{ metric: number; hits: number[] }> {
  const n = maxDialogues === null ? split.count : Math.min(split.count, maxDialogues);
  const d = index.dim, R = rounds;
  // all rounds at once, round-major (row r·n + i), so ranking gets one large job
  const t = new Float32Array(R * n * d), g = new Float32Array(R * n * d);
  const targets = new Int32Array(R * n);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) {
      const src = (i * R + r) * d, dst = (r * n + i) * d;
      t.set(split.text.subarray(src, src + d), dst);
      g.set(split.gen.subarray(src, src + d), dst);
      targets[r * n + i] = split.target[i];
    }
  }
  const fused = await model.fuse(t, g, R * n);
  const ranks = await rankTargets(index, [{ queries: fused.q }], targets);
  const hit = new Uint8Array(n);
  const hits: number[] = [];
  for (let r = 0; r < R; r++) {
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (ranks[r * n + i] < k) hit[i] = 1;
      c += hit[i];
    }
    hits.push(c / n);
  }
  return { metric: hits.reduce((a, x) => a + x, 0) / R, hits };
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
  const trainPool = _pool(data, trainSplit).images;
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
      `train.ts: model.dim is ${mcfg.dim} but the data has dim ${d}; set model.dim=${d}`,
    );
  }
  const N = c.maxTrainDialogues === null
    ? trainSplit.count
    : Math.min(trainSplit.count, c.maxTrainDialogues);
  const B = c.batchSize;
  const nBatches = Math.floor(N / B);
  if (nBatches < 1) {
    throw new Error(
      `train.ts: ${N} training dialogues make no full batch of ${B}; lower batchSize or add data`,
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
  const prev = await readJsonIfExists<_State>(paths.state);
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
        `train.ts: ${dir} holds a run of another ${
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
        `train.ts: ${dir} holds an unfinished run of this config (${prev.epochsDone}/${c.epochs} epochs); ` +
          "pass resume (--resume) to continue it, or delete the directory to start over",
      );
    }
  }

  const model = FusionHead.create(mcfg, c.seed);
  let index: CorpusIndex | null = null;
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
          `train.ts: ${dir} is inconsistent (state.json says ${prev.epochsDone} epochs, ` +
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
      const k = mcfg.variant === "gate_only" ? 0 : mcfg.experts;
      const sessionStart = performance.now();
      let sessionSamples = 0;
      const stop = opts.stopAfterEpochs === undefined
        ? c.epochs
        : Math.min(c.epochs, state.epochsDone + opts.stopAfterEpochs);
      for (let epoch = state.epochsDone; epoch < stop; epoch++) {
        const rng = new Rng(_mix(c.seed, epoch));
        for (let i = 0; i < N; i++) rounds[i] = rng.int(R);
        for (let i = 0; i < N; i++) perm[i] = i;
        rng.shuffle(perm);
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
              yBuf.set(trainPool.subarray(tg * d, tg * d + d), j * d);
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
              `train.ts: the loss became ${loss} at step ${state.step} (epoch ${epoch}); lower lr or check the data`,
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
          const rate = sessionSamples / ((performance.now() - sessionStart) / 1000);
          const eta = ((totalSteps - state.step) * c.accumulate * B) / rate;
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
        await eng.sync();
        if ((epoch + 1) % c.evalEvery === 0 || epoch === c.epochs - 1) {
          index ??= prepareCorpus(_valGallery(data, trainSplit, valSplit), d);
          const ev = await validationHits(model, index, valSplit, R, c.valK, c.maxValDialogues);
          const rec: EvalRecord = {
            epoch,
            step: state.step,
            trainLoss,
            valMetric: ev.metric,
            valHits: ev.hits,
          };
          state.history.push(rec);
          writeLog({ type: "eval", ...rec });
          const better = state.bestMetric === null || ev.metric > state.bestMetric;
          log(
            `train: epoch ${epoch + 1} val mean Hits@${c.valK} ${(100 * ev.metric).toFixed(2)}% ` +
              `(round 0 ${(100 * ev.hits[0]).toFixed(1)}%, last ${
                (100 * ev.hits[R - 1]).toFixed(1)
              }%)` +
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
      }
    }
  } finally {
    (engine as _Engine | null)?.dispose();
    model.dispose();
    (index as CorpusIndex | null)?.dispose();
  }
  return {
    ...result(state, false),
    engine: (engine as _Engine | null)?.name ?? null,
    workers: (engine as _Engine | null)?.workers ?? 0,
  };
}

/**
 * A source of optimizer updates for the loop: micro-batches in, averaged, clipped AdamW
 * updates out. Statistics of an update: `[Σ loss over its micro-batches, Σ w, Σ w², Σ p per
 * expert…]`.
 */
interface _Engine {
  readonly name: TrainEngine;
  readonly workers: number;
  /** Forward and backward pass of one micro-batch (the arrays may be reused after it). */
  micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number): Promise<
    void
  >;
  /** One update over the micro-batches since the last: norm before clipping, statistics. */
  update(lr: number): Promise<{ norm: number; stats: Float32Array }>;
  /** Makes the main-thread model hold the current weights (for validation and checkpoints). */
  sync(): Promise<void>;
  exportOptimizer(): Promise<AdamWState>;
  importOptimizer(s: AdamWState): void;
  dispose(): void;
}

async function _createEngine(
  model: FusionHead,
  c: TrainConfig,
  log: (s: string) => void,
): Promise<_Engine> {
  if (c.engine === "parallel") {
    const backend = tf.getBackend();
    if (backend === "wasm") {
      const e = await _ParallelEngine.create(model, c, dataParallelWorkers(c.workers));
      log(
        `train: engine parallel, ${
          e.workers === 0 ? "on the main thread" : `${e.workers} worker(s)`
        } (workers=${c.workers})`,
      );
      return e;
    }
    log(
      `train: engine 'parallel' runs on the wasm backend only and the backend is '${backend}': ` +
        "training with the autodiff engine instead (its dropout masks differ, so do the numbers; " +
        "set engine=autodiff to say so)",
    );
  } else log("train: engine autodiff");
  return new _AutodiffEngine(model, c);
}

/** tfjs autodiff of {@linkcode FusionHead.apply} on the main thread, AdamW of lib/train/adamw.ts. */
class _AutodiffEngine implements _Engine {
  readonly name = "autodiff" as const;
  readonly workers = 0;
  #model: FusionHead;
  #vars: tf.Variable[];
  #opt: AdamW;
  #acc = new GradAccumulator();
  #stats: tf.Tensor | null = null;
  #clip: number;

  constructor(model: FusionHead, c: TrainConfig) {
    this.#model = model;
    this.#vars = model.variables;
    this.#clip = c.clipNorm;
    this.#opt = new AdamW(this.#vars, {
      beta1: c.beta1,
      beta2: c.beta2,
      eps: c.eps,
      weightDecay: c.weightDecay,
    });
  }

  micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number) {
    const model = this.#model, d = model.config.dim;
    const tt = tf.tensor2d(t, [rows, d]), gg = tf.tensor2d(g, [rows, d]);
    const yy = tf.tensor2d(y, [rows, d]);
    const hold: { st?: tf.Tensor } = {};
    const { grads, value } = tf.variableGrads(() => {
      const out = model.apply(tt, gg, { training: true, seed });
      const loss = infoNceLoss(out.q, yy, model.scale());
      hold.st = tf.keep(tf.concat([
        tf.reshape(loss, [1]),
        tf.reshape(tf.sum(out.w), [1]),
        tf.reshape(tf.sum(tf.square(out.w)), [1]),
        tf.sum(out.p, 0),
      ]));
      return loss;
    }, this.#vars);
    value.dispose();
    tf.dispose([tt, gg, yy]);
    this.#acc.add(this.#vars.map((v) => grads[v.name]));
    const st = hold.st!;
    if (this.#stats === null) this.#stats = st;
    else {
      const s2: tf.Tensor = tf.add(this.#stats, st);
      tf.dispose([this.#stats, st]);
      this.#stats = s2;
    }
    return Promise.resolve();
  }

  async update(lr: number) {
    const avg = this.#acc.mean();
    const { grads: clipped, norm } = await clipByGlobalNorm(avg, this.#clip);
    tf.dispose(avg);
    this.#opt.step(clipped, lr);
    tf.dispose(clipped);
    const stats = this.#stats!;
    this.#stats = null;
    const sv = (await stats.data()) as Float32Array;
    stats.dispose();
    return { norm, stats: sv };
  }

  sync() {
    return Promise.resolve();
  }

  exportOptimizer() {
    return this.#opt.exportState();
  }

  importOptimizer(s: AdamWState) {
    this.#opt.importState(s);
  }

  dispose() {
    this.#acc.dispose();
    this.#stats?.dispose();
    this.#stats = null;
    this.#opt.dispose();
  }
}

/** lib/train/parallel/trainer.ts: workers with wasm replicas, hand-written backward, shared AdamW. */
class _ParallelEngine implements _Engine {
  readonly name = "parallel" as const;
  readonly workers: number;
  #dp: DataParallelTrainer;
  #model: FusionHead;
  #stats: Float64Array;

  private constructor(dp: DataParallelTrainer, model: FusionHead) {
    this.#dp = dp;
    this.#model = model;
    this.workers = dp.workers;
    this.#stats = new Float64Array(3 + model.config.experts);
  }

  static async create(model: FusionHead, c: TrainConfig, workers: number) {
    const dp = await DataParallelTrainer.create({
      workers,
      model: model.config,
      stateDict: await model.toStateDict(),
      adamw: { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay },
      clipNorm: c.clipNorm,
    });
    return new _ParallelEngine(dp, model);
  }

  async micro(t: Float32Array, g: Float32Array, y: Float32Array, rows: number, seed: number) {
    const r = await this.#dp.microBatch({ t, g, y, rows, seed });
    const s = this.#stats;
    s[0] += r.loss;
    s[1] += r.wSum;
    s[2] += r.w2Sum;
    for (let j = 0; j < r.pSum.length && 3 + j < s.length; j++) s[3 + j] += r.pSum[j];
  }

  async update(lr: number) {
    const u = await this.#dp.update(lr);
    const stats = Float32Array.from(this.#stats);
    this.#stats.fill(0);
    return { norm: u.gradNorm, stats };
  }

  async sync() {
    this.#model.loadStateDict(await this.#dp.stateDict());
  }

  exportOptimizer() {
    return Promise.resolve(this.#dp.exportOptimizer());
  }

  importOptimizer(s: AdamWState) {
    this.#dp.importOptimizer(s);
  }

  dispose() {
    this.#dp.dispose();
  }
}

function _fmtSec(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60).toString().padStart(2, "0")}s` : `${Math.round(s)}s`;
}
