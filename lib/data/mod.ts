/**
 * The data stage as the notebooks see it (`lib.data`): the four benchmarks, a bundle's loader,
 * and the latent truths the synthetic stand-in keeps beside its bundle.
 *
 * @module
 */
export { BENCHMARK_LABELS, type BenchmarkName, BENCHMARKS } from "./benchmarks.ts";
export { type Bundle, loadBundle } from "./bundle.ts";
export type { SyntheticLatent } from "./synthetic/generator.ts";
export { syntheticLatent } from "./synthetic/latent.ts";
