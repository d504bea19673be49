/**
 * Notebook 05_calibration: the calibration report of the synthetic stand-in
 * (`data/calibration/report.json`, written by `deno task calibrate`) as a table, the ChatIR and
 * DAR curves on the four benchmarks with the published baseline points overlaid (from
 * `data/paper_reference.json`'s `baselines`), and DAR's degradation on VisDial beside the
 * published band. No number of the ADaFuSE head appears here: it was never a target.
 *
 * @module
 */
import type { FigureSpec } from "../show/figures.ts";
import { hitsCumulative } from "../eval/metrics.ts";
import { DATA_DIR } from "../runtime/paths.ts";
import { type CalibrationReport, metBySeedText } from "../calibration/report.ts";
import type { DegradationSeries } from "./fig1_degradation.ts";
import {
  benchmarkPanelsLayout,
  fmt,
  METHOD_COLORS,
  METHOD_LABELS,
  type PaperReference,
  paperReference,
  type RankTable,
  yesNo,
} from "./reference.ts";

export type { CalibrationReport, ReportRow } from "../calibration/report.ts";

/** Where `deno task calibrate` writes its report. */
export const CALIBRATION_REPORT_PATH = `${DATA_DIR}/calibration/report.json`;

/**
 * Reads and checks the calibration report (`data/calibration/report.json` by default). Throws an
 * error naming the file and the fix when it is missing or lacks the fields the notebook reads.
 */
export async function readCalibrationReport(
  path = CALIBRATION_REPORT_PATH,
): Promise<CalibrationReport> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${path}: not found; run \`deno task calibrate\` to write it`);
    }
    throw e;
  }
  return parseCalibrationReport(JSON.parse(text), path);
}

/** Checks an already-parsed report object (see {@linkcode readCalibrationReport}). */
export function parseCalibrationReport(
  obj: unknown,
  path = "calibration report",
): CalibrationReport {
  const fix = "rerun `deno task calibrate` to rewrite it";
  if (typeof obj !== "object" || obj === null) throw new Error(`${path}: not an object; ${fix}`);
  const r = obj as Record<string, unknown>;
  for (const k of ["knobs", "seeds", "rows", "met", "total", "stats"]) {
    if (!(k in r)) throw new Error(`${path}: missing field "${k}"; ${fix}`);
  }
  if (!Array.isArray(r.rows) || !Array.isArray(r.seeds)) {
    throw new Error(`${path}: "rows" and "seeds" must be arrays; ${fix}`);
  }
  for (const [i, row] of (r.rows as Record<string, unknown>[]).entries()) {
    for (const k of ["id", "label", "published", "interval", "values", "met"]) {
      if (!(k in row)) throw new Error(`${path}: rows[${i}] lacks "${k}"; ${fix}`);
    }
  }
  return obj as CalibrationReport;
}

/** `[lo, hi]` as text, an open end as `−∞`/`+∞`. */
export function intervalText([lo, hi]: [number | null, number | null]): string {
  const f = (v: number | null, inf: string) => (v === null ? inf : String(v));
  return `${f(lo, "−∞")} .. ${f(hi, "+∞")}`;
}

/**
 * The report as table rows: target, published, source, tolerance interval, ours per data seed
 * (one column each, `seed N`), met.
 */
export function calibrationTable(rep: CalibrationReport): Record<string, string>[] {
  return rep.rows.map((row) => {
    const out: Record<string, string> = {
      target: row.label,
      published: row.published,
      source: row.source,
      tolerance: intervalText(row.interval),
    };
    for (const s of rep.seeds) out[`seed ${s}`] = fmt(row.values[String(s)]);
    out.met = yesNo(row.met);
    return out;
  });
}

/** One line: "met N of M on data seeds a, b (D dialogues per benchmark, corpus C)". */
export function calibrationSummary(rep: CalibrationReport): string {
  const n = (v: number) => v.toLocaleString("en-US");
  return `met ${rep.met} of ${rep.total} on data seeds ${rep.seeds.join(", ")} ` +
    `(${n(rep.dialogues)} dialogues per benchmark, corpus ${n(rep.corpusSize)}); per seed: ` +
    metBySeedText(rep);
}

