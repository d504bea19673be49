/**
 * Long because about 200 lines are the target table every part reads field by field.
 *
 * Calibration of the synthetic stand-in (`lib/data/synthetic/`) to the numbers published for the
 * **baselines** only: ChatIR (text alone) and DAR (score fusion, 0.8/0.2 for rounds 0-1, 0.5/0.5
 * from round 2). No number of the ADaFuSE head is a target, and nothing here trains the head.
 *
 * - {@linkcode CALIBRATION_TARGETS}: the table of issue #8 (statistic, published value, source,
 *   accepted interval).
 * - {@linkcode measureCalibration}: generates the corpus and the four benchmarks of a config (no
 *   train/val), ranks ChatIR and DAR exactly over the **whole** corpus (Hits@10 depends on its
 *   size), optionally on the first `dialogues` dialogues of each benchmark, and extracts every
 *   statistic ({@linkcode statsFromRanks}).
 * - {@linkcode calibrationObjective}: the documented objective, the sum over targets of the
 *   squared tolerance-normalised miss, plus a small pull towards each interval's centre.
 * - {@linkcode searchCalibration}: a seeded (1+λ) random search over the generator's free knobs
 *   ({@linkcode CALIBRATION_KNOBS}) on dialogue subsets, then confirmation at full size on other
 *   data seeds ({@linkcode calibrationReport}, {@linkcode reportMarkdown}).
 *
 * @module
 */
import { type BenchmarkName, BENCHMARKS } from "../data/benchmarks.ts";
import {
  generateSynthetic,
  type SyntheticConfig,
  type SyntheticData,
} from "../data/synthetic/generator.ts";
import { prepareCorpus } from "../model/ranking.ts";
import { baseline, evaluateQueries } from "../eval/baselines.ts";
import { averageRankDrop, degradationRate, hitsCumulative } from "../eval/metrics.ts";
import { Rng } from "../runtime/rng.ts";
import type { Split } from "../data/bundle.ts";
import { paperReference } from "./reference.ts";

/** Every statistic the calibration table needs, measured on one generated benchmark set. */
export interface CalibrationStats {
  /** Cumulative Hits@10 of ChatIR per benchmark, rounds 0..R-1 (percent). */
  chatir: Record<BenchmarkName, number[]>;
  /** Cumulative Hits@10 of DAR per benchmark, rounds 0..R-1 (percent). */
  dar: Record<BenchmarkName, number[]>;
  /** DAR's degradation rate against ChatIR on `visdial`, per round (percent). */
  degradation: number[];
  /** DAR's average rank drop against ChatIR on `visdial`, per round (places). */
  rankDrop: number[];
  /** Dialogues per benchmark that were ranked. */
  dialogues: number;
  /** Corpus size ranked against. */
  corpusSize: number;
}

/** One row of the calibration table: a scalar statistic with an accepted interval. */
export interface CalibrationTarget {
  /** Stable id, e.g. `chatir_visdial_r3`. */
  id: string;
  /** What is measured, in words. */
  label: string;
  /** The published number (or claim) as the source states it. */
  published: string;
  /** Where the number is published. */
  source: string;
  /** Lowest accepted value (-Infinity: none). */
  lo: number;
  /** Highest accepted value (Infinity: none). */
  hi: number;
  /** Scale of a miss: a value `scale` outside the interval costs 1 in the objective. */
  scale: number;
  /** Extracts the statistic from measured stats. */
  value: (s: CalibrationStats) => number;
}

/** The published ChatIR numbers of the table, read from `data/paper_reference.json`'s `baselines`. */
function _published() {
  const b = paperReference().baselines as unknown as Record<
    string,
    { value: number | number[]; tolerance: number }
  >;
  return {
    r0: b.chatir_hits10_round0.value as number,
    r0Tol: b.chatir_hits10_round0.tolerance,
    visdial: b.chatir_visdial_cumulative.value as number[],
    visdialTol: b.chatir_visdial_cumulative.tolerance,
    chatgpt: b.chatir_chatgpt_blip2_rounds_2_5_10.value as number[],
    chatgptTol: b.chatir_chatgpt_blip2_rounds_2_5_10.tolerance,
    human5: b.chatir_human_blip2_round5.value as number,
    human5Tol: b.chatir_human_blip2_round5.tolerance,
  };
}

