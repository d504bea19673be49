/**
 * The calibration report: every target, the published value, ours per data seed and whether it
 * is met ({@linkcode calibrationReport}), as JSON and as the Markdown of
 * `data/calibration/report.md` ({@linkcode reportMarkdown}), with the command that found the knobs.
 *
 * @module
 */
import type { SyntheticConfig } from "../data/synthetic/generator.ts";
import {
  CALIBRATION_TARGETS,
  calibrationObjective,
  type CalibrationStats,
  targetMiss,
  targetValues,
} from "./targets.ts";
import type { SearchStage } from "./search.ts";

/** One row of the report: a target, its published value and ours per data seed. */
export interface ReportRow {
  /** Target id. */
  id: string;
  /** What is measured. */
  label: string;
  /** The published number. */
  published: string;
  /** Where it is published. */
  source: string;
  /** Accepted interval `[lo, hi]` (null for an open end). */
  interval: [number | null, number | null];
  /** Our value per data seed. */
  values: Record<string, number>;
  /** Met on every seed. */
  met: boolean;
}

/** The calibration report: every target, our value per seed, and whether it is met. */
export interface CalibrationReport {
  /** The knob values chosen (the `default` preset). */
  knobs: Partial<SyntheticConfig>;
  /** Data seeds confirmed at full size. */
  seeds: number[];
  /** Dialogues per benchmark and corpus size of the confirmation. */
  dialogues: number;
  /** Corpus size of the confirmation. */
  corpusSize: number;
  /** Objective per seed. */
  objective: Record<string, number>;
  /** One row per target. */
  rows: ReportRow[];
  /** Targets met on every seed, and the total. */
  met: number;
  /** Number of targets. */
  total: number;
  /** The statistics per seed (the full curves). */
  stats: Record<string, CalibrationStats>;
  /** How the knobs were found, when a search ran (absent: the preset was only confirmed). */
  search?: SearchProvenance;
}

/** How a calibration search ran: enough to rerun it. */
export interface SearchProvenance {
  /** Evaluations of the text stage (0: none; the main search then moved every knob). */
  textEvaluations: number;
  /** Candidate evaluations. */
  evaluations: number;
  /** Dialogues per benchmark in each evaluation. */
  dialogues: number;
  /** Data seeds the search measured on. */
  dataSeeds: number[];
  /** Seed of the search's proposals. */
  searchSeed: number;
  /** The main search's stage, when not implied by `textEvaluations`. */
  stage?: SearchStage;
  /** Knobs held at a value set by a published statistic (`--pin`). */
  pins?: Partial<SyntheticConfig>;
}

/** Builds the report from the stats measured on each data seed. */
export function calibrationReport(
  knobs: Partial<SyntheticConfig>,
  statsBySeed: Record<string, CalibrationStats>,
  search?: SearchProvenance,
): CalibrationReport {
  const seeds = Object.keys(statsBySeed);
  const valsBySeed = Object.fromEntries(seeds.map((s) => [s, targetValues(statsBySeed[s])]));
  const rows: ReportRow[] = CALIBRATION_TARGETS.map((t, i) => {
    const values = Object.fromEntries(seeds.map((s) => [s, valsBySeed[s][i]]));
    return {
      id: t.id,
      label: t.label,
      published: t.published,
      source: t.source,
      interval: [Number.isFinite(t.lo) ? t.lo : null, Number.isFinite(t.hi) ? t.hi : null],
      values,
      met: seeds.every((s) => targetMiss(t, values[s]) === 0),
    };
  });
  const first = statsBySeed[seeds[0]];
  return {
    knobs,
    seeds: seeds.map(Number),
    dialogues: first.dialogues,
    corpusSize: first.corpusSize,
    objective: Object.fromEntries(seeds.map((s) => [s, calibrationObjective(valsBySeed[s])])),
    rows,
    met: rows.filter((r) => r.met).length,
    total: rows.length,
    stats: statsBySeed,
    ...(search ? { search } : {}),
  };
}

/** Targets met per data seed of the report (seed → count), from its rows and intervals. */
export function metBySeed(rep: Pick<CalibrationReport, "rows" | "seeds">): Record<string, number> {
  const miss = (r: ReportRow, v: number) =>
    targetMiss({ lo: r.interval[0] ?? -Infinity, hi: r.interval[1] ?? Infinity, scale: 1 }, v);
  return Object.fromEntries(
    rep.seeds.map((s) => [String(s), rep.rows.filter((r) => miss(r, r.values[s]) === 0).length]),
  );
}

/** {@linkcode metBySeed} in words: `41 on seed 1, 42 on seed 2`. */
export function metBySeedText(rep: Pick<CalibrationReport, "rows" | "seeds">): string {
  return Object.entries(metBySeed(rep)).map(([s, n]) => `${n} on seed ${s}`).join(", ");
}

function _fmt(v: number): string {
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(2);
}

function _searchLine(s: SearchProvenance, confirmSeeds: number[]): string {
  const cmd = [
    "deno task calibrate",
    ...(s.textEvaluations > 1 ? [`--text-evaluations ${s.textEvaluations}`] : []),
    `--evaluations ${s.evaluations}`,
    `--dialogues ${s.dialogues}`,
    `--data-seeds ${s.dataSeeds.join(",")}`,
    `--search-seed ${s.searchSeed}`,
    ...(s.stage ? [`--stage ${s.stage}`] : []),
    ...(s.pins && Object.keys(s.pins).length
      ? [`--pin ${Object.entries(s.pins).map(([k, v]) => `${k}=${v}`).join(",")}`]
      : []),
    `--confirm-seeds ${confirmSeeds.join(",")}`,
  ].join(" ");
  return `Found by \`${cmd}\`: the search measured data seeds ${s.dataSeeds.join(", ")}, ` +
    `the confirmation the seeds below.`;
}

/** The report as a Markdown table (every target, published, interval, ours per seed, met). */
export function reportMarkdown(rep: CalibrationReport): string {
  const seeds = Object.keys(rep.rows[0]?.values ?? {});
  const lines = [
    `# Calibration of the synthetic stand-in to the baselines' published numbers`,
    "",
    `Met on every seed: **${rep.met} of ${rep.total}** targets (data seeds ${
      rep.seeds.join(", ")
    }; ${rep.dialogues} dialogues per benchmark; corpus ${rep.corpusSize}); per seed: ${
      metBySeedText(rep)
    }.`,
    "",
    ...(rep.search ? [_searchLine(rep.search, rep.seeds), ""] : []),
    (rep.search?.pins && Object.keys(rep.search.pins).length
      ? `Chosen knobs (with ${
        Object.entries(rep.search.pins).map(([k, v]) => `\`${k}\` held at ${v}`).join(", ")
      }; a study, not the \`default\` preset): `
      : "Chosen knobs (the `default` preset): ") +
    Object.entries(rep.knobs).map(([k, v]) => `\`${k}\` ${v}`).join(", ") + ".",
    "",
    `| target | published | source | interval | ${
      seeds.map((s) => `seed ${s}`).join(" | ")
    } | met |`,
    `|---|---|---|---|${seeds.map(() => "---:").join("|")}|---|`,
  ];
  for (const r of rep.rows) {
    const iv = `${r.interval[0] ?? "−∞"} .. ${r.interval[1] ?? "+∞"}`;
    lines.push(
      `| ${r.label} | ${r.published} | ${r.source} | ${iv} | ${
        seeds.map((s) => _fmt(r.values[s])).join(" | ")
      } | ${r.met ? "yes" : "**no**"} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
