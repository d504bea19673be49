/**
 * The shapes the generator's parts share (one split, its latent truths, a progress report), in
 * a file of their own so that the generator, its world and its dialogues import them without
 * importing each other in a circle.
 *
 * @module
 */

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

/**
 * Latent truths of a split, for analyses: written beside the bundle in `latent/` (not part of the
 * bundle format; see latent.ts).
 */
export interface SyntheticLatent {
  /** 1 where the target is hard to generate (hallucination-prone), per dialogue `[Q]`. */
  hard: Uint8Array;
  /** 1 where the generation of that round is off-scene, `[Q, rounds]`. */
  offScene: Uint8Array;
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
