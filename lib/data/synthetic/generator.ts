/**
 * lib/data/synthetic/: the synthetic benchmark's knobs and presets (config.ts) and generator
 * (this file). May import runtime/ and data/.
 *
 * The synthetic benchmark: a seeded latent model that stands in for the real BLIP embeddings of
 * COCO, VisDial and the three ChatIR dialogue benchmarks, which cannot be downloaded here.
 *
 * Nothing below writes in a retrieval result. The model only says how images, dialogues, the
 * text encoder and the diffusion model behave; ChatIR's, DAR's and ADaFuSE's numbers are what
 * retrieval on it then gives. Every knob is a field of {@linkcode SyntheticConfig}
 * (`lib/data/synthetic/config.ts`).
 *
 * **Images.** A vocabulary of `concepts` directions `u_c` in image space (objects, scene types;
 * popularity Zipf-distributed) and a bank of `attributes` directions `a_j` (colour, material,
 * light, layout). Images come from shared scene prototypes (`sceneFrac`·N prototypes of
 * `conceptsPerImage` concepts; each concept swapped for a random one with `swapProb`), so many
 * images look alike semantically. Image i has concepts `c_1..c_k` with Gamma saliences sorted
 * descending, `attributesPerImage` attributes, and an idiosyncratic detail vector `ρ_i`:
 * `x_i = normalize(ŝ_i + imageAttrWeight·â_i + imageResidual·ρ_i)` where `ŝ_i` is the unit
 * salience-weighted sum of its concept directions and `â_i` the unit sum of its attributes.
 *
 * **Dialogues.** The caption (round 0) names the `captionConcepts` most salient concepts and
 * perhaps one attribute. Each later round, following the benchmark's measured profile
 * ({@linkcode BENCHMARK_PROFILES}), is an open question (reveals the next concept fully, and an
 * attribute with `openAttrProb`), a yes/no question (reveals the next concept with weight
 * `yesnoWeight`), or a repeat of an earlier question (reveals nothing). Every round adds words.
 *
 * **Text encoder.** Sees revealed concepts through text-side directions that are only partly
 * aligned with the image side (`textConceptMisalign`), revealed attributes through badly aligned
 * ones (`textAttrMisalign`, weight `textAttrWeight`), adds a constant modality gap (`textGap`)
 * and an error whose norm grows with the dialogue's length in words
 * (`textNoise + textNoisePerWord·words`, times a per-image Gamma scale of shape
 * `textNoiseShape`: some images are hard to describe). The error mostly persists within a
 * dialogue: it points to a decoy scene the description also fits (plus `textErrIso` of
 * unstructured error); a share `textNoiseFresh` is fresh each round (`textFreshConcepts`
 * misread concepts).
 * The semantic part is measured against the whole image (revealed salience mass over all of it),
 * so a dialogue that reveals more gets a stronger signal against the same error:
 * `t_r = normalize(revealed/whole + gap + error)`. The gap lives in `gapDims` dimensions that
 * images never use, so it does not reorder a text-only ranking; it shrinks the spread of
 * cos(t, c) against that of image-image similarities cos(g, c), as in real dual encoders.
 *
 * **Diffusion model + image encoder.** Reads the revealed content (not the words, so repetition
 * does not hurt it) and renders it in image space with the true concept directions: this is
 * where a generated image knows more than the text embedding. It completes the scene with the
 * prototype's typical concepts (`genSceneCompletion`), renders revealed attributes and invents
 * `genRandomAttrs` others, adds its own detail (`genNoise`) and a synthetic-image offset
 * (`genGap`). Per instance it fails: a share `genHardFrac` of targets are hard to generate; each
 * generation drops revealed concepts (`genDrop`/`genDropHard`), hallucinates foreign ones
 * (`genHallucinations` at `genHallucWeight`/`genHallucWeightHard`; the same misreadings recur
 * within a dialogue, each fresh with `genHallucFresh`), and sometimes renders a
 * completely different scene (`genOffScene`/`genOffSceneHard`): those off-scene generations are
 * what send a fused ranking a thousand or more places down, and they have low cos(t, g).
 * Failures grow with the dialogue's length: every word beyond the caption adds
 * `genOffScenePerWord` to the off-scene probability (capped at `genOffSceneMax`) and
 * `genDropPerWord` to the drop probability (capped at 0.95): a caption renders faithfully, long
 * and conflicting prompts are where diffusion models fail. Because the diffusion model reads the
 * same dialogue text as the text encoder, a generation inherits `genSharedErr` times the text's
 * persistent misreading (the decoy scene), ramping in as `1 − exp(−words/genSharedErrWords)`
 * over the words beyond the caption: an image cannot rescue every dialogue the text misreads. The generator draws from random
 * streams of its own, so its knobs never change the text side.
 *
 * What the default preset gives is in `data/calibration/report.md` (written by
 * `deno task calibrate`; data seeds 1 and 2, all 2,064 dialogues per benchmark, exact ranking
 * over the 50,000-image corpus): 24 of the 42 published baseline targets met on both seeds.
 * ChatIR's curves meet the table; still missed: DAR's degradation rate (58-69% from round 2,
 * published 50-55.6%), its average rank drop (about 4,200, published about 7,500), DAR − ChatIR
 * at round 0 (+2.2/+3.3, on par: −1..+2), DAR's round-10 gain on Human and Flan (6.9-9.3, at
 * most 8.1), ChatGPT − Human at round 10 on seed 2 (4.4, 0..4) and Flan below Human at round 8.
 *
 * **Splits.** The four benchmarks share the same targets in the same order and the same round 0
 * (one caption, one generation from it) and differ only in how their later rounds go; their
 * targets index the corpus. `train` and `val` follow the VisDial profile (`trainProfile`) and
 * are about images of the same world that are **not** in the search corpus (as the reference
 * trains on VisDial-train images): each split has its own image pool (`images`, `[Q, d]`,
 * drawn after the corpus from separate random streams, so the pools change no corpus or
 * benchmark byte), and its `target` indexes that pool. All embeddings unit length.
 *
 * Same config and seed give the same bytes: only {@linkcode Rng} draws, in a fixed order, and
 * float64 sums in a fixed order.
 *
 * @module
 */
