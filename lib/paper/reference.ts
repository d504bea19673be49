/**
 * The paper's numbers beside ours: one table per figure, each row a quantity the paper reports
 * in its text (from `data/paper_reference.json`, with its source) and the value measured here.
 * The `holds` column says whether our value shows the paper's claim; it is computed, never set.
 * Each figure's own table is in its file (fig1_degradation.ts … fig4_gate.ts); this file holds
 * the reference numbers, the row type and the formatting they share, and the methods' colours.
 *
 * @module
 */
import { BENCHMARK_LABELS, isBenchmark } from "../data/benchmarks.ts";

/** One row of a paper-vs-ours table. */
export interface ComparisonRow {
  /** What is compared. */
  quantity: string;
  /** The paper's value, as the paper states it. */
  paper: string;
  /** Ours, measured in this run. */
  ours: string;
  /** Whether ours shows the paper's claim ("yes"/"no"), or "–" for a value without a claim. */
  holds: string;
}

export { type PaperReference, paperReference } from "../data/paper_reference.ts";

/** `yes` or `no`: the `holds` column. */
export const yesNo = (b: boolean): string => (b ? "yes" : "no");
/** `v` with `d` decimals, `n/a` when not finite. */
export const fmt = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : "n/a");

/** The smallest and the largest finite value of `a`. */
export function rangeOf(a: number[]): [number, number] {
  const f = a.filter(Number.isFinite);
  return [Math.min(...f), Math.max(...f)];
}

/** The mean of the finite values of `a`. */
export function meanOf(a: number[]): number {
  const f = a.filter(Number.isFinite);
  return f.reduce((s, v) => s + v, 0) / f.length;
}

/** Mean and sample standard deviation (0 for one value) of per-seed values. */
export function meanSd(values: number[]): { mean: number; sd: number; n: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

/** `mean ± sd (n seeds)` when there are several seeds, else the value alone. */
export function fmtSeeds(values: number[], d = 2, signed = false): string {
  const { mean, sd, n } = meanSd(values);
  const m = `${signed && mean >= 0 ? "+" : ""}${fmt(mean, d)}`;
  return n > 1 ? `${m} ± ${fmt(sd, d)} (${n} seeds)` : m;
}

/** The elementwise mean over seeds of equally long per-round arrays. */
export function meanOverSeeds(perSeed: number[][]): number[] {
  return perSeed[0].map((_, r) => meanOf(perSeed.map((s) => s[r])));
}

/** Least-squares slope of `y` against its index (per round). */
export function slopeOverIndex(y: number[]): number {
  const n = y.length, mx = (n - 1) / 2, my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0;
  y.forEach((v, i) => {
    sxy += (i - mx) * (v - my);
    sxx += (i - mx) ** 2;
  });
  return sxx > 0 ? sxy / sxx : 0;
}

/** Method colours, the same in every figure. */
export const METHOD_COLORS: Record<string, string> = {
  chatir: "#636363",
  dar: "#d62728",
  add: "#9467bd",
  adafuse: "#1f77b4",
};

/** Display names of methods. */
export const METHOD_LABELS: Record<string, string> = {
  chatir: "ChatIR (text only)",
  dar: "DAR (score fusion)",
  add: "t + g",
  adafuse: "ADaFuSE",
};

/** Ranks of one method on one benchmark, `[count, rounds]` row-major. */
export interface RankTable {
  /** Dialogues. */
  count: number;
  /** Rounds per dialogue (11). */
  rounds: number;
  /** 0-based target ranks. */
  ranks: Int32Array;
}

/**
 * The layout of a figure with one panel per benchmark (two columns, each panel labelled
 * "(a) VisDial val" …, axes "round" and "Hits@k (%)"), shared by Figures 3 and 5.
 */
export function benchmarkPanelsLayout(
  title: string,
  benchmarks: string[],
  k: number,
  legendY: number,
  cols = 2,
  // deno-lint-ignore no-explicit-any
): Record<string, any> {
  // deno-lint-ignore no-explicit-any
  const layout: Record<string, any> = {
    title: { text: title },
    grid: { rows: Math.ceil(benchmarks.length / cols), columns: cols, pattern: "independent" },
    legend: { orientation: "h", y: legendY },
    annotations: benchmarks.map((b, i) => ({
      text: `(${"abcd"[i] ?? i}) ${isBenchmark(b) ? BENCHMARK_LABELS[b] : b}`,
      showarrow: false,
      xref: `x${i === 0 ? "" : i + 1} domain`,
      yref: `y${i === 0 ? "" : i + 1} domain`,
      x: 0.02,
      y: 0.98,
      xanchor: "left",
      yanchor: "top",
    })),
    margin: { t: 60 },
  };
  benchmarks.forEach((_, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    layout[`xaxis${ax}`] = { title: { text: "round" }, dtick: 2 };
    layout[`yaxis${ax}`] = { title: { text: `Hits@${k} (%)` } };
  });
  return layout;
}
