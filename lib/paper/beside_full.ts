/**
 * The `repro` preset beside the paper's full recipe (50 epochs, batch 128 × 16): the same data
 * seed and training seed trained both ways, each evaluated on the four benchmarks, with DAR
 * beside them. It answers which verdicts of the figures (made with `repro`, to fit the time here)
 * the full recipe shares. The full recipe is long (over an hour a seed here); its run is cached
 * and resumes where it stopped, like every run of the pipeline.
 *
 * @module
 */
import { BENCHMARKS } from "../data/benchmarks.ts";
import { type ReproConfig, reproEval } from "./pipeline.ts";
import type { EvalOutput } from "../eval/evaluate.ts";

/** One benchmark and round: DAR, then ADaFuSE per preset (cumulative Hits@10, percent). */
export interface BesideFullRow {
  /** Benchmark. */
  benchmark: string;
  /** 0-based round. */
  round: number;
  /** DAR. */
  dar: number;
  /** ADaFuSE per training preset. */
  adafuse: Record<string, number>;
}

/** What {@linkcode besideFull} measures. */
export interface BesideFull {
  /** The training seed. */
  seed: number;
  /** The presets, in order. */
  presets: string[];
  /** Rounds 0 and last of every benchmark. */
  rows: BesideFullRow[];
  /** Mean image weight `1 − w` on VisDial per preset. */
  imageWeight: Record<string, number>;
}

function _hits10(e: EvalOutput, round: number): number {
  return e.hits["10"].cumulative[round];
}

/**
 * Evaluates DAR and ADaFuSE trained with each of `presets` (default `repro` and `full`) and
 * `seed` on every benchmark (training first where no finished run is cached).
 */
export async function besideFull(
  config: Partial<ReproConfig>,
  seed = 0,
  presets: string[] = ["repro", "full"],
  log: (s: string) => void = () => {},
): Promise<BesideFull> {
  const rows: BesideFullRow[] = [];
  const imageWeight: Record<string, number> = {};
  for (const b of BENCHMARKS) {
    const dar = await reproEval(config, b, "dar");
    const ours: Record<string, EvalOutput> = {};
    for (const p of presets) {
      log(`beside-full: ${p}, ${b}…`);
      ours[p] = await reproEval({ ...config, trainPreset: p, seeds: [seed] }, b, "adafuse", seed);
      if (b === "visdial" && ours[p].gate) {
        const w = ours[p].gate!.flat();
        imageWeight[p] = 1 - w.reduce((a, x) => a + x, 0) / w.length;
      }
    }
    for (const round of [0, dar.rounds - 1]) {
      rows.push({
        benchmark: b,
        round,
        dar: _hits10(dar, round),
        adafuse: Object.fromEntries(presets.map((p) => [p, _hits10(ours[p], round)])),
      });
    }
  }
  return { seed, presets, rows, imageWeight };
}

/** The comparison as table rows: Hits@10 and ADaFuSE − DAR per preset. */
export function besideFullTable(r: BesideFull): Record<string, string | number>[] {
  return r.rows.map((x) => {
    const row: Record<string, string | number> = {
      benchmark: x.benchmark,
      round: x.round,
      DAR: x.dar,
    };
    for (const p of r.presets) {
      row[`ADaFuSE ${p}`] = x.adafuse[p];
      row[`Δ ${p}`] = x.adafuse[p] - x.dar;
    }
    return row;
  });
}