import { CACHE_DIR } from "../../runtime/paths.ts";
import { writeBundle } from "../bundle.ts";
import { Rng } from "../../runtime/rng.ts";
import { BENCHMARKS } from "../benchmarks.ts";
import {
  configHash,
  type DialogueProfile,
  type SyntheticConfig,
  syntheticConfig,
  validateConfig,
} from "./config.ts";

export * from "./config.ts";

/** One split: per dialogue text and generated-image embeddings for every round, and the target. */
export interface SyntheticSplit {
  /** Text embeddings `[Q, rounds, d]`, row-major, unit length. */
  text: Float32Array;
  /** Generated-image embeddings `[Q, rounds, d]`, row-major, unit length. */
  gen: Float32Array;
  /** Target per dialogue `[Q]`: a corpus row, or a row of `images` when the split has a pool. */
  target: Int32Array;
  /** The split's own image pool `[nPool, d]` (train, val: images not in the corpus). */
  images?: Float32Array;
}

/** Options of {@linkcode generateSynthetic}. */
export interface GenerateOptions {
  /** Called now and then with the stage and how far it got. */
  onProgress?: (p: SyntheticProgress) => void;
  /** Skip the `train` and `val` splits and their pools (calibration only needs the benchmarks). */
  benchmarksOnly?: boolean;
}

/** Latent truths of a split, for analyses (not written to bundles). */
export interface SyntheticLatent {
  /** 1 where the target is hard to generate (hallucination-prone), per dialogue `[Q]`. */
  hard: Uint8Array;
  /** 1 where the generation of that round is off-scene, `[Q, rounds]`. */
  offScene: Uint8Array;
}

/** What {@linkcode generateSynthetic} returns, ready for `writeBundle`. */
export interface SyntheticData {
  /** Embedding dimension d. */
  dim: number;
  /** Rounds per dialogue. */
  rounds: number;
  /** Corpus image embeddings `[N, d]`, row-major, unit length. */
  corpus: Float32Array;
  /** `train`, `val` and the four benchmarks. */
  splits: Record<string, SyntheticSplit>;
  /** JSON-able description: generator name and the full config. */
  extra: { generator: string; config: SyntheticConfig };
  /** Latent truths per split (which generations were off-scene, which targets are hard). */
  latent: Record<string, SyntheticLatent>;
}