function _targets(): CalibrationTarget[] {
  const t: CalibrationTarget[] = [];
  const pub = _published();
  const two = (
    id: string,
    label: string,
    published: string,
    source: string,
    lo: number,
    hi: number,
    value: (s: CalibrationStats) => number,
  ) => t.push({ id, label, published, source, lo, hi, scale: (hi - lo) / 2, value });
  const one = (
    id: string,
    label: string,
    published: string,
    source: string,
    lo: number,
    hi: number,
    scale: number,
    value: (s: CalibrationStats) => number,
  ) => t.push({ id, label, published, source, lo, hi, scale, value });
  two(
    "chatir_r0",
    "ChatIR Hits@10, round 0 (caption; the same on all four)",
    `${pub.r0}`,
    "ChatIR §4.1",
    pub.r0 - pub.r0Tol,
    pub.r0 + pub.r0Tol,
    (s) => s.chatir.visdial[0],
  );
  pub.visdial.forEach((v, r) =>
    two(
      `chatir_visdial_r${r}`,
      `ChatIR Hits@10, visdial, round ${r}`,
      `${v}`,
      "public BLIP reproduction of ChatIR on VisDial val",
      v - pub.visdialTol,
      v + pub.visdialTol,
      (s) => s.chatir.visdial[r],
    )
  );
  for (const [i, r] of [2, 5, 10].entries()) {
    const v = pub.chatgpt[i];
    two(
      `chatir_chatgpt_r${r}`,
      `ChatIR Hits@10, chatgpt_blip2, round ${r}`,
      `${v}`,
      "ChatIR §1, §4.2",
      v - pub.chatgptTol,
      v + pub.chatgptTol,
      (s) => s.chatir.chatgpt_blip2[r],
    );
  }
  two(
    "chatir_human_r5",
    "ChatIR Hits@10, human_blip2, round 5",
    `${pub.human5}`,
    "ChatIR abstract",
    pub.human5 - pub.human5Tol,
    pub.human5 + pub.human5Tol,
    (s) => s.chatir.human_blip2[5],
  );
  two(
    "chatir_chatgpt_minus_human_r10",
    "ChatIR chatgpt_blip2 − human_blip2, round 10",
    "about 2",
    "ChatIR §4.2",
    0,
    4,
    (s) => s.chatir.chatgpt_blip2[10] - s.chatir.human_blip2[10],
  );
  for (const r of [1, 2]) {
    one(
      `chatir_flan_above_human_r${r}`,
      `ChatIR flan_alpaca_xxl_blip2 − human_blip2, round ${r} (above)`,
      "> 0",
      "ChatIR §4.2",
      0,
      Infinity,
      1,
      (s) => s.chatir.flan_alpaca_xxl_blip2[r] - s.chatir.human_blip2[r],
    );
  }
  for (const r of [8, 9, 10]) {
    one(
      `chatir_flan_below_human_r${r}`,
      `ChatIR flan_alpaca_xxl_blip2 − human_blip2, round ${r} (below)`,
      "< 0",
      "ChatIR §4.2",
      -Infinity,
      0,
      1,
      (s) => s.chatir.flan_alpaca_xxl_blip2[r] - s.chatir.human_blip2[r],
    );
  }
  one(
    "chatir_flan_gain_r5_r10",
    "ChatIR flan_alpaca_xxl_blip2 gain from round 5 to 10",
    "< 3 (saturates early)",
    "ChatIR §4.2; ADaFuSE §4.2",
    -Infinity,
    3,
    1,
    (s) => s.chatir.flan_alpaca_xxl_blip2[10] - s.chatir.flan_alpaca_xxl_blip2[5],
  );
  for (const b of BENCHMARKS) {
    two(
      `dar_minus_chatir_r0_${b}`,
      `DAR − ChatIR Hits@10, round 0, ${b}`,
      "on par",
      "DAR abstract",
      -1,
      2,
      (s) => s.dar[b][0] - s.chatir[b][0],
    );
  }
  for (const b of BENCHMARKS) {
    two(
      `dar_minus_chatir_r10_${b}`,
      `DAR − ChatIR Hits@10, round 10, ${b}`,
      "up to 7.61",
      "DAR abstract",
      0,
      8.1,
      (s) => s.dar[b][10] - s.chatir[b][10],
    );
  }
  one(
    "dar_minus_chatir_r10_max",
    "DAR − ChatIR Hits@10, round 10, largest over the four",
    "7.61",
    "DAR abstract",
    5,
    Infinity,
    1.5,
    (s) => Math.max(...BENCHMARKS.map((b) => s.dar[b][10] - s.chatir[b][10])),
  );
  for (let r = 2; r <= 10; r++) {
    two(
      `dar_degradation_visdial_r${r}`,
      `DAR degradation rate, visdial, round ${r}`,
      "> 50, at most 55.62",
      "ADaFuSE §3.1, abstract",
      48,
      57.6,
      (s) => s.degradation[r],
    );
  }
  two(
    "dar_rank_drop_visdial",
    "DAR average rank drop, visdial, mean over rounds 2..10",
    "about 7,500",
    "ADaFuSE §3.1",
    5000,
    10000,
    (s) => s.rankDrop.slice(2, 11).reduce((a, b) => a + b, 0) / 9,
  );
  return t;
}

