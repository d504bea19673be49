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
export { type BackendInfo, type BackendName, initBackend } from "./runtime/backend.ts";
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
  type FusionVariant,
  type ParamBlock,
  parameterCount,
  parameterShare,
  parameterTable,
} from "./model/config.ts";
export {
  type ApplyOptions,
  type FusedArrays,
  FusionHead,
  type FusionOutput,
  type StateDict,
  type StateTensor,
} from "./model/fusion_head.ts";
export { type DenseDemoConfig, type DenseDemoResult, fitDenseDemo } from "./model/demo.ts";

// eval: results and paired statistics
export type { EvalMethod, EvalOutput } from "./eval/evaluate.ts";
export type { BaselineName } from "./eval/baselines.ts";
// train: the types of a reproduction's `trainSet`
export type { TrainConfig, TrainEngine, TrainModelConfig, TrainOverrides } from "./train/config.ts";
export {
  type BootstrapOptions,
  bootstrapSlope,
  type DiffCI,
  type McNemarResult,
  pairedBootstrap,
  pairedMcNemar,
  type PairedOptions,
  type SlopeCI,
} from "./eval/stats.ts";

// eval: the metric, computed in view
export { hitsCumulative } from "./eval/metrics.ts";

// show: figures and tables in a notebook
export {
  closeFigures,
  type FigureFiles,
  type FigureSize,
  type FigureSpec,
  type SavedFigure,
  saveFigure,
} from "./show/figures.ts";
export { showTable, type TableLike } from "./show/tables.ts";
export {
  bundleSummary,
  dataFigure,
  hitsTable,
  type SplitCosines,
  splitCosines,
  type SplitSummary,
} from "./show/data_view.ts";
export { type TrainingProgress, trainingProgress } from "./show/progress.ts";
export {
  gateLearningFigure,
  gateRouterFigure,
  readTrainLog,
  trainingCurvesFigure,
  trainingTable,
  type TrainLog,
} from "./show/training_view.ts";

// paper: the cached pipeline, each figure's series and spec, paper-vs-ours tables
export {
  darMeanImageWeight,
  degradationSeries,
  type GateSamples,
  provenanceLabel,
  rankTable,
  REPRO_DEFAULTS,
  type ReproConfig,
  reproData,
  reproEval,
  reproEvalSeeds,
  reproGate,
  reproSeedRuns,
  reproSeeds,
  reproTrain,
  type ReproTrainOptions,
  type SeedEval,
  trainConfigOf,
  type TrainedRun,
} from "./paper/pipeline.ts";
export { trainingComparison } from "./paper/training.ts";
export {
  degradationFigure,
  type DegradationSeries,
  fig1Comparison,
} from "./paper/fig1_degradation.ts";
export { architectureFigure, fig2Comparison } from "./paper/fig2_architecture.ts";
export { type AdaMinusDar, fig3Comparison, hitsFigure } from "./paper/fig3_hits.ts";
export { fig4Comparison, gateFigure, type Trend } from "./paper/fig4_gate.ts";
export {
  calibrationFigure,
  calibrationSummary,
  calibrationTable,
  darDegradationTable,
  missedTargets,
  readCalibrationReport,
  targetGroups,
} from "./paper/fig5_calibration.ts";
export {
  type ComparisonRow,
  meanOverSeeds,
  meanSd,
  type PaperReference,
  paperReference,
  type RankTable,
} from "./paper/reference.ts";

// beyond the paper: ablations, the robustness landscape, the gate as a detector, the cases
export { type SyntheticLatent } from "./data/synthetic/generator.ts";
export { syntheticLatent } from "./data/synthetic/latent.ts";
export { type RocCurve, rocCurve } from "./runtime/roc.ts";
export {
  ABLATION_ROUNDS,
  ABLATION_VARIANTS,
  ablationComparison,
  ablationConfig,
  ablationFigure,
  type AblationRow,
  ablationTable,
  type AblationVariant,
  fullHeadMeanWeight,
  runAblations,
} from "./paper/ablations.ts";
export {
  cellKnobs,
  type CellResult,
  type RobustnessCell,
  robustnessCells,
  robustnessComparison,
  robustnessFigure,
  robustnessTable,
  runRobustness,
} from "./paper/robustness.ts";
export {
  detectorComparison,
  detectorFigure,
  type DetectorResult,
  type DetectorRound,
  detectorTable,
  type DropShare,
  runDetector,
} from "./paper/gate_detector.ts";
export {
  type Case,
  type CaseEvals,
  type CaseFilter,
  caseOf,
  casesFigure,
  caseTable,
  findCases,
  instructiveCases,
  loadCases,
} from "./paper/cases.ts";
export {
  geometryComparison,
  type NegativesVariant,
  publishedGeometry,
  type PublishedStat,
  REGIME_EPOCHS,
  REGIME_GEOMETRY_TEXT_GAP,
  REGIME_NEGATIVES,
  REGIME_PLAN,
  regimeBaselines,
  regimeBaselineTable,
  regimeComparison,
  regimeDar,
  regimeEpochTable,
  regimeFigure,
  regimeGeometryConfig,
  regimeGeometryRun,
  type RegimeRun,
  regimeTable,
  runRegime,
} from "./paper/regime.ts";
export {
  harshestGenerator,
  probeComparison,
  probeFigure,
  type ProbeRow,
  probeSettings,
  probeTable,
  RECALIBRATION_REPORT_PATH,
  RECALIBRATION_TEXT_GAP,
  recalibrationProbe,
} from "./paper/regime_recalibration.ts";
export { embeddingGeometry, type GeometryStats } from "./eval/geometry.ts";
export { loadBundle } from "./data/bundle.ts";
export {
  fuseAngle,
  gateWeight,
  lessonComparison,
  type LessonRow,
  lessonScoreboard,
  staticSweep,
  TOY_DEFAULTS,
  type ToyConfig,
  toyCos,
  type ToyGate,
  toyGateFigure,
  toyHits,
  toyLoss,
  toyRanks,
  toySweepFigure,
  type ToyWorld,
  toyWorld,
  toyWorldFigure,
  trainToyGate,
} from "./paper/lesson.ts";