/** Progress report of {@linkcode generateSynthetic}. */
export interface SyntheticProgress {
  /** What is being generated (`corpus`, a split name). */
  stage: string;
  /** Items done in this stage. */
  done: number;
  /** Items in this stage. */
  total: number;
}

/** Name and version of the latent model, stored in bundles. */
export const SYNTHETIC_GENERATOR = "adafuse-synthetic-v1";

interface _World {
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
function _unitImage(rng: Rng, out: Float64Array, off: number, d: number, dI: number): void {
  _unitRandom(rng, out, off, dI);
  for (let i = dI; i < d; i++) out[off + i] = 0;
}

/** Scales `v[0..d)` to unit length (leaves a zero vector alone); returns the old norm. */
function _normalize(v: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) { for (let i = 0; i < d; i++) v[i] /= n; }
  return n;
}

function _axpy(out: Float64Array, w: number, src: Float64Array, off: number, d: number): void {
  for (let i = 0; i < d; i++) out[i] += w * src[off + i];
}

function _zipf(rng: Rng, cdf: Float64Array): number {
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

function _world(cfg: SyntheticConfig, rng: Rng, poolRng: Rng, poolSize: number): _World {
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
      _unitImage(rng, img, c * d, d, dI);
      _unitImage(rng, noise, 0, d, dI);
      for (let i = 0; i < d; i++) tmp[i] = img[c * d + i] + mis * noise[i];
      _normalize(tmp, d);
      txt.set(tmp, c * d);
    }
  };
  side(U, Ut, M, cfg.textConceptMisalign);
  side(A, At, B, cfg.textAttrMisalign);
  const gap = new Float64Array(d);
  const genGap = new Float64Array(d);
  // The modality gap lives in the last `gapDims` dimensions, which images never use.
  _unitRandom(rng, gap.subarray(dI), 0, cfg.gapDims);
  _unitImage(rng, genGap, 0, d, dI);
  const zipfCdf = new Float64Array(M);
  let acc = 0;
  for (let c = 0; c < M; c++) zipfCdf[c] = acc += 1 / Math.pow(c + 1, cfg.conceptZipf);

  const nProtos = Math.max(1, Math.round(N * cfg.sceneFrac));
  const protos = new Int32Array(nProtos * k);
  for (let p = 0; p < nProtos; p++) {
    for (let s = 0; s < k; s++) {
      let c: number;
      do c = _zipf(rng, zipfCdf); while (_contains(protos, p * k, s, c));
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
        do c = _zipf(rng, zipfCdf); while (_contains(S, n * k, s, c));
      } else if (_contains(S, n * k, s, c)) {
        do c = _zipf(rng, zipfCdf); while (_contains(S, n * k, s, c));
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
function _images(
  w: _World,
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
    for (let s = 0; s < k; s++) _axpy(sem, w.sal[n * k + s], w.U, w.S[n * k + s] * d, d);
    for (let j = 0; j < J; j++) _axpy(att, 1, w.A, w.attr[n * J + j] * d, d);
    _normalize(sem, d);
    _normalize(att, d);
    _unitImage(rng, res, 0, d, w.dI);
    for (let i = 0; i < d; i++) {
      sem[i] += cfg.imageAttrWeight * att[i] + cfg.imageResidual * res[i];
    }
    _normalize(sem, d);
    for (let i = 0; i < d; i++) out[m * d + i] = sem[i];
    if (onProgress && (m + 1) % 10_000 === 0) {
      onProgress({ stage: first === 0 ? "corpus" : "pool", done: m + 1, total: count });
    }
  }
  return out;
}

/** What the dialogues of the four benchmarks share for one target: round 0 and the priors. */
interface _Prior {
  hard: boolean;
  err: Float64Array; // persistent text-encoder error (a decoy scene + isotropic), unit
  captionAttr: number; // attribute slot named by the caption, or -1
  errScale: number; // how hard this image is to describe: scales the encoder error
  halluc: Int32Array; // concepts the diffusion model tends to hallucinate for this dialogue
}

/** Scratch buffers for one dialogue. */
interface _Scratch {
  rc: Float64Array; // revealed weight per concept slot
  ra: Float64Array; // revealed weight per attribute slot
  order: Int32Array; // order in which concept slots get asked about
  aorder: Int32Array; // order in which attribute slots get revealed
  v1: Float64Array;
  v2: Float64Array;
  v3: Float64Array;
}

function _prior(w: _World, rng: Rng): _Prior {
  const { cfg, d, k } = w;
  // The persistent error: the description also fits a decoy scene, plus unstructured error.
  const err = new Float64Array(d);
  const iso = new Float64Array(d);
  const p = rng.int(w.nProtos);
  for (let s = 0; s < k; s++) {
    _axpy(err, rng.gamma(cfg.salienceShape), w.Ut, w.protos[p * k + s] * d, d);
  }
  _normalize(err, d);
  _unitImage(rng, iso, 0, d, w.dI);
  for (let i = 0; i < d; i++) err[i] += cfg.textErrIso * iso[i];
  // The diffusion model's persistent misreadings of this dialogue.
  const halluc = new Int32Array(cfg.genHallucinations);
  for (let h = 0; h < halluc.length; h++) halluc[h] = _zipf(rng, w.zipfCdf);
  _normalize(err, d);
  const errScale = rng.gamma(cfg.textNoiseShape) / cfg.textNoiseShape;
  const hard = rng.uniform() < cfg.genHardFrac;
  const captionAttr = rng.uniform() < cfg.captionAttrProb ? rng.int(w.J) : -1;
  return { hard, err, errScale, captionAttr, halluc };
}

function _text(w: _World, n: number, pr: _Prior, sc: _Scratch, words: number, rng: Rng): void {
  const { cfg, d, k, J } = w;
  const sem = sc.v1;
  const att = sc.v2;
  const err = sc.v3;
  sem.fill(0);
  att.fill(0);
  // The signal is measured against the whole image: it grows as more content is revealed.
  let full = 0;
  for (let s = 0; s < k; s++) {
    const sal = w.sal[n * k + s];
    full += sal * sal;
    if (sc.rc[s] > 0) _axpy(sem, sc.rc[s] * sal, w.Ut, w.S[n * k + s] * d, d);
  }
  for (let j = 0; j < J; j++) {
    if (sc.ra[j] > 0) _axpy(att, sc.ra[j], w.At, w.attr[n * J + j] * d, d);
  }
  const semScale = 1 / Math.sqrt(full);
  const attScale = cfg.textAttrWeight / Math.sqrt(J);
  for (let i = 0; i < d; i++) sem[i] = sem[i] * semScale + att[i] * attScale;
  // The fresh error: a few concepts misread this round.
  err.fill(0);
  for (let m = 0; m < cfg.textFreshConcepts; m++) _axpy(err, 1, w.Ut, _zipf(rng, w.zipfCdf) * d, d);
  _normalize(err, d);
  const f = cfg.textNoiseFresh;
  for (let i = 0; i < d; i++) err[i] = (1 - f) * pr.err[i] + f * err[i];
  _normalize(err, d);
  const sigma = pr.errScale * (cfg.textNoise + cfg.textNoisePerWord * words);
  for (let i = 0; i < d; i++) sem[i] += cfg.textGap * w.gap[i] + sigma * err[i];
  _normalize(sem, d);
}

/**
 * Renders one generation into `sc.v1` from a dialogue of `words` words; returns whether it went
 * off-scene. Failures grow with the words beyond the caption (long, conflicting prompts).
 */
function _generate(
  w: _World,
  n: number,
  pr: _Prior,
  sc: _Scratch,
  words: number,
  rng: Rng,
): boolean {
  const { cfg, d, k, J } = w;
  const sem = sc.v1;
  const att = sc.v2;
  const noise = sc.v3;
  sem.fill(0);
  att.fill(0);
  const extra = Math.max(0, words - cfg.captionWords);
  const pOff = Math.min(
    cfg.genOffSceneMax,
    (pr.hard ? cfg.genOffSceneHard : cfg.genOffScene) + cfg.genOffScenePerWord * extra,
  );
  const off = rng.uniform() < pOff;
  if (off) {
    // A different scene altogether: another prototype, with its own made-up attributes.
    let p = rng.int(w.nProtos);
    if (p === w.proto[n] && w.nProtos > 1) p = (p + 1) % w.nProtos;
    for (let s = 0; s < k; s++) {
      _axpy(sem, rng.gamma(cfg.salienceShape), w.U, w.protos[p * k + s] * d, d);
    }
    for (let j = 0; j < J; j++) _axpy(att, 1, w.A, rng.int(cfg.attributes) * d, d);
  } else {
    const drop = Math.min(
      0.95,
      (pr.hard ? cfg.genDropHard : cfg.genDrop) + cfg.genDropPerWord * extra,
    );
    for (let s = 0; s < k; s++) {
      if (sc.rc[s] > 0 && rng.uniform() >= drop) {
        _axpy(sem, sc.rc[s] * w.sal[n * k + s], w.U, w.S[n * k + s] * d, d);
      }
    }
    // Scene completion: typical concepts of the scene that the dialogue has not named.
    const p = w.proto[n];
    for (let s = 0; s < k; s++) {
      const c = w.protos[p * k + s];
      let named = false;
      for (let t = 0; t < k; t++) if (sc.rc[t] > 0 && w.S[n * k + t] === c) named = true;
      if (!named && rng.uniform() < cfg.genSceneCompletion) {
        _axpy(sem, cfg.genCompletionWeight * cfg.salienceShape, w.U, c * d, d);
      }
    }
    const hw = pr.hard ? cfg.genHallucWeightHard : cfg.genHallucWeight;
    for (let h = 0; h < cfg.genHallucinations; h++) {
      const c = rng.uniform() < cfg.genHallucFresh ? _zipf(rng, w.zipfCdf) : pr.halluc[h];
      _axpy(sem, hw * cfg.salienceShape * rng.gamma(2) / 2, w.U, c * d, d);
    }
    for (let j = 0; j < J; j++) {
      if (sc.ra[j] > 0) _axpy(att, sc.ra[j], w.A, w.attr[n * J + j] * d, d);
    }
    for (let j = 0; j < cfg.genRandomAttrs; j++) _axpy(att, 1, w.A, rng.int(cfg.attributes) * d, d);
    // The diffusion model reads the same dialogue text as the text encoder, so it shares the
    // text's persistent misreading (the decoy scene), at `genSharedErr` times the text's error,
    // ramping up with the words beyond the caption (a caption renders faithfully).
    if (cfg.genSharedErr > 0) {
      let full = 0;
      for (let s = 0; s < k; s++) full += w.sal[n * k + s] * w.sal[n * k + s];
      const sigma = pr.errScale * (cfg.textNoise + cfg.textNoisePerWord * words);
      const ramp = 1 - Math.exp(-extra / cfg.genSharedErrWords);
      _axpy(sem, cfg.genSharedErr * ramp * sigma * Math.sqrt(full), pr.err, 0, d);
    }
  }
  _normalize(sem, d);
  _normalize(att, d);
  _unitImage(rng, noise, 0, d, w.dI);
  for (let i = 0; i < d; i++) {
    sem[i] += cfg.genAttrWeight * att[i] + cfg.genNoise * noise[i] + cfg.genGap * w.genGap[i];
  }
  _normalize(sem, d);
  return off;
}

function _store(out: Float32Array, off: number, v: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) out[off + i] = v[i];
}

