/**
 * ADaFuSE notebooks: the one entry point of the shared library. Notebooks import everything
 * from here (`import * as lib from "../lib/mod.ts"`).
 *
 * @module
 */
export * as tf from "@tensorflow/tfjs";
export * as aq from "arquero";
export * from "./backend.ts";
export * from "./checkpoint.ts";
export * from "./demo.ts";
export * from "./figures.ts";
export * from "./model.ts";
export * from "./model_config.ts";
export * from "./ops.ts";
export * from "./paths.ts";
export * from "./rng.ts";
export * from "./safetensors.ts";
export * from "./tables.ts";
