/**
 * Configuration, presets and config hashing of the synthetic benchmark (generator.ts). Every knob of the latent model is a field of {@linkcode SyntheticConfig}
 * with a one-line doc; `lib/data/synthetic/generator.ts` explains what the model does with them.
 *
 * The per-round dialogue profiles of the four benchmarks ({@linkcode BENCHMARK_PROFILES}) are
 * dialogue statistics measured once from the public ChatIR dialogue files (share of rounds that
 * ask a new open question, a new yes/no question, or repeat an earlier question; words per
 * round). They describe the *dialogues*, not any retrieval result: the retrieval numbers emerge
 * from the latent model.
 *
 * @module
 */
import { type BenchmarkName } from "../benchmarks.ts";
import { stableHash } from "../../runtime/hash.ts";

/** How the dialogues of one benchmark behave round by round (rounds 1..10). */
export interface DialogueProfile {
  /** Per round 1..10: probability the round asks a new open question with a contentful answer. */
  open: number[];
  /** Per round 1..10: probability of a new yes/no question (the rest repeat an earlier one). */
  yesno: number[];
  /** Per round 1..10: words the round adds to the dialogue text. */
  words: number[];
}

/**
 * Dialogue profiles measured from ChatIR's dialogue files (2,064 dialogues each): a question
 * is "repeated" when its text equals an earlier question of the same dialogue, "yes/no" when
 * its answer starts with yes/no/unknown; the rest are open. Rounded to two decimals.
 */
export const BENCHMARK_PROFILES: Record<BenchmarkName, DialogueProfile> = {
  // VisDial val: human questions, human answers; about half yes/no.
  visdial: {
    open: [0.46, 0.51, 0.53, 0.49, 0.47, 0.46, 0.46, 0.44, 0.44, 0.43],
    yesno: [0.54, 0.49, 0.47, 0.51, 0.53, 0.54, 0.54, 0.56, 0.56, 0.57],
    words: [7.9, 8.1, 8.3, 8.3, 8.3, 8.4, 8.3, 8.3, 8.3, 7.9],
  },
  // ChatGPT questions, BLIP-2 answers: mostly open, long questions.
  chatgpt_blip2: {
    open: [0.88, 0.77, 0.73, 0.68, 0.64, 0.62, 0.64, 0.65, 0.61, 0.59],
    yesno: [0.12, 0.23, 0.27, 0.32, 0.36, 0.38, 0.36, 0.35, 0.39, 0.41],
    words: [10.9, 10.5, 10.9, 11.2, 11.4, 11.4, 11.3, 11.4, 11.4, 11.5],
  },
  // Human questions, BLIP-2 answers: mostly yes/no, short.
  human_blip2: {
    open: [0.29, 0.34, 0.34, 0.34, 0.32, 0.27, 0.26, 0.26, 0.23, 0.23],
    yesno: [0.71, 0.66, 0.66, 0.66, 0.68, 0.73, 0.74, 0.74, 0.77, 0.77],
    words: [6.6, 6.4, 6.3, 6.4, 6.4, 6.3, 6.4, 6.4, 6.4, 6.4],
  },
  // Flan-Alpaca-XXL questions, BLIP-2 answers: repeats itself from round 3 on, ever longer.
  flan_alpaca_xxl_blip2: {
    open: [0.98, 0.84, 0.65, 0.37, 0.18, 0.09, 0.05, 0.02, 0.01, 0.01],
    yesno: [0.02, 0.01, 0.01, 0.01, 0.01, 0, 0, 0, 0, 0],
    words: [8.9, 8.9, 10.6, 11.4, 12.2, 13.1, 13.6, 14.0, 14.4, 14.7],
  },
};

/** Every knob of the synthetic benchmark. See `lib/data/synthetic/generator.ts` for the latent model. */
export interface SyntheticConfig {
  /** Name of the preset the config started from (part of the cache key). */
  preset: string;
  /** Seed of the whole generation; same config and seed give the same bytes. */
  seed: number;
  /** Embedding dimension d. */
  dim: number;
  /** Dialogue rounds per dialogue (caption + 10 question/answer rounds). */
  rounds: number;
  /** Corpus size N (images searched). */
  corpusSize: number;
  /** Dialogues per benchmark split (all four share the same targets in the same order). */
  benchSize: number;
  /**
   * Dialogues in the `train` split (VisDial-like; targets are images of its own pool, not the
   * corpus): 123,287 on the default preset, VisDial v1.0 train's size, so that the reference
   * recipe makes about 60 updates an epoch as it does there.
   */
  trainSize: number;
  /** Dialogues in the `val` split (VisDial-like; targets are images of its own pool, not the corpus). */
  valSize: number;