/** Starts a dialogue: the caption's reveals and the order of later questions. */
function _startDialogue(w: _World, pr: _Prior, sc: _Scratch, rng: Rng): void {
  const { cfg, k, J } = w;
  sc.rc.fill(0);
  sc.ra.fill(0);
  for (let s = 0; s < cfg.captionConcepts; s++) sc.rc[s] = 1;
  if (pr.captionAttr >= 0) sc.ra[pr.captionAttr] = 1;
  // Later questions ask about the remaining concepts in random order.
  for (let s = 0; s < k; s++) sc.order[s] = s;
  rng.shuffle(sc.order.subarray(cfg.captionConcepts));
  for (let j = 0; j < J; j++) sc.aorder[j] = j;
  rng.shuffle(sc.aorder);
}

/** Plays rounds 1..rounds-1 of one dialogue, writing text and generation of each round. */
function _playRounds(
  w: _World,
  n: number,
  pr: _Prior,
  profile: DialogueProfile,
  sc: _Scratch,
  rng: Rng,
  genRng: Rng,
  split: SyntheticSplit,
  latent: SyntheticLatent,
  q: number,
): void {
  const { cfg, d, k, J } = w;
  const R = cfg.rounds;
  let next = cfg.captionConcepts;
  let nextAttr = 0;
  let words = cfg.captionWords;
  for (let r = 1; r < R; r++) {
    const u = rng.uniform();
    const open = profile.open[r - 1];
    if (u < open) {
      if (next < k) sc.rc[sc.order[next++]] = 1;
      if (rng.uniform() < cfg.openAttrProb) {
        while (nextAttr < J && sc.ra[sc.aorder[nextAttr]] > 0) nextAttr++;
        if (nextAttr < J) sc.ra[sc.aorder[nextAttr++]] = 1;
      }
    } else if (u < open + profile.yesno[r - 1]) {
      if (next < k) sc.rc[sc.order[next++]] = cfg.yesnoWeight;
    }
    words += profile.words[r - 1];
    const off = (q * R + r) * d;
    _text(w, n, pr, sc, words, rng);
    _store(split.text, off, sc.v1, d);
    latent.offScene[q * R + r] = _generate(w, n, pr, sc, words, genRng) ? 1 : 0;
    _store(split.gen, off, sc.v1, d);
  }
}

