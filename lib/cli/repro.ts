/**
 * `deno task repro [--preset default|small] [--data-seed N] [--train-seeds A,B,…] [--data DIR]
 * [--train-preset NAME] [--set key=value…] [--no-notebooks] [--notebooks-out DIR] [--all]`
 *
 * Reproduces every figure: the data bundle, ChatIR and DAR on the four benchmarks, the trained
 * head, ADaFuSE on the four benchmarks, the gate samples, with `--all` the studies beyond the
 * paper (ablations, robustness landscape, training regime, the published text geometry; synthetic
 * data only), then every notebook (which find all of it cached and draw the figures into
 * `figures/`). Each step is cached, so a stopped run continues where it stopped.
 * `--notebooks-out DIR` writes the executed notebooks there instead of in place. `--train-seeds
 * 0,1,2` trains and evaluates the head once per training seed (the data are those of
 * `--data-seed`); what is not given is lib/paper/experiment.ts's default.
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import {
  releaseReproData,
  reproData,
  reproEval,
  reproGate,
  reproSeedRuns,
  reproTrain,
} from "../paper/pipeline.ts";
import { REPRO_DEFAULTS, type ReproConfig, reproConfig, reproSeeds } from "../paper/experiment.ts";
import { BENCHMARKS } from "../data/benchmarks.ts";
import { trainOverridesFromSets } from "../train/config.ts";
import { FIGURES_DIR, NOTEBOOKS_DIR, ROOT } from "../runtime/paths.ts";
import { renderReport, writeReport } from "../show/report.ts";
import { trainingProgress } from "../show/progress.ts";
import {
  checkRenamedOptions,
  parseArgs,
  type ParsedArgs,
  RENAMED_SEED_OPTIONS,
  trainSeedsOption,
} from "./_args.ts";
import { runNotebooks } from "./notebooks.ts";
import { runAblations } from "../paper/ablations.ts";
import { runRobustness } from "../paper/robustness.ts";
import { runRegime } from "../paper/regime.ts";

const _USAGE = "usage: deno task repro [--preset default|small] [--data-seed N] " +
  "[--train-seeds A,B,...] [--data DIR] [--train-preset NAME] [--set key=value ...] " +
  "[--no-notebooks] [--notebooks-out DIR] [--all]";

/** The options every command that takes a reproduction config accepts. */
export const REPRO_CONFIG_OPTIONS: readonly string[] = [
  "preset",
  "data-seed",
  "train-seeds",
  "data",
  "train-preset",
];

/**
 * The reproduction config of parsed arguments ({@linkcode REPRO_CONFIG_OPTIONS} and repeated
 * `--set`); what is not given is lib/paper/experiment.ts's default.
 */
export function reproConfigFromArgs(a: ParsedArgs): ReproConfig {
  checkRenamedOptions(a);
  const dataSeed = a.options["data-seed"] === undefined
    ? REPRO_DEFAULTS.dataSeed
    : Number(a.options["data-seed"]);
  if (!Number.isInteger(dataSeed)) {
    throw new Error(`--data-seed '${a.options["data-seed"]}' must be an integer`);
  }
  const trainSeeds = trainSeedsOption(a);
  // checked, but not resolved: the gate seed stays derived from the data seed of any copy
  const { gateSeed: _derived, ...config } = reproConfig({
    dataSeed,
    trainSeeds: trainSeeds ?? [...REPRO_DEFAULTS.trainSeeds],
    dataPreset: a.options.preset ?? REPRO_DEFAULTS.dataPreset,
    ...(a.options.data === undefined ? {} : { data: a.options.data }),
    trainPreset: a.options["train-preset"] ?? REPRO_DEFAULTS.trainPreset,
    overrides: trainOverridesFromSets(a.repeated.set ?? []),
  });
  return config;
}

/**
 * The `--param` assignments that make a notebook's config cell say `config`: none for
 * lib/paper/experiment.ts's default (the config the figure notebooks' cells hold), so that
 * `npm run repro` executes them as written; one per field that differs otherwise (the runner
 * writes them into the config cell, in the cell's order).
 */
export function notebookParams(config: Partial<ReproConfig>): string[] {
  const given = reproConfig(config) as unknown as Record<string, unknown>;
  const cell = { ...REPRO_DEFAULTS, data: undefined } as unknown as Record<string, unknown>;
  return Object.keys(cell)
    .filter((k) => JSON.stringify(given[k]) !== JSON.stringify(cell[k]))
    .map((k) => `config.${k}=${JSON.stringify(given[k])}`);
}

