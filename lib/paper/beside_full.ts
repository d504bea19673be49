/**
 * The `repro` preset beside the paper's full recipe (50 epochs, batch 128 × 16): the same data
 * seed and training seed trained both ways, each evaluated on the four benchmarks, with DAR
 * beside them. It answers which verdicts of the figures (made with `repro`, to fit the time here)
 * the full recipe shares. The full recipe is long (over an hour a seed here); its run is cached
 * and resumes where it stopped, like every run of the pipeline.
 *
 * @module
 */
import { BENCHMARKS } from "../data/benchmarks.ts";
import { reproEval, reproTrain } from "./pipeline.ts";
import type { ReproConfig } from "./experiment.ts";
import type { EvalOutput } from "../eval/evaluate.ts";
import { RunDir } from "../train/run_dir.ts";
import type { EvalRecord } from "../train/data.ts";
import { tableMarkdown } from "../show/tables.ts";

/** One benchmark and round: DAR, then ADaFuSE per preset (cumulative Hits@10, percent). */
export interface BesideFullRow {
  /** Benchmark. */
  benchmark: string;
  /** 0-based round. */
  round: number;
  /** DAR. */
  dar: number;
  /** ADaFuSE per training preset (the head selected on validation). */
  adafuse: Record<string, number>;
  /** ADaFuSE per training preset, the head after the last epoch. */
  last: Record<string, number>;
}

/** A preset's run as its validations saw it. */
export interface BesideFullRun {
  /** Epochs trained. */
  epochs: number;
  /** Updates made. */
  steps: number;
  /** The epoch (1-based) whose head validation selected. */
  bestEpoch: number;
  /** Every validation, in order (the last one is after the last epoch). */
  validations: EvalRecord[];
}

/** What {@linkcode besideFull} measures. */
export interface BesideFull {
  /** The training seed. */
  seed: number;
  /** The presets, in order. */
  presets: string[];
  /** Rounds 0 and last of every benchmark. */
  rows: BesideFullRow[];
  /** Each preset's run: epochs, the selected epoch, its first and last validations. */
  runs: Record<string, BesideFullRun>;
}

function _hits10(e: EvalOutput, round: number): number {
  return e.hits["10"].cumulative[round];
}

/**
 * Evaluates DAR and ADaFuSE trained with each of `presets` (default `repro` and `full`) and
 * `seed` on every benchmark (training first where no finished run is cached).
 */
export async function besideFull(
  config: Partial<ReproConfig>,
  seed = 0,
  presets: string[] = ["repro", "full"],
  log: (s: string) => void = () => {},
): Promise<BesideFull> {
  const rows: BesideFullRow[] = [];
  const runs: Record<string, BesideFullRun> = {};
  for (const p of presets) {
    const run = await reproTrain({ ...config, trainPreset: p, trainSeeds: [seed] }, { seed });
    const st = await new RunDir(run.dir).state();
    const h = st?.history ?? [];
    if (!st || h.length === 0) throw new Error(`${run.dir}: no validation recorded; retrain it`);
    runs[p] = {
      epochs: st.epochsDone,
      steps: st.step,
      bestEpoch: st.bestEpoch + 1,
      validations: h,
    };
  }
  for (const b of BENCHMARKS) {
    const dar = await reproEval(config, b, "dar");
    const ours: Record<string, EvalOutput> = {};
    const last: Record<string, EvalOutput> = {};
    for (const p of presets) {
      log(`beside-full: ${p}, ${b}…`);
      const c = { ...config, trainPreset: p, trainSeeds: [seed] };
      ours[p] = await reproEval(c, b, "adafuse", seed);
      last[p] = await reproEval(c, b, "adafuse", seed, "last");
    }
    for (const round of [0, dar.rounds - 1]) {
      rows.push({
        benchmark: b,
        round,
        dar: _hits10(dar, round),
        adafuse: Object.fromEntries(presets.map((p) => [p, _hits10(ours[p], round)])),
        last: Object.fromEntries(presets.map((p) => [p, _hits10(last[p], round)])),
      });
    }
  }
  return { seed, presets, rows, runs };
}