  /** Size of the concept vocabulary (objects, scene types, actions). */
  concepts: number;
  /** Zipf exponent of concept popularity (0 = uniform). */
  conceptZipf: number;
  /** Concepts per image. */
  conceptsPerImage: number;
  /** Scene prototypes as a share of the corpus size (images drawn from shared prototypes). */
  sceneFrac: number;
  /** Probability that each concept of an image is swapped for a random one (scene variation). */
  swapProb: number;
  /** Shape of the Gamma law of concept salience (sorted: concept 0 is the most salient). */
  salienceShape: number;
  /** Size of the bank of visual attributes (colour, material, lighting, layout). */
  attributes: number;
  /** Visual attributes per image. */
  attributesPerImage: number;
  /** Weight of the attribute part of an image embedding against its (unit) semantic part. */
  imageAttrWeight: number;
  /** Weight of each image's idiosyncratic detail that nothing in a dialogue reveals. */
  imageResidual: number;

  /** Concepts the caption (round 0) names: the most salient ones. */
  captionConcepts: number;
  /** Probability the caption also names one visual attribute. */
  captionAttrProb: number;
  /** Words of the caption. */
  captionWords: number;
  /** Weight with which a yes/no answer reveals a concept (an open answer reveals it fully). */
  yesnoWeight: number;
  /** Probability an open answer also reveals one visual attribute ("what colour is ..."). */
  openAttrProb: number;

  /** Misalignment of text-side concept directions with image-side ones (noise norm). */
  textConceptMisalign: number;
  /** Misalignment of text-side attribute directions (text expresses visual detail poorly). */
  textAttrMisalign: number;
  /** Weight of revealed attributes in the text embedding against the semantic part. */
  textAttrWeight: number;
  /** Dimensions reserved for the modality gap (images never use them). */
  gapDims: number;
  /** Norm of the modality gap: a constant offset of every text embedding in the gap dims. */
  textGap: number;
  /** Base norm of the text encoder's error. */
  textNoise: number;
  /** Growth of the text encoder's error per word of dialogue (long text is encoded worse). */
  textNoisePerWord: number;
  /** Share of the encoder error that is fresh each round (the rest persists in a dialogue). */
  textNoiseFresh: number;
  /** Gamma shape of the per-image scale of the encoder error (small = some images undescribable). */
  textNoiseShape: number;
  /** Norm of the unstructured part of the persistent error (the rest points to a decoy scene). */
  textErrIso: number;
  /** Concepts misread per round: the fresh part of the encoder error. */
  textFreshConcepts: number;

  /** Share of targets that are hard to generate (hallucination-prone). */
  genHardFrac: number;
  /** Probability a generation is completely off-scene (another scene), easy targets. */
  genOffScene: number;
  /** Probability a generation is completely off-scene, hard targets. */
  genOffSceneHard: number;
  /** Added to the off-scene probability per dialogue word beyond the caption (long prompts fail). */
  genOffScenePerWord: number;
  /**
   * Share of a generation's off-scene draws that reuse the dialogue's persistent draw (0: every
   * round fails independently; 1: a dialogue whose prompt fails keeps failing as it grows).
   */
  genOffScenePersist: number;
  /** Cap of the off-scene probability, however long the dialogue. */
  genOffSceneMax: number;
  /** Probability each revealed concept is dropped from a generation, easy targets. */
  genDrop: number;
  /** Probability each revealed concept is dropped from a generation, hard targets. */
  genDropHard: number;
  /** Added to the drop probability per dialogue word beyond the caption (capped at 0.95). */
  genDropPerWord: number;
  /** Share of the text's persistent misreading that the generation inherits (it reads the same text). */
  genSharedErr: number;
  /** Words beyond the caption over which the inherited misreading ramps in (1 − e^(−words/this)). */
  genSharedErrWords: number;
  /** Foreign concepts hallucinated into each generation. */
  genHallucinations: number;
  /** Probability a hallucination is fresh (else the dialogue's persistent misreading). */
  genHallucFresh: number;
  /** Weight of each hallucinated concept (relative to the mean salience), easy targets. */
  genHallucWeight: number;
  /** Weight of each hallucinated concept, hard targets. */
  genHallucWeightHard: number;
  /** Probability the generator completes the scene with each unrevealed typical concept. */
  genSceneCompletion: number;
  /** Weight of a scene-completion concept, relative to the mean salience. */
  genCompletionWeight: number;
  /** Random attributes the generator invents for the unspecified visual detail. */
  genRandomAttrs: number;
  /** Weight of the attribute part of a generation against its semantic part. */
  genAttrWeight: number;
  /** Norm of a generation's own random detail. */
  genNoise: number;
  /** Norm of the constant domain offset of generated images (synthetic-image look). */
  genGap: number;

  /** Dialogue profiles per benchmark. */
  profiles: Record<BenchmarkName, DialogueProfile>;
  /** The profile the train and val dialogues follow (the reference trains on VisDial). */
  trainProfile: BenchmarkName;
}