/** The calibration table of issue #8: every published baseline number with its interval. */
export const CALIBRATION_TARGETS: readonly CalibrationTarget[] = _targets();

/** Weight of the pull towards each two-sided interval's centre in the objective. */
export const CENTRE_WEIGHT = 0.05;

/** How far a value misses a target, in units of the target's scale (0 inside the interval). */
export function targetMiss(t: Pick<CalibrationTarget, "lo" | "hi" | "scale">, v: number): number {
  if (!Number.isFinite(v)) return 10;
  if (v < t.lo) return (t.lo - v) / t.scale;
  if (v > t.hi) return (v - t.hi) / t.scale;
  return 0;
}

/**
 * The calibration objective (lower is better):
 * `Σ_t miss_t² + CENTRE_WEIGHT · Σ_{t two-sided} ((v_t − centre_t) / halfwidth_t)²`, where
 * `miss_t` is {@linkcode targetMiss}. The first term is zero when every target is met; the
 * second prefers values in the middle of their intervals, so that the result holds on other
 * seeds and at full size.
 *
 * @param values one value per target of `targets`, same order.
 */
export function calibrationObjective(
  values: number[],
  targets: readonly Pick<CalibrationTarget, "lo" | "hi" | "scale">[] = CALIBRATION_TARGETS,
): number {
  if (values.length !== targets.length) {
    throw new Error(
      `calibrationObjective: ${values.length} values for ${targets.length} targets; pass one ` +
        "value per target",
    );
  }
  let f = 0;
  targets.forEach((t, i) => {
    const m = targetMiss(t, values[i]);
    f += m * m;
    if (Number.isFinite(t.lo) && Number.isFinite(t.hi) && Number.isFinite(values[i])) {
      const c = (values[i] - (t.lo + t.hi) / 2) / ((t.hi - t.lo) / 2);
      f += CENTRE_WEIGHT * c * c;
    }
  });
  return f;
}

/**
 * Every calibration statistic from rank arrays: ChatIR's and DAR's `[Q, R]` 0-based ranks per
 * benchmark (same dialogues in both).
 */
export function statsFromRanks(
  chatir: Record<BenchmarkName, Int32Array>,
  dar: Record<BenchmarkName, Int32Array>,
  q: number,
  r: number,
  corpusSize: number,
): CalibrationStats {
  const hc = {} as Record<BenchmarkName, number[]>;
  const hd = {} as Record<BenchmarkName, number[]>;
  for (const b of BENCHMARKS) {
    hc[b] = hitsCumulative(chatir[b], q, r, 10);
    hd[b] = hitsCumulative(dar[b], q, r, 10);
  }
  return {
    chatir: hc,
    dar: hd,
    degradation: degradationRate(dar.visdial, chatir.visdial, q, r),
    rankDrop: averageRankDrop(dar.visdial, chatir.visdial, q, r),
    dialogues: q,
    corpusSize,
  };
}

/** Options of {@linkcode measureCalibration}. */
export interface MeasureOptions {
  /** Rank only the first this many dialogues of each benchmark (default: all). */
  dialogues?: number;
  /** Ranking worker threads (see lib/model/ranking.ts). */
  workers?: number | "auto";
  /** Rank ChatIR only (DAR's statistics come back NaN): enough for ChatIR's targets. */
  textOnly?: boolean;
}

/**
 * Generates the corpus and the four benchmarks of `cfg` (no train/val) and measures every
 * calibration statistic, ranking over the whole corpus.
 */
export async function measureCalibration(
  cfg: SyntheticConfig,
  opts: MeasureOptions = {},
): Promise<CalibrationStats> {
  return await measureCalibrationOn(generateSynthetic(cfg, { benchmarksOnly: true }), opts);
}

