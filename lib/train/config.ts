/**
 * Long because the recipe, presets, checks, overrides and hash must agree field by field.
 *
 * The training recipe as data: every value of the recipe (docs/method.md) is a field of
 * {@linkcode TrainConfig}, with the reference's value in {@linkcode fullTrainConfig}, a faster
 * preset for this project's synthetic data in {@linkcode reproTrainConfig}, loading from JSON and
 * `key=value` overrides, and a stable hash that names a run.
 *
 * @module
 */
import { DEFAULT_FUSION_CONFIG, type FusionConfig, fusionConfig } from "../model/config.ts";
import { BENCHMARKS } from "../data/benchmarks.ts";
import { stableHash } from "../runtime/hash.ts";

/**
 * Model sizes of a training config; the logit scale is set by the recipe's own fields. The
 * optional `fixedTextWeight` (gateless variants only) is absent from the presets.
 */
export type TrainModelConfig = Omit<FusionConfig, "learnableScale" | "logitScaleInit">;

/** Every knob of a training run. */
export interface TrainConfig {
  /** Seed of everything random: initial weights, rounds, shuffling, dropout. */
  seed: number;
  /** Peak learning rate of AdamW (5e-5), reached at the end of warm-up. */
  lr: number;
  /** AdamW β1 (0.9). */
  beta1: number;
  /** AdamW β2 (0.999). */
  beta2: number;
  /** AdamW eps (1e-8). */
  eps: number;
  /**
   * Decoupled weight decay (0.05) of the weight matrices. As in the reference's optimizer
   * factory, biases and every 1-D tensor (and the scalar logit scale) get weight decay 0
   * (lib/train/adamw.ts `decaysWeight`).
   */
  weightDecay: number;
  /** Epochs (50): one pass over the training dialogues, one random round of each. */
  epochs: number;
  /** Epochs of linear warm-up (5) before the cosine decay; 5 of 50 = 10% of the updates. */
  warmupEpochs: number;
  /** Gradient clipping at this global L2 norm (3.0). */
  clipNorm: number;
  /** Micro-batch size (128): the InfoNCE negatives are the other pairs of the micro-batch. */
  batchSize: number;
  /**
   * Micro-batches whose gradients are averaged into one update (16). A last incomplete group
   * at the end of an epoch still makes one update (its average).
   */
  accumulate: number;
  /** InfoNCE temperature (0.07): the frozen logit scale is `1/temperature`. */
  temperature: number;
  /** Whether the logit scale is trained (false, as in the reference). */
  learnableScale: boolean;
  /** Initial logit scale `s` when it is learned (50). */
  learnableScaleInit: number;
  /** Name of the bundle split trained on (`train`). */
  trainSplit: string;
  /**
   * Name of the split used for model selection (`val`). Never a benchmark split: the reference
   * selects on its test set, this project refuses to.
   */
  valSplit: string;
  /** Evaluate on `valSplit` every this many epochs (and after the last). */
  evalEvery: number;
  /**
   * Selection metric: `meanCumulativeHits` is the cumulative Hits@`valK` (ChatIR protocol)
   * averaged over rounds 0..R−1, computed with lib/model/ranking.ts.
   */
  valMetric: "meanCumulativeHits";
  /** The K of the selection metric (10). */
  valK: number;
  /** Train on at most this many dialogues (the first ones of the split); null: all. */
  maxTrainDialogues: number | null;
  /** Select on at most this many validation dialogues (the first ones); null: all. */
  maxValDialogues: number | null;
  /** Write one `log.jsonl` line every this many updates. */
  logEvery: number;
  /**
   * How gradients are computed (`parallel`):
   * - `autodiff`: `tf.variableGrads` through {@linkcode FusionHead.apply} on the main thread,
   *   any backend, dropout masks from `tf.dropout`;
   * - `parallel`: the head's CPU math (lib/model/head_math.ts: hand-written backward pass,
   *   native products) in `workers` Deno workers (lib/train/parallel/trainer.ts) that share the
   *   batch, each computing its rows and then its columns of every weight gradient into one
   *   shared gradient; the exact full-batch InfoNCE; dropout masks are a hash of (seed, site,
   *   row, column pair). The same recipe, but other dropout masks, so other numbers than
   *   `autodiff`.
   *   It runs on the wasm backend only: on any other backend training falls back to
   *   `autodiff` and says so in its log.
   */
  engine: TrainEngine;
  /**
   * Worker threads of the `parallel` engine (`auto`): a count in [0, 64], 0 meaning the
   * hand-written step on the main thread, or `auto` = `navigator.hardwareConcurrency` capped
   * at 4 (the `ADAFUSE_TRAIN_WORKERS` environment variable overrides `auto`). The parallel
   * engine's numbers do not depend on it (up to float rounding, < 1e-6), so it is not part of
   * the config hash. Ignored by `autodiff`.
   */
  workers: number | "auto";
  /**
   * How micro-batches are drawn: `random` (the reference's shuffle, every preset's) or
   * `neighbours`, which groups dialogues whose targets resemble one another into the same
   * micro-batch (hard in-batch negatives; lib/train/sampler.ts), a diagnostic of notebook 12.
   */
  negatives: TrainNegatives;
  /**
   * Sizes of the fusion head (docs/method.md), its variant, and, for the variants without a gate,
   * the optional `fixedTextWeight` (absent: 0.5; not in the presets).
   */
  model: TrainModelConfig;
}

