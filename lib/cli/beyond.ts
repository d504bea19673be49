/**
 * `deno task ablate|robustness|detector|cases [--preset P] [--data-seed N] [--train-seeds A,B,…]
 * [--train-preset NAME] [--set key=value…]` (cases also `[--index N] [--find FILTER]`)
 *
 * The studies beyond the paper, from a shell; each is also a notebook (07-10) that calls the same
 * functions of lib/paper/. Every step is cached like the reproduction's (bundles, training runs,
 * evaluations), so a stopped study continues where it stopped, and the notebook of a study that
 * ran here only draws. Each writes its figure to `figures/` and prints its tables.
 *
 * - `ablate`: the head's variants (lib/paper/ablations.ts), 3 training seeds by default;
 * - `robustness`: the landscape over the generator's failure knobs (lib/paper/robustness.ts);
 * - `detector`: the gate as a detector of off-scene generations (lib/paper/gate_detector.ts);
 * - `cases`: the case explorer (lib/paper/cases.ts): `--index N` prints one dialogue,
 *   `--find darDrop[:ROUND]|adafuseGain[:ROUND]|adafuseLoss[:ROUND]` the first one a filter finds;
 * - `regime`: why retrieval falls as the head trains longer (lib/paper/regime.ts): the negatives
 *   sweep, the selection and held-out galleries, the gate's learning, and the stand-in's geometry
 *   beside published statistics of real encoders (lib/eval/geometry.ts).
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import { saveFigure } from "../show/figures.ts";
import { closePage } from "../show/chromium.ts";
import { type TableLike, tableMarkdown } from "../show/tables.ts";
import {
  ablationComparison,
  ablationFigure,
  ablationTable,
  runAblations,
} from "../paper/ablations.ts";
import {
  robustnessComparison,
  robustnessFigure,
  robustnessTable,
  runRobustness,
} from "../paper/robustness.ts";
import {
  detectorComparison,
  detectorFigure,
  detectorTable,
  runDetector,
} from "../paper/gate_detector.ts";
import {
  type CaseFilter,
  caseOf,
  casesFigure,
  caseTable,
  findCases,
  instructiveCases,
  loadCases,
} from "../paper/cases.ts";
import {
  geometryComparison,
  publishedGeometry,
  regimeComparison,
  regimeDar,
  regimeEpochTable,
  regimeFigure,
  regimeTable,
  runRegime,
} from "../paper/regime.ts";
import { reproData } from "../paper/pipeline.ts";
import { provenanceLabel } from "../paper/experiment.ts";
import {
  probeComparison,
  probeFigure,
  probeSettings,
  probeTable,
  RECALIBRATION_REPORT_PATH,
  recalibrationProbe,
} from "../paper/regime_recalibration.ts";
import { calibrationSummary, readCalibrationReport } from "../paper/fig5_calibration.ts";
import { loadBundle } from "../data/bundle.ts";
import { embeddingGeometry } from "../eval/geometry.ts";
import { parseArgs, RENAMED_SEED_OPTIONS } from "./_args.ts";
import { REPRO_CONFIG_OPTIONS, reproConfigFromArgs } from "./repro.ts";

/** The studies and the figure each writes. */
export const STUDIES: Readonly<Record<string, string>> = Object.freeze({
  ablate: "07_ablations",
  robustness: "08_robustness",
  cases: "09_cases",
  detector: "10_gate_detector",
  regime: "12_training_regime",
  geometry: "13_published_geometry",
});

const _usage = (study: string) =>
  `usage: deno task ${study} [--preset P] [--data-seed N] [--train-seeds A,B,...] ` +
  `[--train-preset NAME] ` +
  `[--set key=value ...]${study === "cases" ? " [--index N] [--find darDrop[:ROUND]]" : ""}`;

/** Parses a `--find` value (`darDrop`, `adafuseGain:10`, …) into a filter. */
export function parseCaseFilter(text: string): CaseFilter {
  const [by, round] = text.split(":");
  if (!["darDrop", "adafuseGain", "adafuseLoss"].includes(by)) {
    throw new Error(`--find '${text}': use darDrop, adafuseGain or adafuseLoss, e.g. darDrop:3`);
  }
  if (round !== undefined && !/^\d+$/.test(round)) {
    throw new Error(`--find '${text}': the round after ':' must be a number, e.g. darDrop:3`);
  }
  return { by, round: round === undefined ? undefined : Number(round) } as CaseFilter;
}

/**
 * Runs one study on `argv`; returns the exit code.
 *
 * @param study one of {@linkcode STUDIES}'s keys.
 */
