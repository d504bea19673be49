/**
 * ADaFuSE notebooks: the one entry point of the shared library. Notebooks import everything
 * from here (`import * as lib from "../lib/mod.ts"`).
 *
 * @module
 */
/** TensorFlow.js, as the library uses it (one instance, one backend per process). */
export * as tf from "@tensorflow/tfjs";
/** arquero, for tables in notebooks. */
export * as aq from "arquero";
export type { EvalArgs, EvalMethod, EvalOutput } from "./cli/eval.ts";
export * from "./adamw.ts";
export * from "./backend.ts";
export * from "./baselines.ts";
export * from "./bench.ts";
export * from "./bundle.ts";
export * from "./checkpoint.ts";
export * from "./clip.ts";
export * from "./data_parallel.ts";
export * from "./demo.ts";
export * from "./figures.ts";
export * from "./loss.ts";
export * from "./metrics.ts";
export * from "./model.ts";
export * from "./model_config.ts";
export * from "./npy.ts";
export * from "./ops.ts";
export * from "./paper_figures.ts";
export * from "./paper_tables.ts";
export * from "./paper/training.ts";
export * from "./paths.ts";
export * from "./pipeline.ts";
export * from "./ranking.ts";
export * from "./rng.ts";
export * from "./safetensors.ts";
export * from "./schedule.ts";
export * from "./show/data_view.ts";
export * from "./show/progress.ts";
export * from "./show/report.ts";
export * from "./show/training_view.ts";
export * from "./stats.ts";
export * from "./synthetic.ts";
export * from "./tables.ts";
export * from "./train.ts";
export * from "./train_config.ts";
