/**
 * The calibration's targets: the table of the baselines' published numbers with their accepted
 * intervals ({@linkcode CALIBRATION_TARGETS}; values and sources from `data/paper_reference.json`),
 * how far a value misses one ({@linkcode targetMiss}) and the search's objective
 * ({@linkcode calibrationObjective}: the sum over targets of the squared tolerance-normalised
 * miss, plus a small pull towards each interval's centre).
 *
 * Only the **baselines** are targets: ChatIR (text alone) and DAR (score fusion, 0.8/0.2 for
 * rounds 0-1, 0.5/0.5 from round 2). No number of the ADaFuSE head is one.
 *
 * @module
 */
import { type BenchmarkName, BENCHMARKS } from "../data/benchmarks.ts";
import { paperReference } from "../data/paper_reference.ts";

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

/** The calibration table (docs/data.md): every published baseline number with its interval. */
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

/** The value of every target on `stats`, in the order of {@linkcode CALIBRATION_TARGETS}. */
export function targetValues(stats: CalibrationStats): number[] {
  return CALIBRATION_TARGETS.map((t) => t.value(stats));
}
