/**
 * Beyond the paper (notebook 07_ablations, `deno task ablate`): which branch of the head does
 * the work? Each variant is a config of the head (lib/model/config.ts), trained with the same
 * recipe, data and seeds as the reproduction's full head, and evaluated on the four benchmarks:
 * the full head; the gate only (no experts); the experts only (the text weight fixed at the full
 * head's mean); neither (a learned projection only); and the full head with K = 1, 2, 8 experts
 * (K = 4 is the full head). DAR and ChatIR are the reference rows.
 *
 * @module
 */
import type { TrainModelConfig } from "../train/config.ts";
import { BENCHMARK_LABELS, BENCHMARKS } from "../data/benchmarks.ts";
import { parameterCount } from "../model/config.ts";
import type { EvalOutput } from "../eval/evaluate.ts";
import { type FigureSpec, figureTitle } from "../show/figures.ts";
import { degradationSeries, reproEval, reproGate } from "./pipeline.ts";
import { type ReproConfig, reproSeeds } from "./experiment.ts";
import {
  type ComparisonRow,
  fmt,
  fmtSeeds,
  meanSd,
  METHOD_COLORS,
  paperReference,
} from "./reference.ts";

/** One variant of the head. */
export interface AblationVariant {
  /** Short id (`gate_only`, `k8`, …). */
  id: string;
  /** What it is, for tables and legends. */
  label: string;
  /** The head's config fields that differ from the full head's. */
  model: Partial<TrainModelConfig>;
  /** Whether the text weight is fixed at the full head's mean (`fixedTextWeight`). */
  fixedWeight?: boolean;
}

/** The variants, in table order (the full head first). */
export const ABLATION_VARIANTS: readonly AblationVariant[] = Object.freeze([
  { id: "full", label: "full head (gate + 4 experts)", model: {} },
  { id: "gate_only", label: "gate only (no experts)", model: { variant: "gate_only" } },
  {
    id: "experts_only",
    label: "experts only (w fixed at the full head's mean)",
    model: { variant: "moe_only" },
    fixedWeight: true,
  },
  {
    id: "projection_only",
    label: "no gate, no experts (a projection only; w fixed at the full head's mean)",
    model: { variant: "proj_only" },
    fixedWeight: true,
  },
  { id: "k1", label: "K = 1 expert", model: { experts: 1 } },
  { id: "k2", label: "K = 2 experts", model: { experts: 2 } },
  { id: "k8", label: "K = 8 experts", model: { experts: 8 } },
] as AblationVariant[]);

/** The rounds the table shows. */
export const ABLATION_ROUNDS: readonly number[] = [0, 5, 10];

/** The reproduction config of one variant: `base` with the variant's head fields. */
export function ablationConfig(
  base: Partial<ReproConfig>,
  v: AblationVariant,
  fixedTextWeight?: number,
): Partial<ReproConfig> {
  if (v.fixedWeight && fixedTextWeight === undefined) {
    throw new Error(`ablation '${v.id}': pass the full head's mean text weight (fixedTextWeight)`);
  }
  if (v.id === "full") return base;
  const model = {
    ...(base.overrides?.model ?? {}),
    ...v.model,
    ...(v.fixedWeight ? { fixedTextWeight } : {}),
  };
  return { ...base, overrides: { ...(base.overrides ?? {}), model } };
}

/**
 * The full head's mean text weight `w` on the validation split (every dialogue and round; never a
 * benchmark), averaged over the training seeds and rounded to 3 decimals (so that the variants'
 * config, and their run folders, are stable): the value the `experts_only` and `projection_only`
 * variants fix `w` at.
 */
export async function fullHeadMeanWeight(base: Partial<ReproConfig>): Promise<number> {
  const means: number[] = [];
  for (const s of reproSeeds(base)) {
    const g = await reproGate(base, 1_000_000, "val", s); // every pair of the split
    means.push(1 - meanSd(g.imageWeight).mean);
  }
  return Math.round(1000 * meanSd(means).mean) / 1000;
}

/** One row of the ablation: a method's numbers per training seed. */
export interface AblationRow {
  /** `full`, …, or `dar` / `chatir` for the baselines. */
  id: string;
  /** Display name. */
  label: string;
  /** Parameters of the head (0 for the baselines). */
  params: number;
  /**
   * Cumulative Hits@10 per benchmark, per training seed (one entry for the baselines, which do
   * not train), per round of {@linkcode ABLATION_ROUNDS}.
   */
  hits: Record<string, number[][]>;
  /**
   * This method's Figure-1 degradation rate against ChatIR on VisDial (mean over rounds 2..10,
   * %), per training seed (one entry for DAR, none for ChatIR itself).
   */
  degradation: number[];
}

