/**
 * Validation of {@linkcode train} (lib/train/loop.ts): the two splits it reads, the gallery the
 * val queries rank against, and the selection metric ({@linkcode validate}).
 *
 * **Targets and the validation gallery.** When the training split has its own image pool
 * (lib/data/bundle.ts `Split.images`, as the reference's VisDial-train images), the target
 * embedding of each dialogue is a row of that pool; validation ranks the val queries against the
 * val split's pool followed by the train pool, so neither the loss nor the selection metric
 * reads the search corpus that the benchmarks rank. The train images are there as distractors
 * (the val pool alone, 2,000 images on the synthetic default, would make Hits@10 nearly saturate
 * at late rounds); on the default, with VisDial-train's 123,287 dialogues, the gallery holds
 * about 125,000 images, so its level depends on the training split's size and is no benchmark
 * number: only its changes over the epochs matter for selection. A split without a pool falls
 * back to the corpus (with a warning in the log).
 *
 * **What each validation also records** ({@linkcode validate}): the same queries ranked against
 * a held-out gallery that holds no training image (the val pool followed by corpus images, as
 * many as the corpus has in all; a diagnostic of the selection gallery, never used to select),
 * and the gate over the validation pairs: the image weight `1 − w`, its spread, its least-squares
 * slope against cos(t, g), and, when the split carries latent truths, the AUC with which a low
 * image weight picks out off-scene generations.
 *
 * @module
 */
import type { FusionHead } from "../model/fusion_head.ts";
import { type CorpusIndex, rankTargets } from "../model/ranking.ts";
import { rocAuc } from "../runtime/roc.ts";
import { type GateStats, type TrainData, trainPool, type TrainSplit } from "./data.ts";

/**
 * The split `name` of the data, checked: it exists and its arrays have their sizes (`role`, e.g.
 * `training`, names it in the errors).
 */
