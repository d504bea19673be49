/**
 * The one registry of the paper's four benchmarks (ChatIR's dialogue sets): their split names in
 * the paper's order and their display names. Bundles, the synthetic generator, the training
 * config, the pipeline and the figures read the list from here. (Each benchmark's dialogue
 * profile, which only the synthetic generator uses, is `BENCHMARK_PROFILES` of
 * lib/data/synthetic/config.ts, keyed by {@linkcode BenchmarkName}.)
 *
 * @module
 */

/** The split names of the four benchmarks, in the paper's order (Figure 3's panels). */
export const BENCHMARKS = [
  "visdial",
  "chatgpt_blip2",
  "human_blip2",
  "flan_alpaca_xxl_blip2",
] as const;

/** One of {@linkcode BENCHMARKS}. */
export type BenchmarkName = typeof BENCHMARKS[number];

/** Display names of the benchmarks, as the paper writes them. */
export const BENCHMARK_LABELS: Record<BenchmarkName, string> = {
  visdial: "VisDial val",
  chatgpt_blip2: "ChatGPT_BLIP2",
  human_blip2: "Human_BLIP2",
  flan_alpaca_xxl_blip2: "Flan-Alpaca-XXL_BLIP2",
};

/** Whether `name` is one of {@linkcode BENCHMARKS}. */
export function isBenchmark(name: string): name is BenchmarkName {
  return (BENCHMARKS as readonly string[]).includes(name);
}
