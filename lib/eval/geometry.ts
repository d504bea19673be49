/**
 * The geometry of a bundle's embeddings, in the statistics published for real dual encoders
 * (notebook 12_training_regime compares them): cosines of matched and random text-image,
 * image-image and text-text pairs, the modality gap (distance between the two modalities' mean
 * vectors), and the hubness of the corpus for text queries (skewness of the k-occurrence N_k:
 * how often each corpus image is in some query's top k).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Bundle } from "../data/bundle.ts";
import { Rng } from "../runtime/rng.ts";
import { initBackend } from "../runtime/backend.ts";

/** Mean and standard deviation of a sample. */
export interface MeanSd {
  /** Mean. */
  mean: number;
  /** Standard deviation. */
  sd: number;
}

/** What {@linkcode embeddingGeometry} measures. */
export interface GeometryStats {
  /** The benchmark whose texts and generations were measured. */
  benchmark: string;
  /** cos(image, image) of random pairs of distinct corpus images. */
  imageImage: MeanSd;
  /** cos(text, text) of random pairs of distinct dialogues at round 0 (captions). */
  textText: MeanSd;
  /** cos(caption, its target image) at round 0. */
  matched0: MeanSd;
  /** cos(text at the last round, its target image). */
  matchedLast: MeanSd;
  /** cos(caption, a random corpus image). */
  unmatched: MeanSd;
  /** cos(generated image at round 0, its target image). */
  genMatched: MeanSd;
  /** cos(generated image at round 0, a random corpus image). */
  genUnmatched: MeanSd;
  /** cos(generated image, its own text), all rounds. */
  genText: MeanSd;
  /** ‖mean corpus image‖ (1 when every image points the same way, ≈ 0 when spread evenly). */
  imageMeanNorm: number;
  /** ‖mean caption‖. */
  textMeanNorm: number;
  /** The modality gap ‖mean image − mean caption‖ (Liang et al.'s definition). */
  gap: number;
  /** Hubness: k, queries, skewness of N_k and the share of corpus images with N_k = 0. */
  hubness: { k: number; queries: number; skewness: number; neverShare: number; maxNk: number };
}

function _dot(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let x = 0; x < d; x++) s += a[i * d + x] * b[j * d + x];
  return s;
}

function _meanSd(xs: number[]): MeanSd {
  const n = xs.length;
  const mean = xs.reduce((a, x) => a + x, 0) / n;
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, n - 1);
  return { mean, sd: Math.sqrt(v) };
}

function _meanVector(a: Float32Array, rows: number[], d: number): Float64Array {
  const m = new Float64Array(d);
  for (const i of rows) for (let x = 0; x < d; x++) m[x] += a[i * d + x];
  for (let x = 0; x < d; x++) m[x] /= rows.length;
  return m;
}

function _norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Skewness (the standardised third moment) of a sample. */
export function skewness(xs: ArrayLike<number>): number {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i];
  m /= n;
  let m2 = 0, m3 = 0;
  for (let i = 0; i < n; i++) {
    const e = xs[i] - m;
    m2 += e * e;
    m3 += e * e * e;
  }
  m2 /= n;
  m3 /= n;
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}

/**
 * N_k of every corpus row: in how many of the queries' top k it is (exact top k by dot
 * product; queries and corpus row-major `[·, d]`). Starts the backend when none runs yet.
 */
export async function kOccurrence(
  queries: Float32Array,
  corpus: Float32Array,
  d: number,
  k: number,
  chunk = 256,
): Promise<Int32Array> {
  await initBackend(); // keeps a running backend; else the fastest here (not tfjs's plain JS)
  const n = corpus.length / d, q = queries.length / d;
  const nk = new Int32Array(n);
  const c = tf.tensor2d(corpus, [n, d]);
  try {
    for (let s = 0; s < q; s += chunk) {
      const m = Math.min(chunk, q - s);
      const idx = tf.tidy(() => {
        const qq = tf.tensor2d(queries.subarray(s * d, (s + m) * d), [m, d]);
        return tf.topk(tf.matMul(qq, c, false, true), k).indices;
      });
      const ids = await idx.data();
      idx.dispose();
      for (let i = 0; i < ids.length; i++) nk[ids[i]]++;
    }
  } finally {
    c.dispose();
  }
  return nk;
}

/**
 * Measures the geometry of `bundle` on `benchmark` (its texts and generations, the corpus):
 * `pairs` random pairs per cosine statistic (seeded), hubness over every round's text queries.
 */
export async function embeddingGeometry(
  bundle: Bundle,
  benchmark = "visdial",
  opts: { pairs?: number; seed?: number; k?: number } = {},
): Promise<GeometryStats> {
  const { pairs = 20_000, seed = 0, k = 10 } = opts;
  const s = bundle.splits[benchmark];
  if (!s) {
    throw new Error(
      `geometry: the bundle ${bundle.dir} has no split '${benchmark}'; load it (splits: [...])`,
    );
  }
  if (s.images) {
    throw new Error(
      `geometry: split '${benchmark}' has its own image pool, so its targets are not corpus ` +
        "images; measure a benchmark split (e.g. visdial)",
    );
  }
  const { dim: d, rounds: R, corpus, corpusSize: N } = bundle;
  const Q = s.count;
  const rng = new Rng(seed);
  const row = (q: number, r: number) => q * R + r; // row of [Q, R, d] seen as [Q·R, d]
  const ii: number[] = [], tt: number[] = [], m0: number[] = [], mL: number[] = [];
  const un: number[] = [], gm: number[] = [], gu: number[] = [], gt: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const a = rng.int(N);
    let b = rng.int(N - 1);
    if (b >= a) b++;
    ii.push(_dot(corpus, a, corpus, b, d));
    const q = rng.int(Q);
    let q2 = rng.int(Q - 1);
    if (q2 >= q) q2++;
    tt.push(_dot(s.text, row(q, 0), s.text, row(q2, 0), d));
    const img = rng.int(N);
    un.push(_dot(s.text, row(q, 0), corpus, img, d));
    gu.push(_dot(s.gen, row(q, 0), corpus, img, d));
    gt.push(_dot(s.gen, row(q, p % R), s.text, row(q, p % R), d));
  }
  for (let q = 0; q < Q; q++) {
    m0.push(_dot(s.text, row(q, 0), corpus, s.target[q], d));
    mL.push(_dot(s.text, row(q, R - 1), corpus, s.target[q], d));
    gm.push(_dot(s.gen, row(q, 0), corpus, s.target[q], d));
  }
  const imgMean = _meanVector(corpus, Array.from({ length: N }, (_, i) => i), d);
  const txtMean = _meanVector(s.text, Array.from({ length: Q }, (_, q) => row(q, 0)), d);
  const diff = imgMean.map((v, x) => v - txtMean[x]);
  const nk = await kOccurrence(s.text, corpus, d, k);
  let never = 0, maxNk = 0;
  for (const v of nk) {
    if (v === 0) never++;
    if (v > maxNk) maxNk = v;
  }
  return {
    benchmark,
    imageImage: _meanSd(ii),
    textText: _meanSd(tt),
    matched0: _meanSd(m0),
    matchedLast: _meanSd(mL),
    unmatched: _meanSd(un),
    genMatched: _meanSd(gm),
    genUnmatched: _meanSd(gu),
    genText: _meanSd(gt),
    imageMeanNorm: _norm(imgMean),
    textMeanNorm: _norm(txtMean),
    gap: _norm(diff),
    hubness: { k, queries: Q * R, skewness: skewness(nk), neverShare: never / N, maxNk },
  };
}
