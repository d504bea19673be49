/**
 * ADaFuSE notebooks: the notebooks' façade of the shared library. Notebooks import everything
 * from here (`import * as lib from "../lib/mod.ts"`); it holds only what they use, with the
 * types they need. Everything else is imported from its stage folder (README, "What is in it").
 *
 * This file sits above every stage and may import any of them except cli/.
 *
 * @module
 */
/** arquero, for tables in notebooks. */
export * as aq from "arquero";

// runtime: the backend, seeded randomness, unit rows
export { type BackendName, initBackend } from "./runtime/backend.ts";
export { Rng } from "./runtime/rng.ts";
export { normalizeRows } from "./runtime/rows.ts";

// data: the benchmarks
export {
  BENCHMARK_LABELS,
  type BenchmarkName,
  BENCHMARKS,
  /** The four benchmarks of Figure 3 in the paper's panel order (the same list as BENCHMARKS). */
  BENCHMARKS as PAPER_BENCHMARKS,
} from "./data/benchmarks.ts";

// model: the head, its size, the backend demo
export {
  BLIP_BASE_PARAMS,
  DEFAULT_FUSION_CONFIG,
  type FusionConfig,
  parameterCount,
  parameterShare,
  parameterTable,
} from "./model/config.ts";
export { FusionHead } from "./model/fusion_head.ts";
export { fitDenseDemo } from "./model/demo.ts";

// eval: results and paired statistics
export type { EvalMethod, EvalOutput } from "./eval/evaluate.ts";
export { pairedBootstrap, pairedMcNemar } from "./eval/stats.ts";

// show: figures and tables in a notebook
export { closeFigures, type FigureSpec, saveFigure } from "./show/figures.ts";
export { showTable } from "./show/tables.ts";

// paper: the cached pipeline, each figure's series and spec, paper-vs-ours tables
export {
  darMeanImageWeight,
  degradationSeries,
  type GateSamples,
  rankTable,
  REPRO_DEFAULTS,
  type ReproConfig,
  reproData,
  reproEval,
  reproGate,
  reproTrain,
  type TrainedRun,
} from "./paper/pipeline.ts";
export {
  architectureFigure,
  degradationFigure,
  type DegradationSeries,
  gateFigure,
  hitsFigure,
  type RankTable,
} from "./paper/figures.ts";
export {
  type ComparisonRow,
  fig1Comparison,
  fig2Comparison,
  fig3Comparison,
  fig4Comparison,
  type PaperReference,
  paperReference,
} from "./paper/tables.ts";