function _scratch(w: _World): _Scratch {
  return {
    rc: new Float64Array(w.k),
    ra: new Float64Array(w.J),
    order: new Int32Array(w.k),
    aorder: new Int32Array(w.J),
    v1: new Float64Array(w.d),
    v2: new Float64Array(w.d),
    v3: new Float64Array(w.d),
  };
}

function _emptySplit(Q: number, R: number, d: number, target: Int32Array) {
  return {
    split: { text: new Float32Array(Q * R * d), gen: new Float32Array(Q * R * d), target },
    latent: { hard: new Uint8Array(Q), offScene: new Uint8Array(Q * R) },
  };
}

/**
 * One split of independent dialogues (train, val) about the world images `first + q`; the
 * stored target of dialogue q is q, its row in the split's own image pool.
 */
function _dialogSplit(
  w: _World,
  first: number,
  target: Int32Array,
  profile: DialogueProfile,
  rng: Rng,
  name: string,
  onProgress?: (p: SyntheticProgress) => void,
): { split: SyntheticSplit; latent: SyntheticLatent } {
  const { d } = w;
  const R = w.cfg.rounds;
  const Q = target.length;
  const out = _emptySplit(Q, R, d, target);
  const sc = _scratch(w);
  const genRng = rng.fork(); // the diffusion model's own stream
  for (let q = 0; q < Q; q++) {
    const n = first + target[q];
    const pr = _prior(w, rng);
    out.latent.hard[q] = pr.hard ? 1 : 0;
    _startDialogue(w, pr, sc, rng);
    _text(w, n, pr, sc, w.cfg.captionWords, rng);
    _store(out.split.text, q * R * d, sc.v1, d);
    out.latent.offScene[q * R] = _generate(w, n, pr, sc, w.cfg.captionWords, genRng) ? 1 : 0;
    _store(out.split.gen, q * R * d, sc.v1, d);
    _playRounds(w, n, pr, profile, sc, rng, genRng, out.split, out.latent, q);
    if (onProgress && ((q + 1) % 5_000 === 0 || q + 1 === Q)) {
      onProgress({ stage: name, done: q + 1, total: Q });
    }
  }
  return out;
}