function _ms(values: number[], d = 2): string {
  const { mean, sd } = meanSd(values);
  return values.length > 1 ? `${fmt(mean, d)} ± ${fmt(sd, d)}` : fmt(mean, d);
}

function _round(e: EvalOutput, r: number): number {
  return e.hits["10"].cumulative[Math.min(r, e.rounds - 1)];
}

/**
 * Figure 1's degradation rate of `fused` against `text` (ChatIR) in percent, averaged over the
 * rounds from `from` (2, the paper's) to the last.
 */
export function meanDegradation(fused: EvalOutput, text: EvalOutput, from = 2): number {
  // degradationRate is in percent already
  return meanSd(degradationSeries(fused.method, fused, text).rate.slice(from)).mean;
}

/** Options of {@linkcode runAblations}. */
export interface AblationOptions {
  /** The variants to run (default: all of {@linkcode ABLATION_VARIANTS}). */
  variants?: readonly AblationVariant[];
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
}

/**
 * Trains (cached) every variant once per training seed of `base`, evaluates each on the four
 * benchmarks (cached), and returns one row per variant followed by DAR and ChatIR.
 */
export async function runAblations(
  base: Partial<ReproConfig>,
  opts: AblationOptions = {},
): Promise<AblationRow[]> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const variants = opts.variants ?? ABLATION_VARIANTS;
  const seeds = reproSeeds(base);
  const wbar = await fullHeadMeanWeight(base);
  const rows: AblationRow[] = [];
  const chatir: Record<string, EvalOutput> = {};
  for (const b of BENCHMARKS) chatir[b] = await reproEval(base, b, "chatir");
  for (const v of variants) {
    const cfg = ablationConfig(base, v, v.fixedWeight ? wbar : undefined);
    const row: AblationRow = {
      id: v.id,
      label: v.fixedWeight ? `${v.label.replace("the full head's mean", `${wbar}`)}` : v.label,
      params: parameterCount({ ...v.model }),
      hits: {},
      degradation: [],
    };
    for (const s of seeds) {
      const t0 = performance.now();
      for (const b of BENCHMARKS) {
        const e = await reproEval(cfg, b, "adafuse", s);
        (row.hits[b] ??= []).push(ABLATION_ROUNDS.map((r) => _round(e, r)));
        if (b === "visdial") row.degradation.push(meanDegradation(e, chatir.visdial));
      }
      log(`ablate: ${v.id} seed ${s} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    rows.push(row);
  }
  for (const m of ["dar", "chatir"] as const) {
    const row: AblationRow = {
      id: m,
      label: m === "dar" ? "DAR (score fusion, no training)" : "ChatIR (text only)",
      params: 0,
      hits: {},
      degradation: [],
    };
    for (const b of BENCHMARKS) {
      const e = m === "chatir" ? chatir[b] : await reproEval(base, b, m);
      row.hits[b] = [ABLATION_ROUNDS.map((r) => _round(e, r))];
      if (b === "visdial" && m === "dar") row.degradation = [meanDegradation(e, chatir.visdial)];
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The ablation table: one row per variant and baseline, cumulative Hits@10 at rounds 0, 5, 10 on
 * each benchmark (mean ± sd over seeds), and the VisDial degradation rate.
 */
export function ablationTable(rows: AblationRow[]): Record<string, string | number>[] {
  return rows.map((row) => {
    const out: Record<string, string | number> = {
      head: row.label,
      params: row.params ? row.params.toLocaleString("en") : "–",
      seeds: row.params ? row.hits.visdial.length : "–",
    };
    for (const b of BENCHMARKS) {
      ABLATION_ROUNDS.forEach((r, i) => {
        out[`${BENCHMARK_LABELS[b]} r${r}`] = _ms(row.hits[b].map((s) => s[i]));
      });
    }
    out["VisDial degradation (%)"] = row.degradation.length ? _ms(row.degradation, 1) : "–";
    return out;
  });
}

/**
 * Figure 07: cumulative Hits@10 at the last of {@linkcode ABLATION_ROUNDS} per benchmark, as a dot
 * plot (mean over seeds, sd as an error bar): one dot per head, ChatIR and DAR as diamonds of their
 * own colours. Dots, not bars: the heads differ by tenths of a point near 85, which a bar from 0
 * would hide and a bar from 73 would misstate. The full head is drawn in ADaFuSE's colour;
 * `subtitle` (e.g. experiment.ts's `provenanceLabel`) goes under the title.
 */
export function ablationFigure(
  rows: AblationRow[],
  { subtitle }: { subtitle?: string } = {},
): FigureSpec {
  const last = ABLATION_ROUNDS.length - 1;
  const labels = BENCHMARKS.map((b) => BENCHMARK_LABELS[b]);
  // variants other than the full head; ADaFuSE's, DAR's and ChatIR's colours are kept for them
  const palette = ["#ff7f0e", "#2ca02c", "#8c564b", "#17becf", "#e377c2", "#bcbd22", "#7f7f7f"];
  const variants = rows.filter((r) => !["full", "dar", "chatir"].includes(r.id));
  const colour = (row: AblationRow) =>
    row.id === "full"
      ? METHOD_COLORS.adafuse
      : METHOD_COLORS[row.id] ?? palette[variants.indexOf(row) % palette.length];
  const ordered = [
    ...rows.filter((r) => r.id !== "dar" && r.id !== "chatir"),
    ...["dar", "chatir"].flatMap((m) => rows.filter((r) => r.id === m)),
  ];
  // deno-lint-ignore no-explicit-any
  const data: any[] = ordered.map((row) => {
    const stats = BENCHMARKS.map((b) => meanSd(row.hits[b].map((s) => s[last])));
    const baseline = row.id === "dar" || row.id === "chatir";
    return {
      type: "scatter",
      mode: "markers",
      name: row.label,
      x: labels,
      y: stats.map((s) => +s.mean.toFixed(3)),
      error_y: baseline
        ? undefined
        : { type: "data", array: stats.map((s) => +s.sd.toFixed(3)), visible: true },
      marker: {
        color: colour(row),
        size: 10,
        symbol: baseline ? "diamond" : "circle",
      },
    };
  });
  // each dot with its error bar
  const ends = data.flatMap((t) => {
    const sd: number[] = t.error_y?.array ?? [];
    return (t.y as number[]).flatMap((y, i) => [y - (sd[i] ?? 0), y + (sd[i] ?? 0)]);
  });
  const lo = Math.min(...ends), hi = Math.max(...ends);
  return {
    data,
    layout: {
      title: figureTitle(
        `Ablations: cumulative Hits@10 at round ${ABLATION_ROUNDS[last]}`,
        subtitle,
      ),
      scattermode: "group",
      xaxis: { type: "category" },
      // dots: the axis spans the data (a bar would need it from 0)
      yaxis: { title: { text: "Hits@10 (%)" }, range: [Math.floor(lo - 1), Math.ceil(hi + 1)] },
      legend: { orientation: "h", y: -0.2 },
      margin: { t: 80 },
    },
  };
}

/**
 * The closing table: the paper's VisDial numbers beside ours (ChatIR's published curve, ADaFuSE
 * minus DAR at rounds 0 and 10), then each ablation against the full head, for which the paper
 * publishes no number.
 */
export function ablationComparison(rows: AblationRow[]): ComparisonRow[] {
  const by = (id: string) => rows.find((r) => r.id === id);
  const at = (id: string, i: number) => (by(id)?.hits.visdial ?? []).map((s) => s[i]);
  const ref = paperReference().fig3_hits_at_10;
  const chat = ref.chatir_visdial_cumulative.value as number[];
  const out: ComparisonRow[] = [
    {
      quantity: `ChatIR, VisDial Hits@10 at rounds ${ABLATION_ROUNDS.join(", ")}`,
      paper: ABLATION_ROUNDS.map((r) => fmt(chat[r])).join(" / "),
      ours: ABLATION_ROUNDS.map((_, i) => fmt(at("chatir", i)[0])).join(" / "),
      holds: "–",
    },
  ];
  const dar = (i: number) => at("dar", i)[0];
  const last = ABLATION_ROUNDS.length - 1;
  for (
    const [i, key] of [[0, "adafuse_minus_dar_visdial_round0"], [
      last,
      "adafuse_minus_dar_visdial_round10",
    ]] as const
  ) {
    const d = at("full", i).map((v) => v - dar(i));
    out.push({
      quantity: `full head − DAR, VisDial Hits@10 at round ${ABLATION_ROUNDS[i]}`,
      paper: `+${fmt(ref[key].value as number)}`,
      ours: fmtSeeds(d, 2, true),
      holds: meanSd(d).mean > 0 ? "yes" : "no",
    });
  }
  const full = meanSd(at("full", last)).mean;
  for (const row of rows) {
    if (["full", "dar", "chatir"].includes(row.id)) continue;
    const d = at(row.id, last).map((v) => v - full);
    out.push({
      quantity: `${row.label} − full head, VisDial Hits@10 at round ${ABLATION_ROUNDS[last]}`,
      paper: "not published",
      ours: fmtSeeds(d, 2, true),
      holds: "–",
    });
  }
  return out;
}
