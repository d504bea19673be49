/**
 * The calibration search: a seeded (1+1) random search ({@linkcode searchCalibration}) over the
 * generator's free knobs ({@linkcode CALIBRATION_KNOBS}) on dialogue subsets of several data
 * seeds, in stages ({@linkcode stagePlan}: the text knobs against ChatIR's targets, the
 * generator's against all), with knobs a published statistic sets held out (`pinned`).
 *
 * @module
 */
import type { SyntheticConfig } from "../data/synthetic/generator.ts";
import { Rng } from "../runtime/rng.ts";
import { CALIBRATION_TARGETS, calibrationObjective, targetMiss, targetValues } from "./targets.ts";
import { measureCalibration } from "./measure.ts";

/** One free knob of the search: its range and whether it is searched on a log scale. */
export interface CalibrationKnob {
  /** The config field. */
  key: keyof SyntheticConfig;
  /** Lowest value. */
  lo: number;
  /** Highest value. */
  hi: number;
  /** Search on a log scale. */
  log?: boolean;
}

/**
 * The generator's free knobs that the search moves, with their ranges. Everything else (the
 * dialogue profiles measured from ChatIR's files, the world's sizes) stays fixed.
 */
export const CALIBRATION_KNOBS: readonly CalibrationKnob[] = [
  { key: "textNoise", lo: 0.3, hi: 0.9 },
  { key: "textNoisePerWord", lo: 0.0005, hi: 0.008, log: true },
  { key: "yesnoWeight", lo: 0.05, hi: 0.6 },
  { key: "textGap", lo: 1.5, hi: 10 },
  { key: "genOffScene", lo: 0.002, hi: 0.08, log: true },
  { key: "genOffSceneHard", lo: 0.02, hi: 0.5, log: true },
  { key: "genOffScenePerWord", lo: 0.0002, hi: 0.006, log: true },
  { key: "genOffScenePersist", lo: 0, hi: 1 },
  { key: "genDrop", lo: 0.05, hi: 0.6 },
  { key: "genDropHard", lo: 0.1, hi: 0.8 },
  { key: "genHallucWeight", lo: 0.3, hi: 2.5 },
  { key: "genNoise", lo: 0.1, hi: 0.9 },
  { key: "genSharedErr", lo: 0, hi: 2 },
];

/**
 * The knobs of the text side. ChatIR's numbers depend on these alone (the modality gap does not
 * reorder a text-only ranking, and the generator draws from streams of its own), so the `text`
 * stage of {@linkcode searchCalibration} fits them to ChatIR's targets first.
 */
export const TEXT_KNOBS: readonly (keyof SyntheticConfig)[] = [
  "textNoise",
  "textNoisePerWord",
  "yesnoWeight",
];

/** What a stage of {@linkcode searchCalibration} moves and measures. */
export type SearchStage = "all" | "text" | "generator";

/** The knobs a stage moves and the targets its objective counts (indices into the table). */
export function stagePlan(
  stage: SearchStage,
): { knobs: CalibrationKnob[]; targets: number[]; textOnly: boolean } {
  const isText = (k: CalibrationKnob) => TEXT_KNOBS.includes(k.key);
  const knobs = CALIBRATION_KNOBS.filter((k) =>
    stage === "all" ? true : stage === "text" ? isText(k) : !isText(k)
  );
  const targets = CALIBRATION_TARGETS.map((t, i) => ({ t, i }))
    .filter(({ t }) => stage !== "text" || t.id.startsWith("chatir"))
    .map(({ i }) => i);
  return { knobs, targets, textOnly: stage === "text" };
}

function _toUnit(k: CalibrationKnob, v: number): number {
  const u = k.log ? Math.log(v / k.lo) / Math.log(k.hi / k.lo) : (v - k.lo) / (k.hi - k.lo);
  return Math.min(1, Math.max(0, u));
}

function _fromUnit(k: CalibrationKnob, u: number): number {
  const x = Math.min(1, Math.max(0, u));
  const v = k.log ? k.lo * Math.pow(k.hi / k.lo, x) : k.lo + x * (k.hi - k.lo);
  return Number(v.toPrecision(3));
}

/** One evaluated candidate of the search. */
export interface CalibrationCandidate {
  /** The knob values (only the searched ones). */
  knobs: Partial<SyntheticConfig>;
  /** The objective on the search subset (mean over the data seeds). */
  objective: number;
  /** Targets met on the search subset on every data seed. */
  met: number;
  /** Every target's value on the search subset, the worst over the data seeds (table order). */
  values: number[];
}

