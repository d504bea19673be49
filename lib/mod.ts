/**
 * ADaFuSE notebooks: the notebooks' façade of the shared library (`import * as lib from
 * "../lib/mod.ts"`). One namespace per pipeline stage a notebook reaches into, each the stage's
 * `mod.ts`, plus the few names every notebook uses:
 *
 * - `lib.runtime`: the backend, seeded randomness;
 * - `lib.data`: the benchmarks, a bundle, the stand-in's latent truths;
 * - `lib.model`: the fusion head and its sizes;
 * - `lib.eval`: the metric, paired statistics, the embeddings' geometry;
 * - `lib.show`: figures and tables, views of a bundle and of a training run;
 * - `lib.paper`: the experiment config, the cached pipeline, the paper's figures and tables;
 * - `lib.beyond`: the studies beyond the paper (notebooks 07-13).
 *
 * This file sits above every stage and may import any of them except cli/.
 *
 * @module
 */
/** arquero, for tables in notebooks. */
export * as aq from "arquero";

export * as runtime from "./runtime/mod.ts";
export * as data from "./data/mod.ts";
export * as model from "./model/mod.ts";
export * as eval from "./eval/mod.ts";
export * as show from "./show/mod.ts";
export * as paper from "./paper/mod.ts";
export * as beyond from "./paper/beyond.ts";

// what every notebook uses: its config's type, and figures and tables
export type { ReproConfig } from "./paper/experiment.ts";
export { closeFigures, saveFigure } from "./show/figures.ts";
export { showTable } from "./show/tables.ts";