/** The comparison as table rows: Hits@10 and ADaFuSE − DAR per preset, selected and last head. */
export function besideFullTable(r: BesideFull): Record<string, string | number>[] {
  return r.rows.map((x) => {
    const row: Record<string, string | number> = {
      benchmark: x.benchmark,
      round: x.round,
      DAR: x.dar,
    };
    for (const p of r.presets) {
      row[`Δ ${p}, selected`] = x.adafuse[p] - x.dar;
      row[`Δ ${p}, last`] = x.last[p] - x.dar;
    }
    return row;
  });
}

/** Each preset's run: epochs, updates, the selected epoch and the gate there and at the end. */
export function besideFullRuns(r: BesideFull): Record<string, string | number>[] {
  const pct = (v: number | null | undefined) => v == null ? "–" : (100 * v).toFixed(1);
  const num = (v: number | null | undefined) => v == null ? "–" : v.toFixed(2);
  return r.presets.map((p) => {
    const x = r.runs[p];
    const best = x.validations.find((e) => e.epoch + 1 === x.bestEpoch) ?? x.validations.at(-1)!;
    const last = x.validations.at(-1)!;
    // one validation quantity at the selected epoch and after the last one
    const pair = (f: (e: EvalRecord) => string) => `${f(best)} → ${f(last)}`;
    return {
      recipe: p,
      epochs: x.epochs,
      updates: x.steps,
      "selected epoch": x.bestEpoch,
      "val Hits@10 mean, selected → last": pair((e) => pct(e.valMetric)),
      "held-out gallery, selected → last": pair((e) => pct(e.heldOutMetric)),
      "image weight (%), selected → last": pair((e) => pct(e.gate?.mean)),
      "gate slope vs cos(t, g), selected → last": pair((e) => num(e.gate?.slope)),
      "off-scene AUC, selected → last": pair((e) => num(e.gate?.auc)),
    };
  });
}

/** `preset`'s validations every `every` epochs (and the first, the selected and the last). */
export function besideFullEpochs(
  r: BesideFull,
  preset: string,
  every = 5,
): Record<string, string | number>[] {
  const x = r.runs[preset];
  const n = x.validations.length;
  return x.validations.filter((e, i) =>
    i === 0 || i === n - 1 || (e.epoch + 1) % every === 0 || e.epoch + 1 === x.bestEpoch
  ).map((e) => ({
    epoch: e.epoch + 1,
    "val mean Hits@10": (100 * e.valMetric).toFixed(2),
    "held-out gallery": e.heldOutMetric == null ? "–" : (100 * e.heldOutMetric).toFixed(2),
    "image weight": e.gate ? `${(100 * e.gate.mean).toFixed(1)}%` : "–",
    "slope vs cos(t, g)": e.gate ? e.gate.slope.toFixed(3) : "–",
    "off-scene AUC": e.gate?.auc == null ? "–" : e.gate.auc.toFixed(3),
  }));
}

/** The markers of the generated block in README.md and docs/results.md. */
export const BESIDE_FULL_MARKERS = [
  "<!-- beside-full:start -->",
  "<!-- beside-full:end -->",
] as const;

/**
 * The block `deno task beside-full` writes: the runs and ADaFuSE − DAR with the selected and the
 * last head; `full` adds every benchmark (else VisDial alone), the held-out gallery and the last
 * preset's validations every 5 epochs (docs/results.md; the README gets the short form).
 */
export function besideFullMarkdown(r: BesideFull, full = false): string {
  const last = r.presets[r.presets.length - 1];
  const runs = besideFullRuns(r).map((row) =>
    full ? row : Object.fromEntries(
      Object.entries(row).filter(([k]) => !/^(epochs|held-out|val Hits)/.test(k)),
    )
  );
  const rows = besideFullTable(r).filter((row) => full || row.benchmark === "visdial");
  return [
    `Training seed ${r.seed}, data seed of the figures; written by \`deno task beside-full\`.`,
    "",
    tableMarkdown(runs),
    "",
    `ADaFuSE − DAR, cumulative Hits@10 (points${full ? "" : ", VisDial"}), with the head ` +
    "selected on validation and the head after the last epoch:",
    "",
    tableMarkdown(rows),
    ...(full
      ? ["", `The \`${last}\` run's validations:`, "", tableMarkdown(besideFullEpochs(r, last))]
      : []),
  ].join("\n");
}