/** The four benchmarks: one round 0 per target, then each benchmark's own rounds. */
function _benchmarks(
  w: _World,
  target: Int32Array,
  rng: Rng,
  onProgress?: (p: SyntheticProgress) => void,
): Record<string, { split: SyntheticSplit; latent: SyntheticLatent }> {
  const { d, cfg } = w;
  const R = cfg.rounds;
  const Q = target.length;
  const outs = BENCHMARKS.map(() => _emptySplit(Q, R, d, target));
  const rngs = BENCHMARKS.map(() => rng.fork());
  // The diffusion model draws from streams of its own, so its knobs never change the text side.
  const genRngs = BENCHMARKS.map(() => rng.fork());
  const gen0Rng = rng.fork();
  const sc = _scratch(w);
  for (let q = 0; q < Q; q++) {
    const n = target[q];
    const pr = _prior(w, rng);
    // Round 0: the same caption, encoded once, and one generation from it, in every benchmark.
    _startDialogue(w, pr, sc, rng);
    _text(w, n, pr, sc, cfg.captionWords, rng);
    const t0 = Float64Array.from(sc.v1);
    const off0 = _generate(w, n, pr, sc, cfg.captionWords, gen0Rng) ? 1 : 0;
    const g0 = sc.v1;
    outs.forEach((o) => {
      o.latent.hard[q] = pr.hard ? 1 : 0;
      o.latent.offScene[q * R] = off0;
      _store(o.split.text, q * R * d, t0, d);
      _store(o.split.gen, q * R * d, g0, d);
    });
    BENCHMARKS.forEach((name, b) => {
      _startDialogue(w, pr, sc, rngs[b]);
      _playRounds(
        w,
        n,
        pr,
        cfg.profiles[name],
        sc,
        rngs[b],
        genRngs[b],
        outs[b].split,
        outs[b].latent,
        q,
      );
    });
    if (onProgress && ((q + 1) % 500 === 0 || q + 1 === Q)) {
      onProgress({ stage: "benchmarks", done: q + 1, total: Q });
    }
  }
  return Object.fromEntries(BENCHMARKS.map((name, b) => [name, outs[b]]));
}