/** {@linkcode measureCalibration} on data already generated (its corpus and four benchmarks). */
export async function measureCalibrationOn(
  data: SyntheticData,
  opts: MeasureOptions = {},
): Promise<CalibrationStats> {
  const cfg = data.extra.config;
  const { dim, rounds: R } = data;
  const index = prepareCorpus(data.corpus, dim, { workers: opts.workers });
  const chatir = {} as Record<BenchmarkName, Int32Array>;
  const dar = {} as Record<BenchmarkName, Int32Array>;
  let q = 0;
  try {
    for (const b of BENCHMARKS) {
      const s = data.splits[b];
      q = Math.min(s.target.length, opts.dialogues ?? Infinity);
      const split: Split = {
        name: b,
        text: s.text.subarray(0, q * R * dim),
        gen: s.gen.subarray(0, q * R * dim),
        target: s.target.subarray(0, q),
        count: q,
      };
      chatir[b] = (await evaluateQueries(index, split, R, baseline("chatir", dim))).ranks;
      if (!opts.textOnly) {
        dar[b] = (await evaluateQueries(index, split, R, baseline("dar", dim))).ranks;
      }
    }
  } finally {
    index.dispose();
  }
  if (!opts.textOnly) return statsFromRanks(chatir, dar, q, R, cfg.corpusSize);
  const stats = statsFromRanks(chatir, chatir, q, R, cfg.corpusSize);
  const nan = () => new Array(R).fill(NaN);
  for (const b of BENCHMARKS) stats.dar[b] = nan();
  return { ...stats, degradation: nan(), rankDrop: nan() };
}

/** The value of every target on `stats`, in the order of {@linkcode CALIBRATION_TARGETS}. */
export function targetValues(stats: CalibrationStats): number[] {
  return CALIBRATION_TARGETS.map((t) => t.value(stats));
}

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

/** One row of the report: a target, its published value and ours per data seed. */
export interface ReportRow {
  /** Target id. */
  id: string;
  /** What is measured. */
  label: string;
  /** The published number. */
  published: string;
  /** Where it is published. */
  source: string;
  /** Accepted interval `[lo, hi]` (null for an open end). */
  interval: [number | null, number | null];
  /** Our value per data seed. */
  values: Record<string, number>;
  /** Met on every seed. */
  met: boolean;
}

/** The calibration report: every target, our value per seed, and whether it is met. */
export interface CalibrationReport {
  /** The knob values chosen (the `default` preset). */
  knobs: Partial<SyntheticConfig>;
  /** Data seeds confirmed at full size. */
  seeds: number[];
  /** Dialogues per benchmark and corpus size of the confirmation. */
  dialogues: number;
  /** Corpus size of the confirmation. */
  corpusSize: number;
  /** Objective per seed. */
  objective: Record<string, number>;
  /** One row per target. */
  rows: ReportRow[];
  /** Targets met on every seed, and the total. */
  met: number;
  /** Number of targets. */
  total: number;
  /** The statistics per seed (the full curves). */
  stats: Record<string, CalibrationStats>;
  /** How the knobs were found, when a search ran (absent: the preset was only confirmed). */
  search?: SearchProvenance;
}

/** How a calibration search ran: enough to rerun it. */
export interface SearchProvenance {
  /** Evaluations of the text stage (0: none; the main search then moved every knob). */
  textEvaluations: number;
  /** Candidate evaluations. */
  evaluations: number;
  /** Dialogues per benchmark in each evaluation. */
  dialogues: number;
  /** Data seeds the search measured on. */
  dataSeeds: number[];
  /** Seed of the search's proposals. */
  searchSeed: number;
  /** The main search's stage, when not implied by `textEvaluations`. */
  stage?: SearchStage;
  /** Knobs held at a value set by a published statistic (`--pin`). */
  pins?: Partial<SyntheticConfig>;
}

