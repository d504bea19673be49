/**
 * The eval stage as the notebooks see it (`lib.eval`): an evaluation's result, the metric, the
 * paired statistics and the embeddings' geometry.
 *
 * @module
 */
export type { EvalMethod, EvalOutput } from "./evaluate.ts";
export type { BaselineName } from "./baselines.ts";
export { hitsCumulative } from "./metrics.ts";
export {
  type BootstrapOptions,
  bootstrapSlope,
  type DiffCI,
  type McNemarResult,
  pairedBootstrap,
  pairedMcNemar,
  type PairedOptions,
  type SlopeCI,
} from "./stats.ts";
export { embeddingGeometry, type GeometryStats } from "./geometry.ts";