/**
 * Generates the synthetic benchmark of a config (see the module docs for the latent model).
 *
 * @param cfg the full config, e.g. `syntheticConfig("small", 1)`.
 * @param onProgress called now and then with the stage and how far it got.
 * @returns in-memory arrays: corpus `[N, d]`, splits `train`, `val`, `visdial`,
 *   `chatgpt_blip2`, `human_blip2`, `flan_alpaca_xxl_blip2` with text and gen `[Q, rounds, d]`
 *   and targets `[Q]`, `extra` (generator and config) and the latent truths per split.
 */
export function generateSynthetic(
  cfg: SyntheticConfig,
  opts: GenerateOptions | ((p: SyntheticProgress) => void) = {},
): SyntheticData {
  const { onProgress, benchmarksOnly = false } = typeof opts === "function"
    ? { onProgress: opts }
    : opts;
  validateConfig(cfg);
  const root = new Rng(cfg.seed);
  const worldRng = root.fork();
  const corpusRng = root.fork();
  const targetRng = root.fork();
  const benchRng = root.fork();
  const trainRng = root.fork();
  const valRng = root.fork();
  const poolWorldRng = root.fork();
  const poolImageRng = root.fork();

  const N = cfg.corpusSize;
  const nTrain = benchmarksOnly ? 0 : cfg.trainSize;
  const nVal = benchmarksOnly ? 0 : cfg.valSize;
  const w = _world(cfg, worldRng, poolWorldRng, nTrain + nVal);
  const corpus = _images(w, 0, N, corpusRng, onProgress);

  const perm = new Int32Array(N);
  for (let i = 0; i < perm.length; i++) perm[i] = i;
  targetRng.shuffle(perm);
  const benchT = perm.slice(0, cfg.benchSize);

  const all: Record<string, { split: SyntheticSplit; latent: SyntheticLatent }> = {};
  if (!benchmarksOnly) {
    // Training and validation dialogues are about images of the same world that are not in the
    // search corpus: the pools, world images N.. (train first, then val).
    const pools = _images(w, N, nTrain + nVal, poolImageRng, onProgress);
    const iota = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    const profile = cfg.profiles[cfg.trainProfile];
    all.train = _dialogSplit(w, N, iota(nTrain), profile, trainRng, "train", onProgress);
    all.train.split.images = pools.slice(0, nTrain * cfg.dim);
    all.val = _dialogSplit(w, N + nTrain, iota(nVal), profile, valRng, "val", onProgress);
    all.val.split.images = pools.slice(nTrain * cfg.dim);
  }
  Object.assign(all, _benchmarks(w, benchT, benchRng, onProgress));
  const splits: Record<string, SyntheticSplit> = {};
  const latent: Record<string, SyntheticLatent> = {};
  for (const [name, v] of Object.entries(all)) {
    splits[name] = v.split;
    latent[name] = v.latent;
  }
  return {
    dim: cfg.dim,
    rounds: cfg.rounds,
    corpus,
    splits,
    extra: { generator: SYNTHETIC_GENERATOR, config: cfg },
    latent,
  };
}