/** How micro-batches are drawn; see {@linkcode TrainConfig.negatives}. */
export type TrainNegatives = "random" | "neighbours";

/** The training engines; see {@linkcode TrainConfig.engine}. */
export type TrainEngine = "autodiff" | "parallel";

/** The engines {@linkcode TrainConfig.engine} accepts. */
export const TRAIN_ENGINES: readonly TrainEngine[] = Object.freeze(["autodiff", "parallel"]);

const _MODEL: TrainModelConfig = (() => {
  const { learnableScale: _l, logitScaleInit: _s, ...rest } = DEFAULT_FUSION_CONFIG;
  return rest;
})();

/**
 * The reference's recipe (docs/method.md), value for value: 50 epochs, 5 of warm-up, batch 128 × 16
 * accumulated, validation after every epoch on the whole val split. Preset `full`, the default.
 */
export const fullTrainConfig: Readonly<TrainConfig> = Object.freeze({
  seed: 0,
  lr: 5e-5,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.05,
  epochs: 50,
  warmupEpochs: 5,
  clipNorm: 3.0,
  batchSize: 128,
  accumulate: 16,
  temperature: 0.07,
  learnableScale: false,
  learnableScaleInit: 50,
  trainSplit: "train",
  valSplit: "val",
  evalEvery: 1,
  valMetric: "meanCumulativeHits" as const,
  valK: 10,
  maxTrainDialogues: null,
  maxValDialogues: null,
  logEvery: 1,
  engine: "parallel" as TrainEngine,
  workers: "auto" as number | "auto",
  negatives: "random" as TrainNegatives,
  model: Object.freeze({ ..._MODEL }) as TrainModelConfig,
});

/**
 * The preset the notebooks and `npm run repro` train with on the default synthetic data (123,287
 * training dialogues, VisDial-train's size). It changes these recipe values, nothing else:
 * - `epochs` 50 → 2 and `warmupEpochs` 5 → 0.2 (the same 10% warm-up share): 2 passes of the
 *   training split, about 246,000 samples (4% of the recipe's 6.2 M), what fits three training
 *   seeds in `npm run repro` here;
 * - `accumulate` 16 → 2: 482 updates an epoch instead of 61, so the 2 epochs make 964 updates
 *   (the recipe's 50 epochs make 3,050) at the same learning rate;
 * - `maxValDialogues` null → 500: selection ranks 11 rounds of the first 500 val queries
 *   against the val and train image pools (about 125,000 images; lib/train/validate.ts) after
 *   each epoch.
 *
 * So `repro` is the paper's recipe ({@linkcode fullTrainConfig}) shortened to 2 epochs with a
 * third of its updates: same optimizer, learning rate, warm-up share, batch size, clipping and
 * loss. Which of the figures' verdicts it shares with the full recipe is measured, not assumed
 * (the README's "repro beside full").
 */
export const reproTrainConfig: Readonly<TrainConfig> = Object.freeze({
  ...fullTrainConfig,
  epochs: 2,
  warmupEpochs: 0.2,
  accumulate: 2,
  maxValDialogues: 500,
});