const DEFAULT: Omit<SyntheticConfig, "preset" | "seed"> = {
  dim: 256,
  rounds: 11,
  corpusSize: 50_000,
  benchSize: 2_064,
  trainSize: 123_287,
  valSize: 2_000,

  concepts: 2_000,
  conceptZipf: 1.0,
  conceptsPerImage: 12,
  sceneFrac: 0.004,
  swapProb: 0.2,
  salienceShape: 1.5,
  attributes: 1_000,
  attributesPerImage: 6,
  imageAttrWeight: 0.6,
  imageResidual: 1.0,

  captionConcepts: 3,
  captionAttrProb: 0.3,
  captionWords: 12,
  yesnoWeight: 0.268,
  openAttrProb: 0.5,

  textConceptMisalign: 0.5,
  textAttrMisalign: 1.5,
  textAttrWeight: 0.3,
  gapDims: 8,
  textGap: 7.72,
  textNoise: 0.579,
  textNoisePerWord: 0.00187,
  textNoiseFresh: 0.2,
  textNoiseShape: 1.5,
  textErrIso: 0.5,
  textFreshConcepts: 2,

  genHardFrac: 0.3,
  genOffScene: 0.0684,
  genOffSceneHard: 0.146,
  genOffScenePerWord: 0.00357,
  genOffScenePersist: 1,
  genOffSceneMax: 1,
  genDrop: 0.05,
  genDropHard: 0.273,
  genDropPerWord: 0,
  genSharedErr: 0.991,
  genSharedErrWords: 20,
  genHallucinations: 4,
  genHallucFresh: 0.3,
  genHallucWeight: 0.568,
  genHallucWeightHard: 1.5,
  genSceneCompletion: 0.3,
  genCompletionWeight: 0.5,
  genRandomAttrs: 6,
  genAttrWeight: 0.8,
  genNoise: 0.28,
  genGap: 0.2,

  profiles: BENCHMARK_PROFILES,
  trainProfile: "visdial",
};

/** The presets: `default` (paper-sized) and `small` (tests and CI, a second or two). */
export const PRESETS: Record<string, Omit<SyntheticConfig, "seed">> = {
  default: { ...DEFAULT, preset: "default" },
  small: {
    ...DEFAULT,
    preset: "small",
    corpusSize: 2_000,
    benchSize: 64,
    trainSize: 512,
    valSize: 128,
    concepts: 400,
  },
};

/** The names of {@linkcode PRESETS}. */
export type PresetName = "default" | "small";

/**
 * The full config of a preset and seed, with optional overrides of any knob.
 *
 * @throws when the preset is unknown or a knob is out of range.
 */
export function syntheticConfig(
  preset: string = "default",
  seed = 0,
  overrides: Partial<SyntheticConfig> = {},
): SyntheticConfig {
  const base = PRESETS[preset];
  if (!base) {
    throw new Error(
      `lib/data/synthetic/config.ts: unknown preset '${preset}'; use one of ${
        Object.keys(PRESETS).join(", ")
      }`,
    );
  }
  const cfg: SyntheticConfig = { ...structuredClone(base), seed, ...overrides };
  validateConfig(cfg);
  return cfg;
}

/** Throws a clear error when a config cannot be generated. */
export function validateConfig(cfg: SyntheticConfig): void {
  const bad = (what: string) => {
    throw new Error(`lib/data/synthetic/config.ts: ${what}; fix the config or pick another preset`);
  };
  if (!Number.isInteger(cfg.seed)) bad(`seed must be an integer, got ${cfg.seed}`);
  for (
    const k of [
      "dim",
      "rounds",
      "corpusSize",
      "benchSize",
      "concepts",
      "conceptsPerImage",
      "attributes",
    ] as const
  ) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) bad(`${k} must be a positive integer`);
  }
  if (cfg.rounds - 1 > cfg.profiles.visdial.open.length) {
    bad(
      `rounds = ${cfg.rounds} but the dialogue profiles cover ${cfg.profiles.visdial.open.length}`,
    );
  }
  if (cfg.benchSize > cfg.corpusSize) {
    bad(`benchSize ${cfg.benchSize} distinct targets exceed corpusSize ${cfg.corpusSize}`);
  }
  for (const k of ["trainSize", "valSize"] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 0) bad(`${k} must be an integer >= 0`);
  }
  if (cfg.captionConcepts > cfg.conceptsPerImage) bad("captionConcepts > conceptsPerImage");
  if (cfg.conceptsPerImage > cfg.concepts) bad("conceptsPerImage > concepts");
  if (!cfg.profiles[cfg.trainProfile]) bad(`trainProfile '${cfg.trainProfile}' has no profile`);
}

/** SHA-256 (hex) of the stable JSON of the full config: the cache key of a generated bundle. */
export function configHash(cfg: SyntheticConfig): Promise<string> {
  return stableHash(cfg);
}