/** The rows not met, with our value per seed and the interval (for the "what is missed" cell). */
export function missedTargets(rep: CalibrationReport): Record<string, string>[] {
  return calibrationTable(rep).filter((r) => r.met === "no").map(({ met: _, ...r }) => r);
}

/** Published baseline points on one benchmark (rounds and values), for the figure. */
export interface PublishedPoints {
  /** ChatIR's published cumulative Hits@10: round → value. */
  chatir: { rounds: number[]; values: number[]; label: string }[];
  /** DAR − ChatIR at round 10: "up to" this many points. */
  darGainMax?: number;
}

/**
 * The published ChatIR points per benchmark and DAR's round-10 gain, all read from
 * `data/paper_reference.json`'s `baselines` (none typed in): round 0 on all four, the VisDial
 * curve, ChatGPT_BLIP2 at rounds 2/5/10, Human_BLIP2 at round 5.
 */
export function publishedBaselines(
  ref: PaperReference = paperReference(),
): Record<string, PublishedPoints> {
  const b = ref.baselines;
  if (!b) throw new Error("data/paper_reference.json: no `baselines` key");
  const r0 = b.chatir_hits10_round0.value as number;
  const gain = b.dar_minus_chatir_round10_max.value as number;
  const visdial = b.chatir_visdial_cumulative.value as number[];
  const chatgpt = b.chatir_chatgpt_blip2_rounds_2_5_10.value as number[];
  const human = b.chatir_human_blip2_round5.value as number;
  const round0 = { rounds: [0], values: [r0], label: "ChatIR round 0 (ChatIR §4.1)" };
  return {
    visdial: {
      chatir: [round0, {
        rounds: visdial.map((_, r) => r),
        values: visdial,
        label: "ChatIR, public reproduction",
      }],
      darGainMax: gain,
    },
    chatgpt_blip2: {
      chatir: [round0, { rounds: [2, 5, 10], values: chatgpt, label: "ChatIR paper" }],
      darGainMax: gain,
    },
    human_blip2: {
      chatir: [round0, { rounds: [5], values: [human], label: "ChatIR paper" }],
      darGainMax: gain,
    },
    flan_alpaca_xxl_blip2: { chatir: [round0], darGainMax: gain },
  };
}

const MARKERS = ["diamond", "x", "star", "triangle-up"];

/**
 * ChatIR and DAR cumulative Hits@10 per round, one panel per benchmark, with the published ChatIR
 * points as black markers (one symbol per source) and DAR's "up to N points over ChatIR at round
 * 10" as a red segment from our ChatIR value at round 10 to that value plus N.
 */