/**
 * The named presets: `full` (the paper's recipe, the default) and `repro` (that recipe shortened
 * to fit the time here; see {@linkcode reproTrainConfig}).
 */
export const TRAIN_PRESETS: Readonly<Record<string, Readonly<TrainConfig>>> = Object.freeze({
  full: fullTrainConfig,
  repro: reproTrainConfig,
});

/** The preset a config without one gets: the paper's recipe. */
export const DEFAULT_TRAIN_PRESET = "full";

/**
 * The preset named `preset`, or an error naming the presets (`where` says which input named it).
 * `default`, the former second name of `full`, is answered with the name to use.
 */
export function trainPreset(preset: string, where = "lib/train/config.ts"): Readonly<TrainConfig> {
  const base = Object.hasOwn(TRAIN_PRESETS, preset) ? TRAIN_PRESETS[preset] : undefined;
  if (base) return base;
  const hint = preset === "default"
    ? "; `default` and `full` were the same recipe and are now one preset: use full"
    : "";
  throw new Error(
    `${where}: preset '${preset}' is unknown; use one of ${
      Object.keys(TRAIN_PRESETS).join(", ")
    }${hint}`,
  );
}

/** Split names that are benchmarks (test sets) and therefore never used for selection. */
const _TEST_SPLITS: readonly string[] = [...BENCHMARKS, "test"];

function _fail(what: string): never {
  throw new Error(`lib/train/config.ts: ${what}`);
}

/**
 * Checks a full config; throws naming the field, what is wrong and the fix. Unknown keys (at
 * the top level or in `model`) are errors.
 */
