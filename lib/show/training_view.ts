/**
 * A training run in view: its `log.jsonl` read back (lib/train/loop.ts writes it) and drawn as the
 * curves a reader checks first: loss, learning rate and gradient norm per update, validation
 * Hits@K per epoch, the gate's mean ± sd and the router's expert load over training, and what
 * each validation measured of the gate's learning (its spread, slope against cos(t, g) and
 * off-scene AUC) beside the selection and held-out galleries.
 *
 * @module
 */
import type { FigureSpec } from "./figures.ts";
import type { EvalRecord, StepLog } from "../train/loop.ts";

/** A run's `log.jsonl`, split by line type. */
export interface TrainLog {
  /** The `step` lines, in order. */
  steps: StepLog[];
  /** The `eval` lines (validation after an epoch), in order. */
  evals: (EvalRecord & { type: "eval" })[];
}

/** Parses the text of a `log.jsonl`; a bad line is an error naming its number. */
export function parseTrainLog(text: string, source = "log.jsonl"): TrainLog {
  const log: TrainLog = { steps: [], evals: [] };
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let o: { type?: string };
    try {
      o = JSON.parse(line);
    } catch {
      throw new Error(`${source}:${i + 1}: not JSON; the run was stopped while writing? resume it`);
    }
    if (o.type === "step") log.steps.push(o as StepLog);
    else if (o.type === "eval") log.evals.push(o as TrainLog["evals"][number]);
  });
  return log;
}

/** Reads `RUN_DIR/log.jsonl`. */
export async function readTrainLog(runDir: string): Promise<TrainLog> {
  const path = `${runDir.replace(/\/$/, "")}/log.jsonl`;
  return parseTrainLog(await Deno.readTextFile(path), path);
}

const _axis = (title: string, extra: Record<string, unknown> = {}) => ({
  title: { text: title },
  ...extra,
});

/** A 2 × 2 grid of independent panels with the given (x, y) axes, legend below. */
function _grid2x2(title: string, axes: [object, object][]): Record<string, unknown> {
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: 2, columns: 2, pattern: "independent" },
    legend: { orientation: "h", y: -0.15 },
  };
  axes.forEach(([x, y], i) => {
    layout[`xaxis${i ? i + 1 : ""}`] = x;
    layout[`yaxis${i ? i + 1 : ""}`] = y;
  });
  return layout;
}

/**
 * The optimisation curves, four panels: training loss, learning rate and gradient norm (before
 * clipping) per update, and validation Hits@K (the mean over rounds, the selection metric, and
 * the first and last round) per epoch, in percent.
 */
export function trainingCurvesFigure(log: TrainLog, title = "Training", k = 10): FigureSpec {
  const step = log.steps.map((s) => s.step);
  const epoch = log.evals.map((e) => e.epoch + 1);
  const line = (y: number[], name: string, ax: string, color: string) => ({
    type: "scatter",
    mode: "lines",
    x: step,
    y,
    name,
    xaxis: `x${ax}`,
    yaxis: `y${ax}`,
    line: { color },
  });
  const val = (y: number[], name: string, color: string, dash = "solid") => ({
    type: "scatter",
    mode: "lines+markers",
    x: epoch,
    y: y.map((v) => 100 * v),
    name,
    xaxis: "x4",
    yaxis: "y4",
    line: { color, dash },
  });
  return {
    data: [
      line(log.steps.map((s) => s.loss), "training loss", "", "#444444"),
      line(log.steps.map((s) => s.lr), "learning rate", "2", "#ff7f0e"),
      line(log.steps.map((s) => s.gradNorm), "gradient norm", "3", "#2ca02c"),
      // ADaFuSE's blue, as in every figure (red is DAR's)
      val(log.evals.map((e) => e.valMetric), `val mean Hits@${k}`, "#1f77b4"),
      val(log.evals.map((e) => e.valHits[0]), `val Hits@${k}, round 0`, "#9467bd", "dot"),
      val(log.evals.map((e) => e.valHits.at(-1)!), `val Hits@${k}, last round`, "#8c564b", "dash"),
    ],
    layout: _grid2x2(title, [
      [_axis("update"), _axis("InfoNCE loss")],
      [_axis("update"), _axis("learning rate", { exponentformat: "e" })],
      [_axis("update"), _axis("global gradient norm")],
      [_axis("epoch", { dtick: 1 }), _axis(`validation Hits@${k} (%)`)],
    ]),
  };
}

/**
 * The head's two adaptive parts over training: the gate's text weight `w` (mean ± one standard
 * deviation over each update's samples; the image weight is `1 − w`) and the router's expert
 * load (mean probability of each expert).
 */