/** The `n` worst-missed targets of `values`, as `id=value` strings (for progress lines). */
export function worstMisses(values: number[], n = 4): string[] {
  return CALIBRATION_TARGETS.map((t, i) => ({ t, v: values[i], m: targetMiss(t, values[i]) }))
    .filter((x) => x.m > 0 && !Number.isNaN(x.v)).sort((a, b) => b.m - a.m).slice(0, n)
    .map((x) => `${x.t.id}=${x.v.toFixed(1)}`);
}

/** Options of {@linkcode searchCalibration}. */
export interface SearchOptions {
  /** Seed of the search's proposals. */
  searchSeed: number;
  /** Data seeds the search measures on (the objective is their mean; "met" means on every one). */
  dataSeeds: number[];
  /** Dialogues per benchmark in the search. */
  dialogues: number;
  /** Candidate evaluations (the start counts as one). */
  evaluations: number;
  /** Initial step in unit knob coordinates (shrinks on failures). */
  step?: number;
  /** Where progress lines go. */
  log?: (line: string) => void;
  /** Ranking worker threads. */
  workers?: number | "auto";
  /**
   * `all` (default) moves every knob against every target; `text` moves {@linkcode TEXT_KNOBS}
   * against ChatIR's targets (ranking ChatIR alone); `generator` moves the others against all.
   */
  stage?: SearchStage;
  /** Knobs held at their value in `base` (set by a published statistic, not searched). */
  pinned?: readonly (keyof SyntheticConfig)[];
}

/**
 * Seeded (1+1) random search over {@linkcode CALIBRATION_KNOBS} in unit coordinates: each
 * proposal perturbs a random half of the knobs by a Gaussian step around the best so far; the
 * step grows by 1.2 on a success and shrinks by 0.85 on a failure (down to 0.02).
 *
 * @param base the config to start from (its knob values are the first candidate).
 * @returns the best candidate and the history.
 */
export async function searchCalibration(
  base: SyntheticConfig,
  opts: SearchOptions,
): Promise<{ best: CalibrationCandidate; history: CalibrationCandidate[] }> {
  const rng = new Rng(opts.searchSeed);
  const log = opts.log ?? (() => {});
  const plan = stagePlan(opts.stage ?? "all");
  const { targets, textOnly } = plan;
  const knobs = plan.knobs.filter((k) => !opts.pinned?.includes(k.key));
  const counted = targets.map((i) => CALIBRATION_TARGETS[i]);
  const evalAt = async (u: number[]): Promise<CalibrationCandidate> => {
    const kv = Object.fromEntries(knobs.map((k, i) => [k.key, _fromUnit(k, u[i])]));
    const perSeed: number[][] = [];
    for (const seed of opts.dataSeeds) {
      const cfg = { ...base, ...kv, seed } as SyntheticConfig;
      perSeed.push(targetValues(
        await measureCalibration(cfg, {
          dialogues: opts.dialogues,
          workers: opts.workers,
          textOnly,
        }),
      ));
    }
    const met =
      targets.filter((i) =>
        perSeed.every((vals) => targetMiss(CALIBRATION_TARGETS[i], vals[i]) === 0)
      ).length;
    const objective = perSeed.reduce(
      (a, vals) => a + calibrationObjective(targets.map((i) => vals[i]), counted),
      0,
    ) / perSeed.length;
    // shown in progress lines and kept in the history: the value furthest outside its interval
    const values = CALIBRATION_TARGETS.map((t, i) =>
      perSeed.map((vals) => vals[i]).reduce((a, b) => targetMiss(t, b) > targetMiss(t, a) ? b : a)
    );
    return { knobs: kv as Partial<SyntheticConfig>, objective, met, values };
  };
  let bestU = knobs.map((k) => _toUnit(k, base[k.key] as number));
  let best = await evalAt(bestU);
  const history = [best];
  log(
    `calibrate: start objective ${best.objective.toFixed(2)}, met ${best.met}; worst: ${
      worstMisses(best.values).join(" ")
    }`,
  );
  let step = opts.step ?? 0.15;
  for (let e = 1; e < opts.evaluations; e++) {
    const u = bestU.map((x) => (rng.uniform() < 0.5 ? x + step * rng.normal() : x))
      .map((x) => Math.min(1, Math.max(0, x)));
    const c = await evalAt(u);
    history.push(c);
    if (c.objective < best.objective) {
      best = c;
      bestU = u;
      step = Math.min(0.4, step * 1.2);
    } else {
      step = Math.max(0.02, step * 0.85);
    }
    log(
      `calibrate: eval ${e + 1}/${opts.evaluations} objective ${c.objective.toFixed(2)} ` +
        `(met ${c.met}); best ${best.objective.toFixed(2)} (met ${best.met}), step ${
          step.toFixed(3)
        }; worst: ${worstMisses(c.values).join(" ")}`,
    );
  }
  return { best, history };
}
