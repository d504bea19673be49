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
  meanOf,
  METHOD_COLORS,
  METHOD_LABELS,
  paperReference,
  rangeOf,
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
      },
      legend: { orientation: "h", y: -0.2 },
      margin: { t: 60, r: 80 },
    },
  };
}

/** Figure 1: DAR's and ADaFuSE's degradation against text alone. */
export function fig1Comparison(dar: DegradationSeries, ada?: DegradationSeries): ComparisonRow[] {
  const ref = paperReference().fig1_degradation;
  const from = ref.dar_degradation_rate_from_round.value as number;
  const [lo, hi] = rangeOf(dar.rate.slice(from));
  const darDrop = meanOf(dar.drop.slice(from));
  const rows: ComparisonRow[] = [
    {
      quantity: `DAR degradation rate, rounds ${from}-10 (min-max %; holds if all > 50)`,
      paper: `> 50, up to ${ref.dar_degradation_rate_max_percent.value}`,
      ours: `${fmt(lo)} - ${fmt(hi)}`,
      holds: yesNo(lo > 50),
    },
    {
      quantity: `DAR average rank drop, rounds ${from}-10 (mean; holds if in the thousands)`,
      paper: `about ${ref.dar_average_rank_drop.value.toLocaleString("en")}`,
      ours: fmt(darDrop, 0),
      holds: yesNo(darDrop >= 1000),
    },
  ];
  if (ada) {
    const adaDrop = meanOf(ada.drop.slice(from));
    const below = ada.rate.slice(from).every((v, i) => v < dar.rate[from + i]);
    rows.push(
      {
        quantity: `ADaFuSE degradation rate below DAR's at every round ≥ ${from}`,
        paper: "yes (Fig. 1)",
        ours: `${fmt(Math.min(...ada.rate.slice(from)))} - ${
          fmt(Math.max(...ada.rate.slice(from)))
        }`,
        holds: yesNo(below),
      },
      {
        quantity: `ADaFuSE average rank drop, rounds ${from}-10 (mean; holds if ≤ DAR/10)`,
        paper: `about ${ref.adafuse_average_rank_drop.value}`,
        ours: fmt(adaDrop, 0),
        holds: yesNo(adaDrop <= darDrop / 10),
      },
    );
  }
  return rows;
}