export function gateRouterFigure(
  log: TrainLog,
  title = "Gate and router over training",
): FigureSpec {
  const x = log.steps.map((s) => s.step);
  const mean = log.steps.map((s) => s.gateMean);
  const hi = log.steps.map((s) => s.gateMean + s.gateStd);
  const lo = log.steps.map((s) => s.gateMean - s.gateStd);
  const experts = log.steps[0]?.expertLoad.length ?? 0;
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  return {
    data: [
      {
        type: "scatter",
        x: [...x, ...x.slice().reverse()],
        y: [...hi, ...lo.slice().reverse()],
        fill: "toself",
        fillcolor: "rgba(31,119,180,0.2)",
        line: { width: 0 },
        name: "w ± sd",
        hoverinfo: "skip",
      },
      { type: "scatter", mode: "lines", x, y: mean, name: "gate: text weight w (mean)" },
      ...Array.from({ length: experts }, (_, e) => ({
        type: "scatter",
        mode: "lines",
        x,
        y: log.steps.map((s) => s.expertLoad[e]),
        name: `expert ${e + 1} load`,
        xaxis: "x2",
        yaxis: "y2",
        line: { color: palette[e % palette.length] },
      })),
    ],
    layout: {
      title: { text: title },
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: _axis("update"),
      yaxis: _axis("text weight w"),
      xaxis2: _axis("update"),
      yaxis2: _axis("mean router probability", { rangemode: "tozero" }),
      legend: { orientation: "h", y: -0.2 },
    },
  };
}

/**
 * The gate's learning in view, one point per validation against updates, four panels: the
 * epoch's training loss; the selection metric on the selection gallery (val + train pools) and
 * on the held-out gallery (no training image); the image weight `1 − w` on the val pairs (mean ±
 * sd); its slope against cos(t, g) and the AUC with which a low image weight flags off-scene
 * generations (0.5 = blind). Logs written before these were recorded draw the first two only.
 */
export function gateLearningFigure(
  log: TrainLog,
  title = "The gate's learning over training",
  k = 10,
): FigureSpec {
  const ev = log.evals;
  const x = ev.map((e) => e.step);
  const pts = (y: (number | null)[], name: string, ax: string, color: string, dash = "solid") => ({
    type: "scatter",
    mode: "lines+markers",
    x,
    y,
    name,
    xaxis: `x${ax}`,
    yaxis: `y${ax}`,
    line: { color, dash },
  });
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : 100 * v);
  const iw = ev.map((e) => e.gate?.mean ?? null);
  const sd = ev.map((e) => e.gate?.sd ?? null);
  return {
    data: [
      pts(ev.map((e) => e.trainLoss), "training loss (epoch mean)", "", "#1f77b4"),
      pts(
        ev.map((e) => 100 * e.valMetric),
        `val mean Hits@${k}, selection gallery`,
        "2",
        "#7f7f7f",
      ),
      pts(
        ev.map((e) => pct(e.heldOutMetric)),
        "the same, held-out gallery",
        "2",
        "#17becf",
        "dash",
      ),
      {
        ...pts(iw, "image weight 1 − w (val pairs)", "3", "#2ca02c"),
        error_y: { type: "data", array: sd.map((v) => v ?? 0), visible: true },
      },
      pts(ev.map((e) => e.gate?.slope ?? null), "slope of 1 − w against cos(t, g)", "4", "#9467bd"),
      pts(
        ev.map((e) => e.gate?.auc ?? null),
        "AUC of low 1 − w for off-scene",
        "4",
        "#8c564b",
        "dot",
      ),
    ],
    layout: _grid2x2(title, [
      [_axis("update"), _axis("InfoNCE loss")],
      [_axis("update"), _axis(`validation mean Hits@${k} (%)`)],
      [_axis("update"), _axis("image weight 1 − w")],
      [_axis("update"), _axis("slope / AUC")],
    ]),
  };
}

/**
 * One row per validation: epoch, update, training loss, val metric and Hits@K (percent), the
 * held-out gallery's metric and the gate's statistics on the val pairs (blank in older logs).
 */
export function trainingTable(log: TrainLog, k = 10): Record<string, number | null>[] {
  return log.evals.map((e) => ({
    epoch: e.epoch + 1,
    update: e.step,
    "train loss": e.trainLoss,
    [`val mean Hits@${k} %`]: 100 * e.valMetric,
    "val round 0 %": 100 * e.valHits[0],
    "val last round %": 100 * e.valHits.at(-1)!,
    "held-out mean %": e.heldOutMetric === null || e.heldOutMetric === undefined
      ? null
      : 100 * e.heldOutMetric,
    "image weight": e.gate?.mean ?? null,
    "sd": e.gate?.sd ?? null,
    "slope vs cos(t, g)": e.gate?.slope ?? null,
    "R²": e.gate?.r2 ?? null,
    "off-scene AUC": e.gate?.auc ?? null,
  }));
}
