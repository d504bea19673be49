/**
 * ADaFuSE notebooks: the one entry point of the shared library.
 *
 * @module
 */
export * from "./backend.ts";
export * from "./ops.ts";
export * from "./rng.ts";
