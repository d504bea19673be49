/**
 * Figure 4 (notebook 04_gate_vs_cosine): the gate's image weight against `cos(t, g)` with its
 * fitted trend and DAR's mean image weight, and the paper-vs-ours table.
 *
 * @module
 */
import { regressionLinear } from "d3-regression";
import type { FigureSpec } from "../show/figures.ts";
import {
  type ComparisonRow,
  fmt,
  fmtSeeds,
  METHOD_COLORS,
  paperReference,
  yesNo,
} from "./reference.ts";

/** A fitted linear trend `y = a + b·x` and its R². */
export interface Trend {
  /** Intercept. */
  intercept: number;
  /** Slope. */
  slope: number;
  /** Coefficient of determination. */
  rSquared: number;
}

/** Least-squares line through `(x, y)` (d3-regression). */
export function fitTrend(x: ArrayLike<number>, y: ArrayLike<number>): Trend {
  const pts = Array.from({ length: x.length }, (_, i) => [x[i], y[i]] as [number, number]);
  // d3-regression returns the line as two points carrying a (slope), b (intercept), rSquared
  const fit = regressionLinear()(pts) as unknown as { a: number; b: number; rSquared: number };
  return { intercept: fit.b, slope: fit.a, rSquared: fit.rSquared };
}

/**
 * Figure 4: the image weight `1 − w` against `cos(t, g)`, one point per (dialogue, round),
 * with the fitted trend and DAR's mean image weight as a horizontal line.
 */
export function gateFigure(
  cos: ArrayLike<number>,
  imageWeight: ArrayLike<number>,
  darMeanImageWeight: number,
  title = "Image weight of the ADaFuSE gate against cos(t, g)",
  band: [number, number] = paperReference().fig4_gate.adafuse_image_weight_typical_range
    .value as [number, number],
): { figure: FigureSpec; trend: Trend } {
  const trend = fitTrend(cos, imageWeight);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < cos.length; i++) {
    lo = Math.min(lo, cos[i]);
    hi = Math.max(hi, cos[i]);
  }
  const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    trend,
    figure: {
      data: [
        {
          // the paper's typical range of the image weight, as a filled band behind the points
          type: "scatter",
          mode: "lines",
          name: `paper: mostly ${100 * band[0]}-${100 * band[1]}%`,
          x: [lo, hi, hi, lo, lo],
          y: [band[0], band[0], band[1], band[1], band[0]],
          fill: "toself",
          fillcolor: "rgba(44, 160, 44, 0.15)",
          line: { width: 0 },
          hoverinfo: "skip",
        },
        {
          type: "scattergl",
          mode: "markers",
          name: `(dialogue, round) pairs (${cos.length.toLocaleString("en")})`,
          x: Array.from(cos, round4),
          y: Array.from(imageWeight, round4),
          marker: { size: 2, color: METHOD_COLORS.adafuse, opacity: 0.25 },
          hoverinfo: "skip",
        },
        {
          type: "scatter",
          mode: "lines",
          name: `fitted trend: ${trend.intercept.toFixed(3)} ${trend.slope < 0 ? "−" : "+"} ${
            Math.abs(trend.slope).toFixed(3)
          }·cos (R² = ${trend.rSquared.toFixed(3)})`,
          x: [lo, hi],
          y: [trend.intercept + trend.slope * lo, trend.intercept + trend.slope * hi],
          line: { color: "#ff7f0e", width: 3 },
        },
        {
          type: "scatter",
          mode: "lines",
          name: `DAR mean image weight (${darMeanImageWeight.toFixed(3)})`,
          x: [lo, hi],
          y: [darMeanImageWeight, darMeanImageWeight],
          line: { color: METHOD_COLORS.dar, width: 2, dash: "dash" },
        },
      ],
      layout: {
        title: { text: title },
        xaxis: { title: { text: "cos(t, g)" } },
        yaxis: { title: { text: "image weight 1 − w" }, range: [0, 1] },
        legend: { orientation: "h", y: -0.2 },
      },
    },
  };
}

/**
 * The smallest rise of the image weight across the middle 90% of cos(t, g) (5th to 95th
 * percentile) that counts as "rising with cos(t, g)": 5 percentage points. A slope whose interval
 * excludes 0 on 100,000 pairs can still move the weight by a fraction of a point; the paper's
 * claim is about a visible trend.
 */
export const FIG4_MIN_RISE = 0.05;

/**
 * Figure 4: the gate's image weight against cos(t, g). Verdicts: the share of pairs with 1 − w
 * in the paper's 15-25% band (holds if most, ≥ 50%), the mean below DAR's, and a positive slope
 * whose bootstrap interval (`slopeCI`, when given) lies above 0 and which, when the pairs'
 * `cos` are given, lifts the weight by at least {@linkcode FIG4_MIN_RISE} across their middle 90%.
 * `seedSlopes` (one slope per training seed) adds the spread over seeds.
 */
export function fig4Comparison(
  imageWeight: ArrayLike<number>,
  trend: Trend,
  darMean: number,
  slopeCI?: [number, number],
  seedSlopes?: number[],
  cos?: ArrayLike<number>,
): ComparisonRow[] {
  const ref = paperReference().fig4_gate;
  const sorted = Float64Array.from(imageWeight).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const [plo, phi] = ref.adafuse_image_weight_typical_range.value as number[];
  const inside = sorted.filter((v) => v >= plo && v <= phi).length / sorted.length;
  const sign = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
  let rise: number | undefined;
  if (cos && cos.length > 0) {
    const c = Float64Array.from(cos).sort();
    const at = (p: number) => c[Math.min(c.length - 1, Math.floor(p * c.length))];
    rise = trend.slope * (at(0.95) - at(0.05));
  }
  const interval = slopeCI ? slopeCI[0] > 0 : trend.slope > 0;
  return [
    {
      quantity: `ADaFuSE image weight 1 − w: share of pairs in ${100 * plo}-${100 * phi}% ` +
        "(holds if ≥ 50%; 25th-75th percentile)",
      paper: `mostly ${100 * plo}-${100 * phi}%`,
      ours: `${fmt(100 * inside, 0)}% (${fmt(100 * q(0.25), 1)}-${fmt(100 * q(0.75), 1)}%)`,
      holds: yesNo(inside >= 0.5),
    },
    {
      quantity: "ADaFuSE mean image weight vs DAR's",
      paper: `below DAR's ≈ ${100 * ref.dar_mean_image_weight.value}%`,
      ours: `${fmt(100 * mean, 1)}% vs ${fmt(100 * darMean, 1)}%`,
      holds: yesNo(mean < darMean),
    },
    {
      quantity: "slope of 1 − w against cos(t, g) (95% bootstrap CI; holds if the CI is above 0" +
        (rise === undefined
          ? ")"
          : ` and 1 − w rises ≥ ${100 * FIG4_MIN_RISE} points across the middle 90% of cos)`),
      paper: "positive (rises with cos)",
      ours: `${sign(trend.slope)}` +
        (slopeCI ? ` [${sign(slopeCI[0])}, ${sign(slopeCI[1])}]` : "") +
        `, R² ${trend.rSquared.toFixed(3)}` +
        (rise === undefined ? "" : `; rise ${rise >= 0 ? "+" : ""}${fmt(100 * rise, 1)} points`) +
        (seedSlopes && seedSlopes.length > 1
          ? `; over ${seedSlopes.length} seeds ${fmtSeeds(seedSlopes, 3, true)}`
          : ""),
      holds: yesNo(interval && (rise === undefined || rise >= FIG4_MIN_RISE)),
    },
  ];
}