/** Options of {@linkcode ensureSynthetic}. */
export interface EnsureSyntheticOptions {
  /** Preset name (`default` or `small`); default `default`. */
  preset?: string;
  /** Seed; default 0. */
  seed?: number;
  /** Bundle folder; default `cache/synthetic-<preset>-<seed>-<hash8>` under `CACHE_DIR` (`data/`). */
  dir?: string;
  /** Overrides of any knob of the preset (they change the cache key). */
  overrides?: Partial<SyntheticConfig>;
  /** Where progress lines go; default stderr for the `default` preset, silent for others. */
  log?: (line: string) => void;
}

/** What {@linkcode ensureSyntheticBundle} did. */
export interface EnsureSyntheticResult {
  /** The bundle folder (absolute when the default was used). */
  dir: string;
  /** True when a bundle of the same config was already there and nothing was generated. */
  cached: boolean;
  /** SHA-256 of the full config (stored as `config_hash` in the manifest). */
  hash: string;
  /** Seconds spent generating and writing (0 when cached). */
  seconds: number;
}

async function _manifestHash(dir: string): Promise<string | undefined> {
  try {
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    return typeof m?.config_hash === "string" ? m.config_hash : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure a synthetic bundle of the given preset, seed and overrides exists on disk, and says
 * whether it generated it. The cache key is the SHA-256 of the full config (every knob), stored
 * as `config_hash` in `manifest.json`; a folder whose manifest has another hash is regenerated.
 */
export async function ensureSyntheticBundle(
  opts: EnsureSyntheticOptions = {},
): Promise<EnsureSyntheticResult> {
  const preset = opts.preset ?? "default";
  const seed = opts.seed ?? 0;
  const cfg = syntheticConfig(preset, seed, opts.overrides ?? {});
  const hash = await configHash(cfg);
  const dir = opts.dir ?? `${CACHE_DIR}/cache/synthetic-${preset}-${seed}-${hash.slice(0, 8)}`;
  if ((await _manifestHash(dir)) === hash) return { dir, cached: true, hash, seconds: 0 };
  const log = opts.log ??
    (preset === "default" ? (line: string) => console.error(line) : () => {});
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
  log(`synthetic: generating preset '${preset}' seed ${seed} (config ${hash.slice(0, 8)})`);
  const data = generateSynthetic(
    cfg,
    (p) => log(`synthetic: ${p.stage} ${p.done}/${p.total} (${secs()} s)`),
  );
  log(`synthetic: writing ${dir}`);
  await writeBundle(dir, {
    dim: data.dim,
    rounds: data.rounds,
    corpus: data.corpus,
    splits: data.splits,
    extra: {
      source: "synthetic",
      generator: SYNTHETIC_GENERATOR,
      config: cfg,
      config_hash: hash,
    },
  });
  log(`synthetic: done in ${secs()} s`);
  return { dir, cached: false, hash, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The folder of a synthetic bundle of the given preset and seed, generated and written on first
 * use and read from the cache after (see {@linkcode ensureSyntheticBundle}).
 *
 * @returns the bundle folder, ready for `loadBundle`.
 */
export async function ensureSynthetic(opts: EnsureSyntheticOptions = {}): Promise<string> {
  return (await ensureSyntheticBundle(opts)).dir;
}
