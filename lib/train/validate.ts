/**
 * Validation of {@linkcode train} (lib/train/loop.ts): the two splits it reads, the gallery the
 * val queries rank against, and the selection metric ({@linkcode validationHits}).
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
 * @module
 */
import type { FusionHead } from "../model/fusion_head.ts";
import { type CorpusIndex, rankTargets } from "../model/ranking.ts";
import type { TrainData, TrainSplit } from "./loop.ts";

export function _split(data: TrainData, name: string, role: string): TrainSplit {
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
export function _valGallery(data: TrainData, train: TrainSplit, val: TrainSplit): Float32Array {
  const v = _pool(data, val);
  if (!val.images || !train.images || train.images === val.images) return v.images;
  const t = _pool(data, train);
  const g = new Float32Array(v.images.length + t.images.length);
  g.set(v.images);
  g.set(t.images, v.images.length);
  return g;
}

/** The images a split's targets index: its own pool when it has one, else the search corpus. */
export function _pool(data: TrainData, s: TrainSplit): { images: Float32Array; size: number } {
  if (s.images !== undefined) {
    return { images: s.images, size: s.imageCount ?? s.images.length / data.dim };
  }
  return { images: data.corpus, size: data.corpusSize };
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
