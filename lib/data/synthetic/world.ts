/**
 * The world of the synthetic benchmark (the latent model is described in generator.ts): concept
 * and attribute directions, scene prototypes, each image's concepts, saliences and attributes,
 * and the image embeddings of the corpus and the split pools; small vector helpers.
 *
 * @module
 */
import type { Rng } from "../../runtime/rng.ts";
import type { SyntheticConfig } from "./config.ts";
import type { SyntheticProgress } from "./types.ts";

/** The latent world a bundle is drawn from: its config, concepts, attributes and images. */
export interface World {
  cfg: SyntheticConfig;
  d: number;
  dI: number; // dimensions of the image subspace (the rest hold the modality gap)
  k: number;
  J: number;
  U: Float64Array; // image-side concept directions [M, d]
  Ut: Float64Array; // text-side concept directions [M, d]
  A: Float64Array; // image-side attribute directions [B, d]
  At: Float64Array; // text-side attribute directions [B, d]
  gap: Float64Array; // modality gap direction [d]
  genGap: Float64Array; // generated-image offset direction [d]
  zipfCdf: Float64Array;
  protos: Int32Array; // [P, k]
  nProtos: number;
  proto: Int32Array; // [N]
  S: Int32Array; // image concepts [N, k]
  sal: Float64Array; // saliences [N, k], descending
  attr: Int32Array; // image attributes [N, J]
}

function _unitRandom(rng: Rng, out: Float64Array, off: number, d: number): void {
  let s = 0;
  for (let i = 0; i < d; i++) {
    const v = rng.normal();
    out[off + i] = v;
    s += v * v;
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < d; i++) out[off + i] *= inv;
}

/** A unit random vector in the image subspace: dims `[0, dI)`, the rest zero. */
export function unitImage(rng: Rng, out: Float64Array, off: number, d: number, dI: number): void {
  _unitRandom(rng, out, off, dI);
  for (let i = dI; i < d; i++) out[off + i] = 0;
}

/** Scales `v[0..d)` to unit length (leaves a zero vector alone); returns the old norm. */
export function normalizeVec(v: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) { for (let i = 0; i < d; i++) v[i] /= n; }
  return n;
}

/** `out[0..d) += w · src[off..off+d)`. */
export function axpy(
  out: Float64Array,
  w: number,
  src: Float64Array,
  off: number,
  d: number,
): void {
  for (let i = 0; i < d; i++) out[i] += w * src[off + i];
}

