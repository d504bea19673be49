/**
 * The dialogues of the synthetic benchmark (the latent model is described in generator.ts): one
 * dialogue's priors, the caption and the later rounds played after a benchmark's profile, the
 * text encoder's embedding of what was revealed, and the diffusion model's rendering of it.
 *
 * @module
 */
import type { Rng } from "../../runtime/rng.ts";
import type { DialogueProfile } from "./config.ts";
import type { SyntheticLatent, SyntheticSplit } from "./types.ts";
import { axpy, normalizeVec, unitImage, type World, zipf } from "./world.ts";
/** What the dialogues of the four benchmarks share for one target: round 0 and the priors. */
export interface DialoguePrior {
  hard: boolean;
  err: Float64Array; // persistent text-encoder error (a decoy scene + isotropic), unit
  captionAttr: number; // attribute slot named by the caption, or -1
  errScale: number; // how hard this image is to describe: scales the encoder error
  halluc: Int32Array; // concepts the diffusion model tends to hallucinate for this dialogue
  offU: number; // the dialogue's persistent off-scene draw (how prone its prompts are to fail)
}

/** Scratch buffers for one dialogue. */
export interface DialogueScratch {
  rc: Float64Array; // revealed weight per concept slot
  ra: Float64Array; // revealed weight per attribute slot
  order: Int32Array; // order in which concept slots get asked about
  aorder: Int32Array; // order in which attribute slots get revealed
  v1: Float64Array;
  v2: Float64Array;
  v3: Float64Array;
}

/**
 * The priors of one dialogue. Text-side draws come from `rng`; the dialogue's persistent
 * off-scene draw comes from the diffusion model's stream `genRng` (only when
 * `genOffScenePersist` > 0, so the text side never depends on a generator knob).
 */
export function dialoguePrior(w: World, rng: Rng, genRng: Rng): DialoguePrior {
  const { cfg, d, k } = w;
  // The persistent error: the description also fits a decoy scene, plus unstructured error.
  const err = new Float64Array(d);
  const iso = new Float64Array(d);
  const p = rng.int(w.nProtos);
  for (let s = 0; s < k; s++) {
    axpy(err, rng.gamma(cfg.salienceShape), w.Ut, w.protos[p * k + s] * d, d);
  }
  normalizeVec(err, d);
  unitImage(rng, iso, 0, d, w.dI);
  for (let i = 0; i < d; i++) err[i] += cfg.textErrIso * iso[i];
  // The diffusion model's persistent misreadings of this dialogue.
  const halluc = new Int32Array(cfg.genHallucinations);
  for (let h = 0; h < halluc.length; h++) halluc[h] = zipf(rng, w.zipfCdf);
  normalizeVec(err, d);
  const errScale = rng.gamma(cfg.textNoiseShape) / cfg.textNoiseShape;
  const hard = rng.uniform() < cfg.genHardFrac;
  const captionAttr = rng.uniform() < cfg.captionAttrProb ? rng.int(w.J) : -1;
  const offU = cfg.genOffScenePersist > 0 ? genRng.uniform() : -1;
  return { hard, err, errScale, captionAttr, halluc, offU };
}

/** The text encoder: the query of a dialogue about image `n` after `words` words, into `sc.v1`. */
export function encodeText(
  w: World,
  n: number,
  pr: DialoguePrior,
  sc: DialogueScratch,
  words: number,
  rng: Rng,
): void {
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
    if (sc.rc[s] > 0) axpy(sem, sc.rc[s] * sal, w.Ut, w.S[n * k + s] * d, d);
  }
  for (let j = 0; j < J; j++) {
    if (sc.ra[j] > 0) axpy(att, sc.ra[j], w.At, w.attr[n * J + j] * d, d);
  }
  const semScale = 1 / Math.sqrt(full);
  const attScale = cfg.textAttrWeight / Math.sqrt(J);
  for (let i = 0; i < d; i++) sem[i] = sem[i] * semScale + att[i] * attScale;
  // The fresh error: a few concepts misread this round.
  err.fill(0);
  for (let m = 0; m < cfg.textFreshConcepts; m++) axpy(err, 1, w.Ut, zipf(rng, w.zipfCdf) * d, d);
  normalizeVec(err, d);
  const f = cfg.textNoiseFresh;
  for (let i = 0; i < d; i++) err[i] = (1 - f) * pr.err[i] + f * err[i];
  normalizeVec(err, d);
  const sigma = pr.errScale * (cfg.textNoise + cfg.textNoisePerWord * words);
  for (let i = 0; i < d; i++) sem[i] += cfg.textGap * w.gap[i] + sigma * err[i];
  normalizeVec(sem, d);
}

/**
 * Renders one generation into `sc.v1` from a dialogue of `words` words; returns whether it went
 * off-scene. Failures grow with the words beyond the caption (long, conflicting prompts).
 */
