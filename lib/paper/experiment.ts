/**
 * The experiment description: what a reproduction runs on (the data and their seed), which
 * training recipe, which training seeds, and the seeds derived from them. Defined once here and
 * used by the pipeline (pipeline.ts), the CLI (lib/cli/repro.ts) and every notebook's config cell.
 *
 * @module
 */
import type { SyntheticConfig } from "../data/synthetic/generator.ts";
import type { TrainOverrides } from "../train/config.ts";

/** What a reproduction runs on: the data, the training recipe, the seeds. */
export interface ReproConfig {
  /** Seed of the synthetic data (the bundle); the training seeds are `trainSeeds`. */
  dataSeed: number;
  /**
   * Training seeds: one run of the head per seed, each in its own run folder, evaluated on its
   * own (pipeline.ts's `reproSeedRuns`, `reproEvalSeeds`). Every verdict is taken on the mean
   * over them; the robustness landscape and the cases use the first; the training-regime study
   * (regime.ts) has seeds and recipes of its own (`REGIME_PLAN`) and ignores them.
   */
  trainSeeds: number[];
  /**
   * Seed of the draw of Figure 4's gate samples. Default `dataSeed + 4`: a function of the data
   * alone (every training seed's head is shown on the same pairs), apart from the data's seed.
   */
  gateSeed?: number;
  /** Synthetic data preset: `default` (the paper's sizes) or `small` (tests, quick looks). */
  dataPreset: string;
  /** A bundle folder of real embeddings; when set, `dataPreset` and `synthetic` are ignored. */
  data?: string;
  /**
   * Knobs of the synthetic generator to change from the preset's (e.g. `{genOffScene: 0.06}`);
   * they are part of the bundle's cache key, so each setting is its own cached bundle.
   */
  synthetic?: Partial<SyntheticConfig>;
  /** Training preset of lib/train/config.ts: `repro` (fits the time here) or `full` (the paper's). */
  trainPreset: string;
  /** Fields of the training config to change (after the preset and the training seed). */
  overrides: TrainOverrides;
}

/**
 * The one default of a reproduction: data seed 0, the default synthetic data, the `repro`
 * recipe, training seeds 0, 1, 2. `npm run repro`, the studies and the notebooks' config cells
 * start from it.
 */
export const REPRO_DEFAULTS: Readonly<ReproConfig> = Object.freeze({
  dataSeed: 0,
  trainSeeds: Object.freeze([0, 1, 2]) as unknown as number[],
  dataPreset: "default",
  trainPreset: "repro",
  overrides: Object.freeze({}) as TrainOverrides,
});

/** A config with every field resolved: the defaults filled in, `gateSeed` derived. */
export type ResolvedReproConfig = ReproConfig & { gateSeed: number };

/** Fields an older config used, and what to write instead. */
const _RENAMED: Record<string, string> = {
  seed: "'dataSeed' (it no longer sets the training seeds: list them in trainSeeds)",
  seeds: "'trainSeeds'",
  preset: "'dataPreset'",
  trainSet: "'overrides'",
};

/**
 * A config with the defaults filled in and checked: `trainSeeds` a non-empty list of distinct
 * integers, `gateSeed` derived when not given. A field of an older config (`seed`, `seeds`,
 * `preset`, `trainSet`) is an error that names the field to use.
 */
export function reproConfig(config: Partial<ReproConfig> = {}): ResolvedReproConfig {
  for (const [old, now] of Object.entries(_RENAMED)) {
    if (old in config) {
      throw new Error(
        `experiment: the config field '${old}' is now ${now} (lib/paper/experiment.ts); ` +
          `rename it in the config cell or --param`,
      );
    }
  }
  const dataSeed = config.dataSeed ?? REPRO_DEFAULTS.dataSeed;
  if (!Number.isInteger(dataSeed)) {
    throw new Error(`experiment: dataSeed must be an integer, got ${dataSeed}`);
  }
  const trainSeeds = [...(config.trainSeeds ?? REPRO_DEFAULTS.trainSeeds)];
  if (trainSeeds.length === 0 || trainSeeds.some((s) => !Number.isInteger(s))) {
    throw new Error(
      `experiment: trainSeeds must be a non-empty list of integers, got [${trainSeeds}]`,
    );
  }
  if (new Set(trainSeeds).size !== trainSeeds.length) {
    throw new Error(`experiment: trainSeeds [${trainSeeds}] repeat a seed; list each once`);
  }
  const overrides = config.overrides ?? REPRO_DEFAULTS.overrides;
  if (Array.isArray(overrides) || typeof overrides !== "object") {
    throw new Error(
      `experiment: overrides is a partial training config (e.g. {lr: 1e-4}), got ` +
        JSON.stringify(overrides),
    );
  }
  if ("seed" in overrides) {
    throw new Error(
      `experiment: overrides.seed would replace every training seed; list them in trainSeeds`,
    );
  }
  return {
    ...REPRO_DEFAULTS,
    ...config,
    dataSeed,
    trainSeeds,
    gateSeed: config.gateSeed ?? dataSeed + 4,
    overrides: structuredClone(overrides),
  };
}

/** The training seeds of a config (`trainSeeds`, or the default 0, 1, 2). */
export function reproSeeds(config: Partial<ReproConfig> = {}): number[] {
  return reproConfig(config).trainSeeds;
}

/**
 * Where a figure's numbers come from, for its subtitle: "synthetic stand-in, data seed 0, training
 * seeds 0, 1, 2" (or "real data (DIR), …").
 */
export function provenanceLabel(config: Partial<ReproConfig> = {}): string {
  const c = reproConfig(config);
  const seeds = c.trainSeeds.length > 1
    ? `training seeds ${c.trainSeeds.join(", ")}`
    : `training seed ${c.trainSeeds[0]}`;
  const data = c.data
    ? `real data (${c.data.replace(/\/+$/, "").replace(/^.*\//, "")})`
    : `synthetic stand-in, data seed ${c.dataSeed}`;
  return `${data}, ${seeds}`;
}
