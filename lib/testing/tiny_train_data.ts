/**
 * A tiny retrieval problem for the training tests: the text sees the first half of the
 * target's coordinates, the generated image the second half, both noisy; the text's noise
 * shrinks with the round.
 *
 * @module
 */
import { Rng } from "../runtime/rng.ts";
import { readSafetensors } from "../data/safetensors.ts";
import type { TrainData } from "../train/loop.ts";
import { applyTrainOverrides, fullTrainConfig, type TrainConfig } from "../train/config.ts";

function _unit(v: Float32Array, off: number, d: number) {
  let n = 0;
  for (let k = 0; k < d; k++) n += v[off + k] ** 2;
  n = Math.sqrt(n) || 1;
  for (let k = 0; k < d; k++) v[off + k] /= n;
}

/** Splits `train` (192 dialogues) and `val` (64) over a corpus of `corpusSize` unit vectors. */
export function tinyTrainData(seed: number, d = 16, rounds = 3, corpusSize = 300): TrainData {
  const rng = new Rng(seed);
  const corpus = new Float32Array(corpusSize * d);
  rng.fillNormal(corpus);
  for (let i = 0; i < corpusSize; i++) _unit(corpus, i * d, d);
  const perm = rng.shuffle(Int32Array.from({ length: corpusSize }, (_, i) => i));
  let used = 0;
  const split = (count: number) => {
    const target = perm.slice(used, used + count);
    used += count;
    const text = new Float32Array(count * rounds * d), gen = new Float32Array(count * rounds * d);
    for (let i = 0; i < count; i++) {
      for (let r = 0; r < rounds; r++) {
        const off = (i * rounds + r) * d, c = target[i] * d;
        for (let k = 0; k < d; k++) {
          const half = k < d / 2;
          text[off + k] = (half ? corpus[c + k] : 0) + rng.normal() * (0.5 / (r + 1));
          gen[off + k] = (half ? 0 : corpus[c + k]) + rng.normal() * 0.3;
        }
        _unit(text, off, d);
        _unit(gen, off, d);
      }
    }
    return { count, text, gen, target };
  };
  return { dim: d, rounds, corpusSize, corpus, splits: { train: split(192), val: split(64) } };
}

/**
 * {@linkcode tinyTrainData} with image pools: `train` and `val` targets become rows of their own
 * pools (the corpus rows they pointed at, so training sees the same targets), and the corpus is
 * replaced by `junk` rows (one constant vector by default), which would ruin a run that read it.
 */
export function tinyPooledTrainData(seed: number, junk = 1): TrainData {
  const data = tinyTrainData(seed);
  const d = data.dim;
  for (const name of ["train", "val"]) {
    const s = data.splits[name];
    const images = new Float32Array(s.count * d);
    for (let i = 0; i < s.count; i++) {
      images.set(data.corpus.subarray(s.target[i] * d, s.target[i] * d + d), i * d);
    }
    // pool row of dialogue i: a fixed shuffle, so targets are not simply 0..count-1
    const perm = new Rng(seed + 77).shuffle(Int32Array.from({ length: s.count }, (_, i) => i));
    const pool = new Float32Array(s.count * d);
    const target = new Int32Array(s.count);
    for (let i = 0; i < s.count; i++) {
      pool.set(images.subarray(i * d, i * d + d), perm[i] * d);
      target[i] = perm[i];
    }
    data.splits[name] = { ...s, target, images: pool, imageCount: s.count };
  }
  data.corpus = new Float32Array(junk * d).fill(1 / Math.sqrt(d));
  data.corpusSize = junk;
  return data;
}

/** The `key=value` overrides that shrink the head and the recipe to {@linkcode tinyTrainData}. */
export const TINY_TRAIN_SETS: readonly string[] = [
  "model.dim=16",
  "model.proj=8",
  "model.hidden=16",
  "model.experts=2",
  "batchSize=32",
  "accumulate=2",
  "epochs=4",
  "warmupEpochs=1",
  "lr=0.01",
  "valK=5",
];

/** The tiny training config, with `extra` overrides applied last. */
export function tinyTrainConfig(extra: string[] = []): TrainConfig {
  return applyTrainOverrides(fullTrainConfig, [...TINY_TRAIN_SETS, ...extra]);
}

/** The tensors of a checkpoint file, by name. */
export async function readWeights(path: string): Promise<Record<string, Float32Array>> {
  const e = readSafetensors(await Deno.readFile(path), path);
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v.data as Float32Array]));
}

/** The records of a run's `log.jsonl` (JSON as written; the tests read the fields they know). */
// deno-lint-ignore no-explicit-any
export async function readTrainLog(dir: string): Promise<any[]> {
  return (await Deno.readTextFile(`${dir}/log.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
}