export function renderImage(
  w: World,
  n: number,
  pr: DialoguePrior,
  sc: DialogueScratch,
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
  // A share `genOffScenePersist` of the draws is the dialogue's own: a prompt that fails once
  // the dialogue is long enough keeps failing as it grows (pOff only rises with the words).
  const u = rng.uniform();
  const off = (pr.offU >= 0 && rng.uniform() < cfg.genOffScenePersist ? pr.offU : u) < pOff;
  if (off) {
    // A different scene altogether: another prototype, with its own made-up attributes.
    let p = rng.int(w.nProtos);
    if (p === w.proto[n] && w.nProtos > 1) p = (p + 1) % w.nProtos;
    for (let s = 0; s < k; s++) {
      axpy(sem, rng.gamma(cfg.salienceShape), w.U, w.protos[p * k + s] * d, d);
    }
    for (let j = 0; j < J; j++) axpy(att, 1, w.A, rng.int(cfg.attributes) * d, d);
  } else {
    const drop = Math.min(
      0.95,
      (pr.hard ? cfg.genDropHard : cfg.genDrop) + cfg.genDropPerWord * extra,
    );
    for (let s = 0; s < k; s++) {
      if (sc.rc[s] > 0 && rng.uniform() >= drop) {
        axpy(sem, sc.rc[s] * w.sal[n * k + s], w.U, w.S[n * k + s] * d, d);
      }
    }
    // Scene completion: typical concepts of the scene that the dialogue has not named.
    const p = w.proto[n];
    for (let s = 0; s < k; s++) {
      const c = w.protos[p * k + s];
      let named = false;
      for (let t = 0; t < k; t++) if (sc.rc[t] > 0 && w.S[n * k + t] === c) named = true;
      if (!named && rng.uniform() < cfg.genSceneCompletion) {
        axpy(sem, cfg.genCompletionWeight * cfg.salienceShape, w.U, c * d, d);
      }
    }
    const hw = pr.hard ? cfg.genHallucWeightHard : cfg.genHallucWeight;
    for (let h = 0; h < cfg.genHallucinations; h++) {
      const c = rng.uniform() < cfg.genHallucFresh ? zipf(rng, w.zipfCdf) : pr.halluc[h];
      axpy(sem, hw * cfg.salienceShape * rng.gamma(2) / 2, w.U, c * d, d);
    }
    for (let j = 0; j < J; j++) {
      if (sc.ra[j] > 0) axpy(att, sc.ra[j], w.A, w.attr[n * J + j] * d, d);
    }
    for (let j = 0; j < cfg.genRandomAttrs; j++) axpy(att, 1, w.A, rng.int(cfg.attributes) * d, d);
    // The diffusion model reads the same dialogue text as the text encoder, so it shares the
    // text's persistent misreading (the decoy scene), at `genSharedErr` times the text's error,
    // ramping up with the words beyond the caption (a caption renders faithfully).
    if (cfg.genSharedErr > 0) {
      let full = 0;
      for (let s = 0; s < k; s++) full += w.sal[n * k + s] * w.sal[n * k + s];
      const sigma = pr.errScale * (cfg.textNoise + cfg.textNoisePerWord * words);
      const ramp = 1 - Math.exp(-extra / cfg.genSharedErrWords);
      axpy(sem, cfg.genSharedErr * ramp * sigma * Math.sqrt(full), pr.err, 0, d);
    }
  }
  normalizeVec(sem, d);
  normalizeVec(att, d);
  unitImage(rng, noise, 0, d, w.dI);
  for (let i = 0; i < d; i++) {
    sem[i] += cfg.genAttrWeight * att[i] + cfg.genNoise * noise[i] + cfg.genGap * w.genGap[i];
  }
  normalizeVec(sem, d);
  return off;
}

/** Copies the `d` values of `v` into `out` at `off` (as float32). */
export function storeRound(out: Float32Array, off: number, v: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) out[off + i] = v[i];
}

/** Starts a dialogue: the caption's reveals and the order of later questions. */
export function startDialogue(w: World, pr: DialoguePrior, sc: DialogueScratch, rng: Rng): void {
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
export function playRounds(
  w: World,
  n: number,
  pr: DialoguePrior,
  profile: DialogueProfile,
  sc: DialogueScratch,
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
    encodeText(w, n, pr, sc, words, rng);
    storeRound(split.text, off, sc.v1, d);
    latent.offScene[q * R + r] = renderImage(w, n, pr, sc, words, genRng) ? 1 : 0;
    storeRound(split.gen, off, sc.v1, d);
  }
}

/** The scratch buffers one dialogue's encoding and rendering reuse. */
export function dialogueScratch(w: World): DialogueScratch {
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