export function calibrationFigure(
  panels: { benchmark: string; methods: Record<string, RankTable> }[],
  published: Record<string, PublishedPoints> = publishedBaselines(),
  { k = 10, title = "ChatIR and DAR against the published baseline points" } = {},
): FigureSpec {
  // deno-lint-ignore no-explicit-any
  const data: Record<string, any>[] = [];
  const seen = new Set<string>();
  const symbols = new Map<string, string>();
  panels.forEach((p, i) => {
    const ax = i === 0 ? "" : String(i + 1);
    const axes = { xaxis: `x${ax}`, yaxis: `y${ax}` };
    const curves: Record<string, number[]> = {};
    for (const [method, t] of Object.entries(p.methods)) {
      const y = hitsCumulative(t.ranks, t.count, t.rounds, k);
      curves[method] = y;
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${METHOD_LABELS[method] ?? method} (ours)`,
        legendgroup: method,
        showlegend: i === 0,
        x: y.map((_, r) => r),
        y,
        line: { color: METHOD_COLORS[method] ?? "#000", width: 2 },
        ...axes,
      });
    }
    const pub = published[p.benchmark];
    pub?.chatir.forEach((pts) => {
      const name = `published: ${pts.label}`;
      if (!symbols.has(name)) symbols.set(name, MARKERS[symbols.size % MARKERS.length]);
      data.push({
        type: "scatter",
        mode: "markers",
        name,
        legendgroup: name,
        showlegend: !seen.has(name),
        x: pts.rounds,
        y: pts.values,
        marker: { symbol: symbols.get(name), color: "#000", size: 8 },
        ...axes,
      });
      seen.add(name);
    });
    const chatir = curves.chatir;
    if (pub?.darGainMax !== undefined && chatir?.length) {
      const last = chatir.length - 1;
      const name = `published: DAR up to +${pub.darGainMax} over ChatIR, round ${last}`;
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name,
        legendgroup: "dar_gain",
        showlegend: !seen.has("dar_gain"),
        x: [last, last],
        y: [chatir[last], chatir[last] + pub.darGainMax],
        line: { color: METHOD_COLORS.dar, width: 6 },
        marker: { symbol: "line-ew", size: 14, color: METHOD_COLORS.dar },
        opacity: 0.45,
        ...axes,
      });
      seen.add("dar_gain");
    }
  });
  const layout = benchmarkPanelsLayout(title, panels.map((p) => p.benchmark), k, -0.15);
  return { data, layout };
}

/**
 * DAR's degradation rate and average rank drop per round beside the published band (rate in the
 * accepted interval of `dar_degradation_rate_visdial_rounds_2_10` from round 2 on; the drop's
 * mean over rounds 2..10 against `dar_average_rank_drop_visdial`), as table rows. The last row is
 * the mean over rounds 2..10.
 */
export function darDegradationTable(
  series: DegradationSeries,
  ref: PaperReference = paperReference(),
): Record<string, string | number>[] {
  const b = ref.baselines;
  const interval = (key: string) =>
    ((b[key] as { interval?: number[] }).interval ?? [NaN, NaN]) as [number, number];
  const [rlo, rhi] = interval("dar_degradation_rate_visdial_rounds_2_10");
  const [dlo, dhi] = interval("dar_average_rank_drop_visdial");
  const rows: Record<string, string | number>[] = series.rate.map((rate, r) => ({
    round: r,
    "DAR degraded %": fmt(rate, 1),
    "published band %": r >= 2 ? `${rlo} .. ${rhi}` : "",
    "rate in band": r >= 2 ? yesNo(rate >= rlo && rate <= rhi) : "",
    "DAR rank drop": fmt(series.drop[r], 0),
  }));
  const late = series.drop.slice(2).filter(Number.isFinite);
  const mean = late.reduce((a, v) => a + v, 0) / late.length;
  rows.push({
    round: "2..10 mean",
    "DAR degraded %": fmt(
      series.rate.slice(2).reduce((a, v) => a + v, 0) / (series.rate.length - 2),
      1,
    ),
    "published band %": `${rlo} .. ${rhi}`,
    "rate in band": yesNo(series.rate.slice(2).every((v) => v >= rlo && v <= rhi)),
    "DAR rank drop": `${fmt(mean, 0)} (published ${dlo} .. ${dhi}: ${
      yesNo(mean >= dlo && mean <= dhi)
    })`,
  });
  return rows;
}

/** Summary of the report's targets whose id starts with a prefix (see {@linkcode targetGroups}). */
export interface TargetGroup {
  /** What the group is (the caller's words). */
  group: string;
  /** Id prefix of the targets. */
  prefix: string;
  /** Targets met on every seed / in the group. */
  met: string;
  /** The published values of the group (distinct). */
  published: string;
  /** Our smallest and largest value over the group's targets and the data seeds. */
  ours: string;
}

/**
 * Per group of targets (`[group, idPrefix]`), how many are met and the range of our values over
 * those targets and every data seed: the numbers behind the notebook's "what shaped what" text.
 */
export function targetGroups(
  rep: CalibrationReport,
  groups: [group: string, prefix: string][],
  digits = 1,
): TargetGroup[] {
  return groups.map(([group, prefix]) => {
    const rows = rep.rows.filter((r) => r.id.startsWith(prefix));
    if (rows.length === 0) throw new Error(`targetGroups: no target id starts with "${prefix}"`);
    const vals = rows.flatMap((r) => Object.values(r.values));
    const lo = Math.min(...vals), hi = Math.max(...vals);
    return {
      group,
      prefix,
      met: `${rows.filter((r) => r.met).length} of ${rows.length}`,
      published: [...new Set(rows.map((r) => r.published))].join("; "),
      ours: lo === hi ? fmt(lo, digits) : `${fmt(lo, digits)} .. ${fmt(hi, digits)}`,
    };
  });
}