export async function main(study: string, argv: string[]): Promise<number> {
  if (!(study in STUDIES)) {
    throw new Error(`study '${study}' is unknown; use one of ${Object.keys(STUDIES).join(", ")}`);
  }
  const a = parseArgs(argv, {
    options: [
      ...REPRO_CONFIG_OPTIONS,
      ...RENAMED_SEED_OPTIONS,
      ...(study === "cases" ? ["index", "find"] : []),
    ],
    repeated: ["set"],
    usage: _usage(study),
  });
  if (a.help) {
    console.log(_usage(study));
    return 0;
  }
  // the ablations and the detector use every training seed; the landscape and the cases the first
  const config = reproConfigFromArgs(a);
  const print = (title: string, rows: TableLike) =>
    console.log(`\n## ${title}\n\n${tableMarkdown(rows)}`);
  await initBackend();
  const t0 = performance.now();
  const fig = STUDIES[study];
  try {
    if (study === "ablate") {
      const rows = await runAblations(config);
      print("Ablations: cumulative Hits@10 (mean ± sd over seeds)", ablationTable(rows));
      print("The paper's numbers beside ours", ablationComparison(rows));
      await saveFigure(ablationFigure(rows, { subtitle: provenanceLabel(config) }), fig);
    } else if (study === "robustness") {
      const res = await runRobustness(config);
      print("Robustness landscape (VisDial)", robustnessTable(res));
      print("The paper's numbers beside ours", robustnessComparison(res));
      // one head per cell: the first training seed's
      const subtitle = provenanceLabel({ ...config, trainSeeds: config.trainSeeds.slice(0, 1) });
      await saveFigure(robustnessFigure(res, { subtitle }), fig, {
        width: 1300,
        height: 520,
      });
    } else if (study === "detector") {
      const res = await runDetector(config);
      print(
        "AUC per round (off-scene generations; mean ± sd over seeds)",
        detectorTable(res.rounds),
      );
      print("The paper's numbers beside ours", detectorComparison(res.rounds, res.drops));
      await saveFigure(detectorFigure(res.rounds, { subtitle: provenanceLabel(config) }), fig, {
        width: 1200,
        height: 520,
      });
    } else if (study === "regime") {
      const data = await reproData(config);
      const bundle = await loadBundle(data, { splits: ["visdial"] });
      print(
        "The stand-in's geometry beside published statistics of real encoders",
        geometryComparison(await embeddingGeometry(bundle), await publishedGeometry()),
      );
      const runs = await runRegime(config);
      const dar = await regimeDar(config);
      print(
        "Negatives sweep (VisDial; Δ = ADaFuSE − DAR, cumulative Hits@10)",
        regimeTable(runs, dar),
      );
      for (const r of runs) print(`Validations of ${r.id} seed ${r.seed}`, regimeEpochTable(r));
      print("The paper's numbers beside ours", regimeComparison(runs, dar));
      const subtitle = provenanceLabel({
        ...config,
        trainSeeds: [...new Set(runs.map((r) => r.seed))],
      });
      const title = "Training regime on the stand-in: negatives, galleries and the gate";
      await saveFigure(regimeFigure(runs, title, { subtitle }), fig, {
        width: 1200,
        height: 760,
      });
    } else if (study === "geometry") {
      const report = await readCalibrationReport(RECALIBRATION_REPORT_PATH);
      console.log(
        `\nThe generator searched at the published text gap: ${calibrationSummary(report)}`,
      );
      const rows = await recalibrationProbe(probeSettings(report), { log: console.error });
      print("DAR against ChatIR under four generators (VisDial, data seed 1)", probeTable(rows));
      print("The paper's numbers beside ours", probeComparison(rows));
      await saveFigure(probeFigure(rows, "DAR at the published text geometry"), fig, {
        width: 1200,
        height: 560,
      });
    } else {
      const { evals, latent } = await loadCases(config);
      const cases = instructiveCases(evals, latent);
      print(
        "The most instructive dialogues",
        cases.map((c) => ({ dialogue: c.index, why: c.why, hard: c.hard ? "yes" : "" })),
      );
      if (a.options.index !== undefined) {
        const i = Number(a.options.index);
        if (!/^\d+$/.test(a.options.index)) {
          throw new Error(`--index '${a.options.index}' must be a dialogue number, e.g. --index 7`);
        }
        print(`Dialogue ${i}`, caseTable(caseOf(evals, latent, i)));
      }
      if (a.options.find !== undefined) {
        const [c] = findCases(evals, latent, parseCaseFilter(a.options.find));
        print(`Dialogue ${c.index} (${c.why})`, caseTable(c));
      }
      const subtitle = provenanceLabel({ ...config, trainSeeds: config.trainSeeds.slice(0, 1) });
      await saveFigure(casesFigure(cases, "visdial", { subtitle }), fig, { height: 700 });
    }
  } finally {
    await closePage();
  }
  console.error(
    `${study}: done in ${((performance.now() - t0) / 60000).toFixed(1)} min; ` +
      `figures/${fig}.{svg,png,html}`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args[0] ?? "", Deno.args.slice(1)));
  } catch (e) {
    console.error(`${Deno.args[0] ?? "beyond"}: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
