/**
 * ADaFuSE notebooks: the one entry point of the shared library. Notebooks import everything
 * from here (`import * as lib from "./mod.ts"`).
 *
 * @module
 */
/** TensorFlow.js, as the library uses it (one instance, one backend per process). */
export * as tf from "@tensorflow/tfjs";
/** arquero, for tables in notebooks. */
export * as aq from "arquero";
export type { EvalArgs, EvalMethod, EvalOutput } from "./eval/evaluate.ts";
export * from "./train/adamw.ts";
export * from "./runtime/backend.ts";
export * from "./eval/baselines.ts";
export * from "./bench/harness.ts";
export * from "./data/bundle.ts";
export * from "./model/checkpoint.ts";
export * from "./train/clip.ts";
export * from "./train/parallel/trainer.ts";
export * from "./model/demo.ts";
export * from "./show/figures.ts";
export * from "./train/loss.ts";
export * from "./eval/metrics.ts";
export * from "./model/fusion_head.ts";
export * from "./model/config.ts";
export * from "./data/npy.ts";
export * from "./model/ops.ts";
export * from "./paper/figures.ts";
export * from "./paper/tables.ts";
export * from "./runtime/paths.ts";
export * from "./paper/pipeline.ts";
export * from "./model/ranking.ts";
export * from "./runtime/rng.ts";
export * from "./data/safetensors.ts";
export * from "./train/schedule.ts";
export * from "./eval/stats.ts";
export * from "./data/synthetic/generator.ts";
export * from "./show/tables.ts";
export * from "./train/loop.ts";
export * from "./train/config.ts";
export * from "./runtime/rows.ts";
export * from "./data/benchmarks.ts";
export { BENCHMARKS as PAPER_BENCHMARKS } from "./data/benchmarks.ts";
