/**
 * Measuring the calibration statistics: {@linkcode measureCalibration} generates the corpus and
 * the four benchmarks of a config (no train/val), ranks ChatIR and DAR exactly over the **whole**
 * corpus (Hits@10 depends on its size), optionally on the first `dialogues` dialogues of each
 * benchmark, and extracts every statistic ({@linkcode statsFromRanks}).
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
import type { Split } from "../data/bundle.ts";
import type { CalibrationStats } from "./targets.ts";

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