/** Builds the report from the stats measured on each data seed. */
export function calibrationReport(
  knobs: Partial<SyntheticConfig>,
  statsBySeed: Record<string, CalibrationStats>,
  search?: SearchProvenance,
): CalibrationReport {
  const seeds = Object.keys(statsBySeed);
  const valsBySeed = Object.fromEntries(seeds.map((s) => [s, targetValues(statsBySeed[s])]));
  const rows: ReportRow[] = CALIBRATION_TARGETS.map((t, i) => {
    const values = Object.fromEntries(seeds.map((s) => [s, valsBySeed[s][i]]));
    return {
      id: t.id,
      label: t.label,
      published: t.published,
      source: t.source,
      interval: [Number.isFinite(t.lo) ? t.lo : null, Number.isFinite(t.hi) ? t.hi : null],
      values,
      met: seeds.every((s) => targetMiss(t, values[s]) === 0),
    };
  });
  const first = statsBySeed[seeds[0]];
  return {
    knobs,
    seeds: seeds.map(Number),
    dialogues: first.dialogues,
    corpusSize: first.corpusSize,
    objective: Object.fromEntries(seeds.map((s) => [s, calibrationObjective(valsBySeed[s])])),
    rows,
    met: rows.filter((r) => r.met).length,
    total: rows.length,
    stats: statsBySeed,
    ...(search ? { search } : {}),
  };
}

/** Targets met per data seed of the report (seed → count), from its rows and intervals. */
export function metBySeed(rep: Pick<CalibrationReport, "rows" | "seeds">): Record<string, number> {
  const miss = (r: ReportRow, v: number) =>
    targetMiss({ lo: r.interval[0] ?? -Infinity, hi: r.interval[1] ?? Infinity, scale: 1 }, v);
  return Object.fromEntries(
    rep.seeds.map((s) => [String(s), rep.rows.filter((r) => miss(r, r.values[s]) === 0).length]),
  );
}

/** {@linkcode metBySeed} in words: `41 on seed 1, 42 on seed 2`. */
export function metBySeedText(rep: Pick<CalibrationReport, "rows" | "seeds">): string {
  return Object.entries(metBySeed(rep)).map(([s, n]) => `${n} on seed ${s}`).join(", ");
}

function _fmt(v: number): string {
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2);
}

function _searchLine(s: SearchProvenance, confirmSeeds: number[]): string {
  const cmd = [
    "deno task calibrate",
    ...(s.textEvaluations > 1 ? [`--text-evaluations ${s.textEvaluations}`] : []),
    `--evaluations ${s.evaluations}`,
    `--dialogues ${s.dialogues}`,
    `--data-seeds ${s.dataSeeds.join(",")}`,
    `--search-seed ${s.searchSeed}`,
    ...(s.stage ? [`--stage ${s.stage}`] : []),
    ...(s.pins && Object.keys(s.pins).length
      ? [`--pin ${Object.entries(s.pins).map(([k, v]) => `${k}=${v}`).join(",")}`]
      : []),
    `--confirm-seeds ${confirmSeeds.join(",")}`,
  ].join(" ");
  return `Found by \`${cmd}\`: the search measured data seeds ${s.dataSeeds.join(", ")}, ` +
    `the confirmation the seeds below.`;
}

/** The report as a Markdown table (every target, published, interval, ours per seed, met). */
export function reportMarkdown(rep: CalibrationReport): string {
  const seeds = Object.keys(rep.rows[0]?.values ?? {});
  const lines = [
    `# Calibration of the synthetic stand-in to the baselines' published numbers`,
    "",
    `Met on every seed: **${rep.met} of ${rep.total}** targets (data seeds ${
      rep.seeds.join(", ")
    }; ${rep.dialogues} dialogues per benchmark; corpus ${rep.corpusSize}); per seed: ${
      metBySeedText(rep)
    }.`,
    "",
    ...(rep.search ? [_searchLine(rep.search, rep.seeds), ""] : []),
    (rep.search?.pins && Object.keys(rep.search.pins).length
      ? `Chosen knobs (with ${
        Object.entries(rep.search.pins).map(([k, v]) => `\`${k}\` held at ${v}`).join(", ")
      }; a study, not the \`default\` preset): `
      : "Chosen knobs (the `default` preset): ") +
    Object.entries(rep.knobs).map(([k, v]) => `\`${k}\` ${v}`).join(", ") + ".",
    "",
    `| target | published | source | interval | ${
      seeds.map((s) => `seed ${s}`).join(" | ")
    } | met |`,
    `|---|---|---|---|${seeds.map(() => "---:").join("|")}|---|`,
  ];
  for (const r of rep.rows) {
    const iv = `${r.interval[0] ?? "−∞"} .. ${r.interval[1] ?? "+∞"}`;
    lines.push(
      `| ${r.label} | ${r.published} | ${r.source} | ${iv} | ${
        seeds.map((s) => _fmt(r.values[s])).join(" | ")
      } | ${r.met ? "yes" : "**no**"} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