/** Parses the command line into a reproduction config. */
export function parseReproArgs(
  argv: string[],
): { config: ReproConfig; notebooks: boolean; notebooksOut?: string; beyond: boolean } {
  const a = parseArgs(argv, {
    options: [...REPRO_CONFIG_OPTIONS, ...RENAMED_SEED_OPTIONS, "notebooks-out"],
    repeated: ["set"],
    // --paper-only is the default now; still accepted, so older command lines keep working
    flags: ["no-notebooks", "all", "paper-only"],
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  return {
    config: reproConfigFromArgs(a),
    notebooks: !a.flags["no-notebooks"],
    notebooksOut: a.options["notebooks-out"],
    beyond: a.flags.all && !a.flags["paper-only"],
  };
}

/** One step of {@linkcode runRepro}: its kind (what the time summary sums by), name and seconds. */
export interface ReproStep {
  /** What kind of work it is: `data`, `baselines`, `training`, `ADaFuSE evaluations`, …. */
  kind: string;
  /** The step, as its progress line names it. */
  name: string;
  /** Its wall time. */
  seconds: number;
}

/**
 * Runs every step; returns them with the seconds each took. With `beyond` (`--all`) the studies
 * beyond the paper run too (ablations, the robustness landscape, the training regime, the published text
 * geometry; notebooks 07-10, 12 and 13); on synthetic data only, since they need its latent
 * truths or regenerate it.
 */
export async function runRepro(
  config: ReproConfig,
  notebooks = true,
  notebooksOut?: string,
  beyond = false,
): Promise<ReproStep[]> {
  beyond = beyond && !config.data;
  const steps: ReproStep[] = [];
  const step = async <T>(kind: string, name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    console.error(`repro: ${name}…`);
    const r = await fn();
    const seconds = (performance.now() - t0) / 1000;
    steps.push({ kind, name, seconds });
    console.error(`repro: ${name} done in ${seconds.toFixed(1)} s`);
    return r;
  };
  const info = await initBackend();
  console.error(`repro: backend ${info.name} (${info.device})`);
  await step("data", "data", () => reproData(config));
  for (const b of BENCHMARKS) {
    for (const m of ["chatir", "dar"] as const) {
      await step("baselines", `eval ${m} ${b}`, () => reproEval(config, b, m));
    }
  }
  const seeds = reproSeeds(config);
  for (const s of seeds) {
    const tag = seeds.length > 1 ? ` (training seed ${s})` : "";
    const bar = trainingProgress(`train${tag}`);
    await step("training", `train${tag}`, async () => {
      const run = await reproTrain(config, { seed: s, ...(bar.bar.mode === "tty" ? bar : {}) });
      await bar.finish();
      return run;
    });
    for (const b of BENCHMARKS) {
      await step(
        "ADaFuSE evaluations",
        `eval adafuse ${b}${tag}`,
        () => reproEval(config, b, "adafuse", s),
      );
    }
    await step(
      "gate samples",
      `gate samples${tag}`,
      () => reproGate(config, undefined, undefined, s),
    );
  }
  releaseReproData();
  if (beyond) {
    await step("beyond the paper", "ablations", () => runAblations(config));
    await step("beyond the paper", "robustness landscape", () => runRobustness(config));
    await step("beyond the paper", "training regime", () => runRegime(config));
  }
  if (notebooks) {
    const params = notebookParams(config);
    // 00 and 02 take no data config; the figure notebooks, 05 (calibration) and 06 (training)
    // hold the default config in their config cells and get `params` only for what differs (so
    // that they show the runs the steps above made); 12 takes the data from it (its runs' recipes
    // and seeds are its own)
    await step("notebooks", "notebooks", async () => {
      await runNotebooks({ names: ["00", "02"], outDir: notebooksOut });
      await runNotebooks({
        names: ["01", "03", "04", "05"],
        params,
        outDir: notebooksOut,
      });
      await runNotebooks({ names: ["06"], params, outDir: notebooksOut });
      if (beyond) {
        await runNotebooks({ names: ["07", "08", "09", "10"], params, outDir: notebooksOut });
        // 12's runs take their training seeds from REGIME_PLAN: its config cell has no trainSeeds
        const p12 = params.filter((p) => !p.startsWith("config.trainSeeds="));
        await runNotebooks({ names: ["12"], params: p12, outDir: notebooksOut });
        // 13 probes the baselines on data seeds of its own (no training, no data config)
        await runNotebooks({ names: ["13"], outDir: notebooksOut });
      }
    });
    await step("report", "report", async () => {
      const runs = await reproSeedRuns(config);
      const rep = await writeReport({
        notebooksDir: notebooksOut ?? NOTEBOOKS_DIR,
        // the README's verdict block follows the notebooks it was made from
        ...(notebooksOut ? {} : { readme: `${ROOT}/README.md` }),
        settings: {
          "data": config.data ?? `synthetic, preset ${config.dataPreset}`,
          "data seed": config.dataSeed,
          "training seeds": runs.map((r) => r.seed),
          "training preset": config.trainPreset,
          "training overrides": config.overrides,
          "training runs": runs.map((r) => r.dir.replace(/^.*\//, "")),
          "backend": `${info.name} (${info.device})`,
        },
      });
      const drawn = await renderReport(rep.html, `${FIGURES_DIR}/index.png`);
      const blank = drawn.filter((f) => f.marks === 0).map((f) => f.name);
      if (blank.length) throw new Error(`${rep.html}: blank figures ${blank.join(", ")}`);
      console.error(`repro: ${rep.html} and ${rep.markdown}: ${drawn.length} figures`);
    });
  }
  return steps;
}

/**
 * Where a reproduction's time went, one line: the seconds of {@linkcode runRepro}'s steps summed
 * by kind, in minutes, in the order the kinds first ran, with how many steps each kind had.
 */
export function reproTimeSummary(steps: readonly ReproStep[]): string {
  const byKind = new Map<string, { seconds: number; count: number }>();
  for (const { kind, seconds } of steps) {
    const k = byKind.get(kind) ?? { seconds: 0, count: 0 };
    byKind.set(kind, { seconds: k.seconds + seconds, count: k.count + 1 });
  }
  const parts = [...byKind].map(([kind, { seconds, count }]) =>
    `${kind} ${(seconds / 60).toFixed(1)}${count > 1 ? ` (${count} steps)` : ""}`
  );
  return `time by step (min): ${parts.join(" · ")}`;
}

if (import.meta.main) {
  try {
    const { config, notebooks, notebooksOut, beyond } = parseReproArgs(Deno.args);
    const steps = await runRepro(config, notebooks, notebooksOut, beyond);
    const total = steps.reduce((s, v) => s + v.seconds, 0);
    console.error(`repro: ${reproTimeSummary(steps)}`);
    console.error(`repro: all done in ${(total / 60).toFixed(1)} min; figures are in figures/`);
  } catch (e) {
    console.error(`repro: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