export function splitOf(data: TrainData, name: string, role: string): TrainSplit {
  const s = data.splits[name];
  if (!s) {
    throw new Error(
      `lib/train/validate.ts: the bundle has no ${role} split '${name}' (it has: ${
        Object.keys(data.splits).join(", ")
      }); ` +
        `set ${role === "training" ? "trainSplit" : "valSplit"} to one of them`,
    );
  }
  const n = s.count * data.rounds * data.dim;
  if (s.text.length !== n || s.gen.length !== n || s.target.length !== s.count) {
    throw new Error(
      `lib/train/validate.ts: split '${name}' is malformed: text ${s.text.length}, gen ${s.gen.length} values ` +
        `and ${s.target.length} targets for ${s.count} dialogues × ${data.rounds} rounds × ${data.dim}`,
    );
  }
  const pool = trainPool(data, s);
  if (pool.images.length !== pool.size * data.dim) {
    throw new Error(
      `lib/train/validate.ts: split '${name}' image pool has ${pool.images.length} values for ` +
        `${pool.size} rows × ${data.dim}; set imageCount to its rows`,
    );
  }
  for (let i = 0; i < s.count; i++) {
    if (!(s.target[i] >= 0 && s.target[i] < pool.size)) {
      throw new Error(
        `lib/train/validate.ts: split '${name}' target ${i} is ${s.target[i]}, outside ${
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
export function valGallery(data: TrainData, train: TrainSplit, val: TrainSplit): Float32Array {
  const v = trainPool(data, val);
  if (!val.images || !train.images || train.images === val.images) return v.images;
  const t = trainPool(data, train);
  const g = new Float32Array(v.images.length + t.images.length);
  g.set(v.images);
  g.set(t.images, v.images.length);
  return g;
}

/**
 * The held-out gallery: the val pool followed by the first corpus images, as many as make the
 * corpus's size, so no training image is in it and it is as large as the benchmarks' search
 * space. Null when the val split has no pool (its targets are then corpus images already).
 */
export function heldOutGallery(data: TrainData, val: TrainSplit): Float32Array | null {
  if (!val.images) return null;
  const d = data.dim;
  const v = trainPool(data, val);
  const extra = Math.max(0, data.corpusSize - v.size);
  const g = new Float32Array((v.size + extra) * d);
  g.set(v.images);
  g.set(data.corpus.subarray(0, extra * d), v.images.length);
  return g;
}

/** What one validation measures ({@linkcode validate}). */
export interface Validation {
  /** The selection metric: mean over rounds of the cumulative Hits@K on the selection gallery. */
  metric: number;
  /** Cumulative Hits@K per round on the selection gallery. */
  hits: number[];
  /** The same on the held-out gallery (no training image); null without one. */
  heldOut: { metric: number; hits: number[] } | null;
  /** The gate over the validation pairs. */
  gate: GateStats;
}

/** Cumulative Hits@K per round from ranks laid out round-major (row `r·n + i`), and its mean. */
function _cumulativeHits(
  ranks: ArrayLike<number>,
  n: number,
  R: number,
  k: number,
): { metric: number; hits: number[] } {
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
 * The gate's statistics over `count` pairs: image weight `1 − w` against cos(t, g) (rows of
 * `t`, `g` are unit vectors, so the cosine is their dot product), and the AUC of a low image
 * weight for `offScene` (1 = off-scene) when given.
 */
export function gateStats(
  w: Float32Array,
  t: Float32Array,
  g: Float32Array,
  d: number,
  offScene?: ArrayLike<number>,
): GateStats {
  const n = w.length;
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  const img = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let j = 0; j < d; j++) c += t[i * d + j] * g[i * d + j];
    const y = 1 - w[i];
    img[i] = y;
    sx += c, sy += y, sxx += c * c, syy += y * y, sxy += c * y;
  }
  const mx = sx / n, my = sy / n;
  const vx = sxx / n - mx * mx, vy = Math.max(0, syy / n - my * my), cxy = sxy / n - mx * my;
  const slope = vx > 0 ? cxy / vx : 0;
  const r2 = vx > 0 && vy > 0 ? (cxy * cxy) / (vx * vy) : 0;
  let auc: number | null = null;
  if (offScene) {
    const a = rocAuc(img, offScene);
    auc = Number.isFinite(a) ? a : null;
  }
  return { mean: my, sd: Math.sqrt(vy), slope, r2, auc };
}

/**
 * One validation: cumulative Hits@K per round (the ChatIR protocol: a dialogue counts from the
 * first round its target ranks < K) on the first `maxDialogues` dialogues of `split` against the
 * selection gallery `index`, and its mean over rounds (the selection metric); the same against
 * `heldOut` when given; and the gate's {@linkcode GateStats} over those pairs (AUC from
 * `split.offScene` when the split has latent truths). Ranks come from lib/model/ranking.ts
 * (0-based, ties by gallery index).
 */
export async function validate(
  model: FusionHead,
  index: CorpusIndex,
  split: TrainSplit,
  rounds: number,
  k: number,
  maxDialogues: number | null = null,
  heldOut: CorpusIndex | null = null,
): Promise<Validation> {
  const n = maxDialogues === null ? split.count : Math.min(split.count, maxDialogues);
  const d = index.dim, R = rounds;
  // all rounds at once, round-major (row r·n + i), so ranking gets one large job
  const t = new Float32Array(R * n * d), g = new Float32Array(R * n * d);
  const targets = new Int32Array(R * n);
  const off = split.offScene ? new Uint8Array(R * n) : undefined;
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) {
      const src = (i * R + r) * d, dst = (r * n + i) * d;
      t.set(split.text.subarray(src, src + d), dst);
      g.set(split.gen.subarray(src, src + d), dst);
      targets[r * n + i] = split.target[i];
      if (off) off[r * n + i] = split.offScene![i * R + r];
    }
  }
  const fused = await model.fuse(t, g, R * n);
  const main = _cumulativeHits(await rankTargets(index, [{ queries: fused.q }], targets), n, R, k);
  const held = heldOut
    ? _cumulativeHits(await rankTargets(heldOut, [{ queries: fused.q }], targets), n, R, k)
    : null;
  return { ...main, heldOut: held, gate: gateStats(fused.w, t, g, d, off) };
}
