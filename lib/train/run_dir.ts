/**
 * The run folder of {@linkcode train} (lib/train/loop.ts): its state, the data fingerprint
 * that ties it to its data, and the weight and optimizer files that make resume exact.
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
 * @module
 */
import { readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
} from "../data/safetensors.ts";
import type { FusionHead, StateDict } from "../model/fusion_head.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import type { AdamWState } from "./adamw.ts";
import type { TrainConfig, TrainEngine } from "./config.ts";
import { type EvalRecord, type TrainData, trainPool } from "./data.ts";

export interface RunState {
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

/** The files of a run folder. */
export interface RunPaths {
  /** `config.json`: the config, its hash and the data's signature. */
  config: string;
  /** `state.json`: epochs done, step, the best metric, every evaluation, finished. */
  state: string;
  /** `last.safetensors`: the head after the last finished epoch. */
  last: string;
  /** `best.safetensors`: the head selected on the validation split. */
  best: string;
  /** `optimizer.safetensors`: AdamW's moments after the last finished epoch. */
  optim: string;
  /** `log.jsonl`: one line per logged update and per evaluation. */
  log: string;
}

/**
 * A run folder: its files, and its status read from its `state.json`. The one place that knows
 * a run folder's layout and when a run is finished: the loop, {@linkcode trainOnBundle} and the
 * paper pipeline all ask it.
 */
export class RunDir {
  /** The folder (no trailing slash). */
  readonly dir: string;
  /** Its files. */
  readonly paths: RunPaths;

  /** The run folder `dir` (it need not exist yet). */
  constructor(dir: string) {
    this.dir = dir.replace(/\/$/, "");
    const d = this.dir;
    this.paths = {
      config: `${d}/config.json`,
      state: `${d}/state.json`,
      last: `${d}/last.safetensors`,
      best: `${d}/best.safetensors`,
      optim: `${d}/optimizer.safetensors`,
      log: `${d}/log.jsonl`,
    };
  }

  /**
   * The run's state, or undefined when none was saved yet (a new folder, or a run stopped
   * during its first epoch).
   */
  state(): Promise<RunState | undefined> {
    return readJsonIfExists<RunState>(this.paths.state);
  }

  /**
   * The state when the folder holds the finished run of the config hashed `configHash`, else
   * undefined (no run, an unfinished one, or another config's).
   */
  async finished(configHash: string): Promise<RunState | undefined> {
    const s = await this.state();
    return isFinishedRun(s, configHash) ? s : undefined;
  }
}

/** Whether a run's state (see {@linkcode RunDir.state}) is the finished run of `configHash`. */
export function isFinishedRun(s: RunState | undefined, configHash: string): boolean {
  return s?.finished === true && s.configHash === configHash;
}

/** A short fingerprint of the data (sizes and a sample of values), stored with the run. */
export function dataSignature(data: TrainData, c: TrainConfig): string {
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
    pools += `:trainpool${trainPool(data, tr).size}`;
  }
  if (va?.images) {
    feed(va.images);
    feed(va.target);
    pools += `:valpool${trainPool(data, va).size}`;
  }
  return `${data.dim}x${data.rounds}:corpus${data.corpusSize}:train${tr.count}:val${
    va?.count ?? 0
  }${pools}:` +
    (h >>> 0).toString(16);
}

/** Writes the model's checkpoint (safetensors with `meta`) to `path`, atomically. */
export function saveModel(model: FusionHead, path: string, meta: Record<string, string>) {
  return saveCheckpoint(model, path, meta);
}

/** Loads the checkpoint at `path` into `model`; returns its metadata. */
export async function loadModelInto(
  model: FusionHead,
  path: string,
): Promise<Record<string, string>> {
  const bytes = await Deno.readFile(path);
  const entries = readSafetensors(bytes, path);
  const sd: StateDict = {};
  for (const [k, v] of Object.entries(entries)) {
    sd[k] = { shape: v.shape, data: v.data as Float32Array };
  }
  model.loadStateDict(sd, { file: path });
  return readSafetensorsMetadata(bytes, path);
}

/** Writes AdamW's moments and step (and the epochs done) to `path`, atomically. */
export async function saveOptimizer(s: AdamWState, path: string, epochsDone: number) {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  s.m.forEach((a, i) => tensors[`m.${i}`] = { dtype: "F32", shape: [a.length], data: a });
  s.v.forEach((a, i) => tensors[`v.${i}`] = { dtype: "F32", shape: [a.length], data: a });
  const meta = { step: String(s.step), epochsDone: String(epochsDone), count: String(s.m.length) };
  await writeFileAtomic(path, encodeSafetensors(tensors, meta));
}

/** Reads AdamW's moments and step, and the epochs done, from `path` (saveOptimizer's file). */
export async function loadOptimizer(
  path: string,
): Promise<{ state: AdamWState; epochsDone: number }> {
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
