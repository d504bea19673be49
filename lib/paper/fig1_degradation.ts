/**
 * Figure 1 (notebook 01_degradation): how often and how far fusing the generated image makes
 * the target's rank worse than text alone, per round: the series' type, the plotly spec and
 * the paper-vs-ours table.
 *
 * @module
 */
import type { FigureSpec } from "../show/figures.ts";
import {
  type ComparisonRow,
  fmt,
  fmtSeeds,
  meanOf,
  meanOverSeeds,
  METHOD_COLORS,
  METHOD_LABELS,
  paperReference,
  rangeOf,
  slopeOverIndex,
  yesNo,
} from "./reference.ts";

/** Per-round degradation of one fusion method against text alone. */
export interface DegradationSeries {
  /** Method name (a key of {@linkcode METHOD_LABELS}). */
  method: string;
  /** Degradation rate per round, percent. */
  rate: number[];
  /** Average rank drop over degraded dialogues per round. */
  drop: number[];
}

/** 1-2-5 in every decade from 1 to 50,000: the rank-drop axis's ticks. */
const _LOG_TICKS = [1, 10, 100, 1_000, 10_000].flatMap((d) => [d, 2 * d, 5 * d]);

/** Figure 1: degradation rate (bars, left axis) and average rank drop (lines, right axis, log). */
export function degradationFigure(series: DegradationSeries[], title: string): FigureSpec {
  const rounds = series[0]?.rate.map((_, r) => r) ?? [];
  const data = series.flatMap((s) => [
    {
      type: "bar",
      name: `${METHOD_LABELS[s.method] ?? s.method}: degradation rate`,
      x: rounds,
      y: s.rate,
      marker: { color: METHOD_COLORS[s.method], opacity: 0.55 },
      yaxis: "y",
      hovertemplate: "round %{x}: %{y:.2f}%<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines+markers",
      name: `${METHOD_LABELS[s.method] ?? s.method}: average rank drop`,
      x: rounds,
      y: s.drop.map((v) => (Number.isFinite(v) ? v : null)),
      line: { color: METHOD_COLORS[s.method], width: 2.5 },
      yaxis: "y2",
      hovertemplate: "round %{x}: %{y:.1f} places<extra></extra>",
    },
  ]);
  return {
    data,
    layout: {
      title: { text: title },
      barmode: "group",
      xaxis: { title: { text: "dialogue round" }, dtick: 1 },
      yaxis: { title: { text: "degradation rate (%)" }, range: [0, 100] },
      yaxis2: {
        title: { text: "average rank drop (places, log)" },
        overlaying: "y",
        side: "right",
        type: "log",
        // readable ticks: 1-2-5 per decade, with thousands separators (not plotly's bare 2…9)
        tickvals: _LOG_TICKS,
        ticktext: _LOG_TICKS.map((v) => v.toLocaleString("en-US")),
      },
      legend: { orientation: "h", y: -0.2 },
      margin: { t: 60, r: 80 },
    },
  };
}

/**
 * Figure 1: DAR's and ADaFuSE's degradation against text alone. `ada` may hold one series per
 * training seed: the verdicts are taken on the mean over seeds, and `ours` shows the spread.
 * Verdicts: DAR's degradation rate above 50% from the paper's round on, DAR's average
 * rank drop within a factor of 2 of the paper's ≈7,500, ADaFuSE's within a factor of 2 of ≈20,
 * ADaFuSE's degradation below DAR's at every such round and falling with the rounds.
 */
export function fig1Comparison(
  dar: DegradationSeries,
  ada?: DegradationSeries | DegradationSeries[],
): ComparisonRow[] {
  const ref = paperReference().fig1_degradation;
  const from = ref.dar_degradation_rate_from_round.value as number;
  const [lo, hi] = rangeOf(dar.rate.slice(from));
  const darDrop = meanOf(dar.drop.slice(from));
  const paperDar = ref.dar_average_rank_drop.value as number;
  const paperAda = ref.adafuse_average_rank_drop.value as number;
  const within2 = (v: number, p: number) => v >= p / 2 && v <= p * 2;
  const rows: ComparisonRow[] = [
    {
      quantity: `DAR degradation rate, rounds ${from}-10 (min-max %; holds if all > 50)`,
      paper: `> 50, up to ${ref.dar_degradation_rate_max_percent.value}`,
      ours: `${fmt(lo)} - ${fmt(hi)}`,
      holds: yesNo(lo > 50),
    },
    {
      quantity: `DAR average rank drop, rounds ${from}-10 (mean; holds if within 2x of the paper)`,
      paper: `about ${paperDar.toLocaleString("en")}`,
      ours: fmt(darDrop, 0),
      holds: yesNo(within2(darDrop, paperDar)),
    },
  ];
  if (ada) {
    const seeds = Array.isArray(ada) ? ada : [ada];
    const rate = meanOverSeeds(seeds.map((s) => s.rate)).slice(from);
    const drops = seeds.map((s) => meanOf(s.drop.slice(from)));
    const adaDrop = meanOf(drops);
    const below = rate.every((v, i) => v < dar.rate[from + i]);
    const slope = slopeOverIndex(rate);
    rows.push(
      {
        quantity: `ADaFuSE degradation rate below DAR's at every round ≥ ${from} (min-max %)`,
        paper: "yes (Fig. 1)",
        ours: `${fmt(Math.min(...rate))} - ${fmt(Math.max(...rate))}` +
          (seeds.length > 1 ? ` (mean of ${seeds.length} seeds)` : ""),
        holds: yesNo(below),
      },
      {
        quantity: `ADaFuSE degradation rate falls with the rounds ${from}-10 (slope, points/round)`,
        paper: "falls (Fig. 1)",
        ours: `${slope >= 0 ? "+" : ""}${fmt(slope)}`,
        holds: yesNo(slope < 0),
      },
      {
        quantity: `ADaFuSE average rank drop, rounds ${from}-10 (mean; holds if within 2x of ` +
          "the paper)",
        paper: `about ${paperAda}`,
        ours: fmtSeeds(drops, 0),
        holds: yesNo(within2(adaDrop, paperAda)),
      },
    );
  }
  return rows;
}
