/**
 * The paper's figures as plotly specs, built from evaluation results. Notebooks and
 * `deno task figures` both call these, so a figure is drawn the same way from a cell and from
 * a shell. Nothing here holds a number of the paper except the reference lines read from
 * `data/paper_reference.json`, which are labelled as the paper's.
 *
 * @module
 */
import { regressionLinear } from "d3-regression";
import type { FigureSpec } from "../show/figures.ts";
import { hitsCumulative } from "../eval/metrics.ts";
import { Rng } from "../runtime/rng.ts";
import { BENCHMARK_LABELS, isBenchmark } from "../data/benchmarks.ts";

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

/** A percentile bootstrap band of one method's cumulative Hits@K per round. */
export function hitsBand(
  t: RankTable,
  k = 10,
  { replicates = 1000, level = 0.95, seed = 0 } = {},
): { lo: number[]; hi: number[] } {
  const { count: q, rounds: r, ranks } = t;
  // first round at which each dialogue is a hit (r when never)
  const first = new Int32Array(q).fill(r);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < r; j++) {
      if (ranks[i * r + j] < k) {
        first[i] = j;
        break;
      }
    }
  }
  const rng = new Rng(seed);
  const samples = Array.from({ length: r }, () => new Float64Array(replicates));
  const counts = new Int32Array(r + 1);
  for (let b = 0; b < replicates; b++) {
    counts.fill(0);
    for (let i = 0; i < q; i++) counts[first[rng.int(q)]]++;
    let acc = 0;
    for (let j = 0; j < r; j++) {
      acc += counts[j];
      samples[j][b] = (100 * acc) / q;
    }
  }
  const a = (1 - level) / 2;
  const lo: number[] = [], hi: number[] = [];
  for (const s of samples) {
    s.sort();
    lo.push(s[Math.floor(a * (replicates - 1))]);
    hi.push(s[Math.ceil((1 - a) * (replicates - 1))]);
  }
  return { lo, hi };
}