/** A draw from the (unnormalised) cumulative distribution `cdf`: its index. */
export function zipf(rng: Rng, cdf: Float64Array): number {
  const u = rng.uniform() * cdf[cdf.length - 1];
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function _contains(a: Int32Array, off: number, n: number, v: number): boolean {
  for (let i = 0; i < n; i++) if (a[off + i] === v) return true;
  return false;
}

/** The world of `cfg`: concepts and attributes from `rng`, the image pools' from `poolRng`. */
export function makeWorld(cfg: SyntheticConfig, rng: Rng, poolRng: Rng, poolSize: number): World {
  const d = cfg.dim;
  const M = cfg.concepts;
  const B = cfg.attributes;
  const k = cfg.conceptsPerImage;
  const J = Math.min(cfg.attributesPerImage, B);
  const N = cfg.corpusSize;
  const U = new Float64Array(M * d);
  const Ut = new Float64Array(M * d);
  const A = new Float64Array(B * d);
  const At = new Float64Array(B * d);
  const tmp = new Float64Array(d);
  const noise = new Float64Array(d);
  const dI = d - cfg.gapDims;
  const side = (img: Float64Array, txt: Float64Array, n: number, mis: number) => {
    for (let c = 0; c < n; c++) {
      unitImage(rng, img, c * d, d, dI);
      unitImage(rng, noise, 0, d, dI);
      for (let i = 0; i < d; i++) tmp[i] = img[c * d + i] + mis * noise[i];
      normalizeVec(tmp, d);
      txt.set(tmp, c * d);
    }
  };
  side(U, Ut, M, cfg.textConceptMisalign);
  side(A, At, B, cfg.textAttrMisalign);
  const gap = new Float64Array(d);
  const genGap = new Float64Array(d);
  // The modality gap lives in the last `gapDims` dimensions, which images never use.
  _unitRandom(rng, gap.subarray(dI), 0, cfg.gapDims);
  unitImage(rng, genGap, 0, d, dI);
  const zipfCdf = new Float64Array(M);
  let acc = 0;
  for (let c = 0; c < M; c++) zipfCdf[c] = acc += 1 / Math.pow(c + 1, cfg.conceptZipf);

  const nProtos = Math.max(1, Math.round(N * cfg.sceneFrac));
  const protos = new Int32Array(nProtos * k);
  for (let p = 0; p < nProtos; p++) {
    for (let s = 0; s < k; s++) {
      let c: number;
      do c = zipf(rng, zipfCdf); while (_contains(protos, p * k, s, c));
      protos[p * k + s] = c;
    }
  }
  // Corpus images 0..N-1 from the world stream, then the training pools' images N.. from their
  // own stream, so the pools never change the corpus.
  const NI = N + poolSize;
  const proto = new Int32Array(NI);
  const S = new Int32Array(NI * k);
  const sal = new Float64Array(NI * k);
  const attr = new Int32Array(NI * J);
  for (let n = 0; n < NI; n++) {
    if (n === N) rng = poolRng;
    const p = rng.int(nProtos);
    proto[n] = p;
    for (let s = 0; s < k; s++) {
      let c = protos[p * k + s];
      if (rng.uniform() < cfg.swapProb) {
        do c = zipf(rng, zipfCdf); while (_contains(S, n * k, s, c));
      } else if (_contains(S, n * k, s, c)) {
        do c = zipf(rng, zipfCdf); while (_contains(S, n * k, s, c));
      }
      S[n * k + s] = c;
    }
    // Prototype concepts are listed in no particular order: shuffle which become salient.
    const sub = S.subarray(n * k, n * k + k);
    rng.shuffle(sub);
    for (let s = 0; s < k; s++) sal[n * k + s] = rng.gamma(cfg.salienceShape);
    sal.subarray(n * k, n * k + k).sort().reverse();
    for (let j = 0; j < J; j++) {
      let a: number;
      do a = rng.int(B); while (_contains(attr, n * J, j, a));
      attr[n * J + j] = a;
    }
  }
  return {
    cfg,
    d,
    dI,
    k,
    J,
    U,
    Ut,
    A,
    At,
    gap,
    genGap,
    zipfCdf,
    protos,
    nProtos,
    proto,
    S,
    sal,
    attr,
  };
}

/** Embeddings of images `first .. first+count-1` of the world (corpus or a pool), `[count, d]`. */
export function drawImages(
  w: World,
  first: number,
  count: number,
  rng: Rng,
  onProgress?: (p: SyntheticProgress) => void,
): Float32Array {
  const { cfg, d, k, J } = w;
  const out = new Float32Array(count * d);
  const sem = new Float64Array(d);
  const att = new Float64Array(d);
  const res = new Float64Array(d);
  for (let m = 0; m < count; m++) {
    const n = first + m;
    sem.fill(0);
    att.fill(0);
    for (let s = 0; s < k; s++) axpy(sem, w.sal[n * k + s], w.U, w.S[n * k + s] * d, d);
    for (let j = 0; j < J; j++) axpy(att, 1, w.A, w.attr[n * J + j] * d, d);
    normalizeVec(sem, d);
    normalizeVec(att, d);
    unitImage(rng, res, 0, d, w.dI);
    for (let i = 0; i < d; i++) {
      sem[i] += cfg.imageAttrWeight * att[i] + cfg.imageResidual * res[i];
    }
    normalizeVec(sem, d);
    for (let i = 0; i < d; i++) out[m * d + i] = sem[i];
    if (onProgress && (m + 1) % 10_000 === 0) {
      onProgress({ stage: first === 0 ? "corpus" : "pool", done: m + 1, total: count });
    }
  }
  return out;
}