export function validateTrainConfig(c: TrainConfig): void {
  _checkKeys(c as unknown as Record<string, unknown>, fullTrainConfig, "");
  const posInt = ["epochs", "batchSize", "accumulate", "evalEvery", "valK", "logEvery"] as const;
  for (const k of posInt) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) {
      _fail(`${k} must be a positive integer, got ${c[k]}`);
    }
  }
  if (!Number.isSafeInteger(c.seed)) _fail(`seed must be an integer, got ${c.seed}`);
  if (!(c.lr > 0)) _fail(`lr must be > 0, got ${c.lr}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1)) {
    _fail(`beta1/beta2 must lie in [0, 1), got ${c.beta1}/${c.beta2}`);
  }
  if (!(c.eps >= 0) || !(c.weightDecay >= 0)) _fail("eps and weightDecay must be >= 0");
  if (!(c.warmupEpochs >= 0 && c.warmupEpochs <= c.epochs)) {
    _fail(`warmupEpochs must lie in [0, epochs=${c.epochs}], got ${c.warmupEpochs}`);
  }
  if (!(c.clipNorm > 0)) _fail(`clipNorm must be > 0, got ${c.clipNorm}`);
  if (c.batchSize < 2) _fail("batchSize must be at least 2 (InfoNCE needs negatives)");
  if (!(c.temperature > 0)) _fail(`temperature must be > 0, got ${c.temperature}`);
  if (!(c.learnableScaleInit > 0)) _fail("learnableScaleInit must be > 0 (the scale, not its log)");
  if (typeof c.learnableScale !== "boolean") _fail("learnableScale must be true or false");
  if (c.valMetric !== "meanCumulativeHits") {
    _fail(`valMetric '${c.valMetric}' is unknown; use meanCumulativeHits`);
  }
  for (const k of ["maxTrainDialogues", "maxValDialogues"] as const) {
    const v = c[k];
    if (v !== null && (!Number.isSafeInteger(v) || v < 1)) {
      _fail(`${k} must be null (all) or a positive integer, got ${v}`);
    }
  }
  if (typeof c.trainSplit !== "string" || typeof c.valSplit !== "string") {
    _fail("trainSplit and valSplit must be split names");
  }
  if (_TEST_SPLITS.includes(c.valSplit)) {
    _fail(
      `valSplit '${c.valSplit}' is a benchmark (test) split; model selection on a test set is ` +
        "what the reference does and this project does not: use a validation split such as 'val'",
    );
  }
  if (_TEST_SPLITS.includes(c.trainSplit)) {
    _fail(`trainSplit '${c.trainSplit}' is a benchmark (test) split; train on 'train'`);
  }
  if (c.valSplit === c.trainSplit) {
    _fail(`valSplit and trainSplit are both '${c.valSplit}'; select on held-out data`);
  }
  if (!TRAIN_ENGINES.includes(c.engine)) {
    _fail(`engine '${c.engine}' is unknown; use one of ${TRAIN_ENGINES.join(", ")}`);
  }
  if (
    c.workers !== "auto" && (!Number.isSafeInteger(c.workers) || c.workers < 0 || c.workers > 64)
  ) {
    _fail(`workers must be 'auto' or an integer in [0, 64] (0: main thread), got ${c.workers}`);
  }
  if (!["random", "neighbours"].includes(c.negatives)) {
    _fail(`negatives '${c.negatives}' is unknown; use random or neighbours`);
  }
  modelConfigOf(c); // checks the sizes
}

/**
 * Keys a config may have that no preset has, with the type of their value: dotted path →
 * `typeof`. Absent, `model.fixedTextWeight` means the head learns its gate.
 */
const _OPTIONAL_KEYS: Readonly<Record<string, string>> = Object.freeze({
  "model.fixedTextWeight": "number",
});

/** The optional keys directly under `prefix` (e.g. `model.`), without the prefix. */
function _optionalKeys(prefix: string): string[] {
  return Object.keys(_OPTIONAL_KEYS)
    .filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes("."))
    .map((k) => k.slice(prefix.length));
}

function _checkKeys(o: Record<string, unknown>, ref: object, prefix: string): void {
  if (!o || typeof o !== "object" || Array.isArray(o)) {
    _fail(`'${prefix || "config"}' must be an object`);
  }
  for (const k of Object.keys(o)) {
    if (`${prefix}${k}` in _OPTIONAL_KEYS) continue;
    if (!(k in ref)) {
      const hint = prefix === "model." && (k === "learnableScale" || k === "logitScaleInit")
        ? `; set the top-level learnableScale / temperature / learnableScaleInit instead`
        : `; known keys: ${[...Object.keys(ref), ..._optionalKeys(prefix)].join(", ")}`;
      _fail(`unknown key '${prefix}${k}'${hint}`);
    }
    const r = (ref as Record<string, unknown>)[k];
    if (r && typeof r === "object") {
      _checkKeys(o[k] as Record<string, unknown>, r, `${prefix}${k}.`);
    }
  }
}

/** The full fusion-head config a training config builds (logit scale from the recipe). */
export function modelConfigOf(c: TrainConfig): FusionConfig {
  return fusionConfig({
    ...c.model,
    learnableScale: c.learnableScale,
    logitScaleInit: c.learnableScale ? c.learnableScaleInit : 1 / c.temperature,
  });
}

/** A deep copy of `base` with `patch` merged in (nested objects merged key by key), checked. */
export function mergeTrainConfig(
  base: Readonly<TrainConfig>,
  patch: Record<string, unknown>,
): TrainConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  _checkKeys(patch, fullTrainConfig, "");
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue; // a field given as undefined is not given
    if (v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object") {
      out[k] = { ...(out[k] as object), ...(v as object) };
    } else out[k] = v;
  }
  const c = out as unknown as TrainConfig;
  // fixedTextWeight given as undefined is unset: absent, as in the presets
  if (c.model && c.model.fixedTextWeight === undefined) delete c.model.fixedTextWeight;
  validateTrainConfig(c);
  return c;
}

/** Fields to change in a preset: any top-level field, and any field of `model`. */
export type TrainOverrides = Omit<Partial<TrainConfig>, "model"> & {
  /** Fields of the head to change. */
  model?: Partial<TrainConfig["model"]>;
};

/**
 * The training config of preset `preset` (a key of {@linkcode TRAIN_PRESETS}) with `overrides`
 * merged in (`model` field by field), checked: the one typed way to build a config.
 */
export function trainConfig(
  preset = DEFAULT_TRAIN_PRESET,
  overrides: TrainOverrides = {},
): TrainConfig {
  const base = trainPreset(preset);
  return mergeTrainConfig(base, overrides as Record<string, unknown>);
}

/**
 * Turns `key=value` strings (the `--set` of the CLIs) into {@linkcode TrainOverrides}: nested
 * keys with dots (`model.hidden=256`), the value parsed as JSON when it parses (`5e-5`,
 * `true`, `null`, `"x"`) and taken as a string otherwise (`valSplit=val2`). An unknown key, or
 * a value whose type differs from the field's, is an error.
 */
export function trainOverridesFromSets(sets: readonly string[]): TrainOverrides {
  const patch: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf("=");
    if (eq <= 0) _fail(`override '${s}' must look like key=value (e.g. epochs=10)`);
    const path = s.slice(0, eq).trim().split(".");
    const raw = s.slice(eq + 1).trim();
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let ref: unknown = fullTrainConfig;
    let tgt = patch;
    for (let i = 0; i < path.length; i++) {
      const k = path[i];
      const optional = i === path.length - 1 ? _OPTIONAL_KEYS[path.join(".")] : undefined;
      if (!optional && (!ref || typeof ref !== "object" || !(k in (ref as object)))) {
        _fail(`override '${s}': unknown key '${path.slice(0, i + 1).join(".")}'`);
      }
      ref = optional ? undefined : (ref as Record<string, unknown>)[k];
      if (i < path.length - 1) {
        tgt = (tgt[k] ??= {}) as Record<string, unknown>;
      } else {
        const nullable = k === "maxTrainDialogues" || k === "maxValDialogues";
        const want = optional ?? typeof ref;
        if (
          !(nullable && (value === null || typeof value === "number")) &&
          !(k === "workers" && path.length === 1 && typeof value === "number") && ref !== null &&
          want !== typeof value
        ) {
          _fail(`override '${s}': ${path.join(".")} takes a ${want}, got ${JSON.stringify(value)}`);
        }
        tgt[k] = value;
      }
    }
  }
  return patch as TrainOverrides;
}

/**
 * Applies `key=value` overrides ({@linkcode trainOverridesFromSets}) to `base`, checked.
 */
export function applyTrainOverrides(base: Readonly<TrainConfig>, sets: string[]): TrainConfig {
  return mergeTrainConfig(base, trainOverridesFromSets(sets) as Record<string, unknown>);
}

/**
 * Reads a config from a JSON file: either a full/partial config object merged over a preset
 * (`{"preset": "repro", "epochs": 8}`; the preset defaults to `full`).
 */
export async function loadTrainConfig(path: string): Promise<TrainConfig> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(
      `lib/train/config.ts: cannot read config file ${path}: ${(e as Error).message}`,
    );
  }
  const { preset = DEFAULT_TRAIN_PRESET, ...rest } = json;
  const base = trainPreset(String(preset), path);
  try {
    return mergeTrainConfig(base, rest);
  } catch (e) {
    throw new Error(`${(e as Error).message} (in ${path})`);
  }
}

/**
 * What shapes a run beyond the config's values, hashed with every config:
 * - `cache`: the revision of the run cache's names; bumping it renames every run at once (2: the
 *   hash lost its per-field exceptions, every preset field hashed as it is);
 * - `optimizer`: weight decay on weight matrices only (biases and 1-D tensors get 0, the
 *   reference's rule);
 * - `arithmetic`: the engine's arithmetic, so that runs of an engine whose numbers differ (the
 *   parallel engine's lib/model/head_math.ts, with its GELU table and 16-bit dropout masks,
 *   replaced the TensorFlow.js step) are never taken for runs of today's.
 */
const _HASH_RULES = Object.freeze({
  cache: 2,
  optimizer: "adamw:decay-matrices-only",
  arithmetic: { autodiff: "tfjs-autodiff", parallel: "head_math:1" },
});

/**
 * SHA-256 (hex) of the config as it is saved (JSON: a field set to undefined is absent) without
 * `workers` (the parallel engine's numbers do not depend on it), with the revisions of the rules
 * above: two runs with equal hashes train the same way.
 */
export function trainConfigHash(c: TrainConfig): Promise<string> {
  const { workers: _w, ...rest } = JSON.parse(JSON.stringify(c)) as TrainConfig;
  const rules = {
    cache: _HASH_RULES.cache,
    optimizer: _HASH_RULES.optimizer,
    arithmetic: _HASH_RULES.arithmetic[rest.engine],
  };
  return stableHash({ ...rest, _rules: rules });
}