/** Figure 3: cumulative Hits@10 per round, one panel per benchmark, with bootstrap bands. */
export function hitsFigure(
  panels: { benchmark: string; methods: Record<string, RankTable> }[],
  { k = 10, bands = true, reference }: {
    k?: number;
    bands?: boolean;
    reference?: { benchmark: string; label: string; values: number[] };
  } = {},
): FigureSpec {
  // deno-lint-ignore no-explicit-any
  const data: Record<string, any>[] = [];
  const cols = 2;
  panels.forEach((p, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    for (const [method, t] of Object.entries(p.methods)) {
      const x = Array.from({ length: t.rounds }, (_, r) => r);
      const y = hitsCumulative(t.ranks, t.count, t.rounds, k);
      const color = METHOD_COLORS[method] ?? "#000";
      if (bands) {
        const { lo, hi } = hitsBand(t, k);
        data.push({
          type: "scatter",
          x: [...x, ...x.slice().reverse()],
          y: [...hi, ...lo.slice().reverse()],
          fill: "toself",
          fillcolor: color,
          opacity: 0.18,
          line: { width: 0 },
          hoverinfo: "skip",
          showlegend: false,
          xaxis: `x${ax}`,
          yaxis: `y${ax}`,
        });
      }
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: METHOD_LABELS[method] ?? method,
        legendgroup: method,
        showlegend: i === 0,
        x,
        y,
        line: { color, width: 2 },
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        hovertemplate: `${METHOD_LABELS[method] ?? method}, round %{x}: %{y:.2f}<extra></extra>`,
      });
    }
    if (reference && reference.benchmark === p.benchmark) {
      data.push({
        type: "scatter",
        mode: "markers",
        name: reference.label,
        x: reference.values.map((_, r) => r),
        y: reference.values,
        marker: { symbol: "x", color: "#000", size: 7 },
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
      });
    }
  });
  // deno-lint-ignore no-explicit-any
  const layout: Record<string, any> = {
    title: { text: `Cumulative Hits@${k} per round` },
    grid: { rows: Math.ceil(panels.length / cols), columns: cols, pattern: "independent" },
    legend: { orientation: "h", y: -0.12 },
    annotations: panels.map((p, i) => ({
      text: `(${"abcd"[i] ?? i}) ${
        isBenchmark(p.benchmark) ? BENCHMARK_LABELS[p.benchmark] : p.benchmark
      }`,
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
  panels.forEach((_, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    layout[`xaxis${ax}`] = { title: { text: "round" }, dtick: 2 };
    layout[`yaxis${ax}`] = { title: { text: `Hits@${k} (%)` } };
  });
  return { data, layout };
}

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

/** One box of the architecture diagram: label, centre and the block it stands for. */
interface _Box {
  id: string;
  label: string;
  x: number;
  y: number;
  color: string;
}

/**
 * Figure 2: a diagram of the fusion head (projections, adaptive gate, mixture of experts,
 * residual, normalisation), with each block's parameter count from `counts` (block name →
 * count, as {@linkcode parameterTable} gives them) written under its label.
 */
export function architectureFigure(
  counts: Record<string, number>,
  sizes: { dim: number; proj: number; hidden: number; experts: number },
): FigureSpec {
  const n = (
    k: string,
  ) => (counts[k] !== undefined ? `<br>${counts[k].toLocaleString("en")} params` : "");
  const { dim: d, proj: p, hidden: h, experts: k } = sizes;
  const boxes: _Box[] = [
    { id: "t", label: `text t<br>(${d})`, x: 0, y: 3, color: "#e0e0e0" },
    { id: "g", label: `generated image g<br>(${d})`, x: 0, y: 0, color: "#e0e0e0" },
    {
      id: "pt",
      label: `W_T: ${d}→${p}, GELU${n("text projection")}`,
      x: 2.1,
      y: 3,
      color: "#c6dbef",
    },
    {
      id: "pd",
      label: `W_D: ${d}→${p}, GELU${n("image projection")}`,
      x: 2.1,
      y: 0,
      color: "#c6dbef",
    },
    { id: "h", label: `h = [h_T ; h_D]<br>(${2 * p})`, x: 4.1, y: 1.5, color: "#e0e0e0" },
    {
      id: "gate",
      label: `gate: ${2 * p}→${h}→1, σ${n("gate")}<br>w = text weight`,
      x: 6.1,
      y: 3.2,
      color: "#fdd0a2",
    },
    {
      id: "router",
      label: `router: ${2 * p}→${h / 4}→${k}, softmax${n("router")}`,
      x: 6.1,
      y: 1.5,
      color: "#c7e9c0",
    },
    {
      id: "experts",
      label: `${k} experts: ${2 * p}→${h}, GELU${n("experts")}`,
      x: 6.1,
      y: -0.2,
      color: "#c7e9c0",
    },
    {
      id: "mix",
      label: `Σ p_k E_k, W_o: ${h}→${d}${n("output layer")}<br>residual r`,
      x: 8.1,
      y: 0.6,
      color: "#c7e9c0",
    },
    { id: "q", label: "q = normalize(<br>w·t + (1−w)·g + r)", x: 10.2, y: 2, color: "#9ecae1" },
  ];
  const at = Object.fromEntries(boxes.map((b) => [b.id, b]));
  const edges: [string, string][] = [
    ["t", "pt"],
    ["g", "pd"],
    ["pt", "h"],
    ["pd", "h"],
    ["h", "gate"],
    ["h", "router"],
    ["h", "experts"],
    ["router", "mix"],
    ["experts", "mix"],
    ["gate", "q"],
    ["mix", "q"],
    ["t", "q"],
    ["g", "q"],
  ];
  const w = 0.75, hh = 0.42;
  return {
    data: [],
    layout: {
      title: { text: "ADaFuSE fusion head" },
      xaxis: { visible: false, range: [-0.9, 11.1] },
      yaxis: { visible: false, range: [-1, 4] },
      shapes: boxes.map((b) => ({
        type: "rect",
        x0: b.x - w,
        x1: b.x + w,
        y0: b.y - hh,
        y1: b.y + hh,
        fillcolor: b.color,
        line: { color: "#555", width: 1 },
        layer: "below",
      })),
      annotations: [
        ...boxes.map((b) => ({
          x: b.x,
          y: b.y,
          text: b.label,
          showarrow: false,
          font: { size: 10 },
        })),
        ...edges.map(([a, b]) => ({
          x: at[b].x - w,
          y: at[b].y,
          ax: at[a].x + w,
          ay: at[a].y,
          xref: "x",
          yref: "y",
          axref: "x",
          ayref: "y",
          text: "",
          showarrow: true,
          arrowhead: 2,
          arrowwidth: 1.2,
          arrowcolor: "#777",
          opacity: a === "t" && b === "q" || a === "g" && b === "q" ? 0.35 : 1,
        })),
      ],
      margin: { l: 10, r: 10, t: 50, b: 10 },
      plot_bgcolor: "#fff",
    },
  };
}
