/**
 * Long because the study's plan, its runs and its tables are one experiment, read in that order.
 *
 * Beyond the paper (notebook 12_training_regime, `deno task regime`): why benchmark retrieval
 * falls as the head trains longer on the stand-in, measured one cause at a time with the same
 * data and seeds.
 *
 * - **Negatives.** The loss sees `batchSize − 1` in-batch negatives, the benchmark 49,999. The
 *   sweep trains the same head on the same samples (4 epochs of the training split) at micro-batch
 *   128 (accumulating 2, the `repro` recipe's effective batch of 256), 256, 512, 1,024 and 2,048
 *   (no accumulation; the learning rate scaled linearly with the effective batch from 5e-5 at
 *   256). 128 and 256 differ in the negatives alone: the same updates, learning rate and samples
 *   per update. `b128hard` keeps micro-batch 128 but fills each with dialogues whose targets
 *   resemble one another (hard in-batch negatives, lib/train/sampler.ts). Diagnostics, not
 *   recipe changes: the reference's micro-batch stays 128 and its batches are shuffled.
 * - **Selection.** Every validation logs the selection gallery (val pool + train pool) and a
 *   held-out gallery of the corpus's size without any training image (lib/train/validate.ts);
 *   the best epoch by each is compared with the benchmark at the best and the last epoch.
 * - **The gate's learning.** Every validation logs the image weight's spread, slope against
 *   cos(t, g) and off-scene AUC on the val pairs.
 *
 * The geometry of the stand-in against published statistics of real encoders is in
 * lib/eval/geometry.ts.
 *
 * @module
 */
import { DATA_DIR, readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import type { EvalOutput } from "../eval/evaluate.ts";
import { RunDir } from "../train/run_dir.ts";
import type { EvalRecord } from "../train/loop.ts";
import { type FigureSpec, figureTitle } from "../show/figures.ts";
import { readTrainLog } from "../show/training_view.ts";
import type { GeometryStats } from "../eval/geometry.ts";
import { reproData, reproEval, reproTrain } from "./pipeline.ts";
import type { ReproConfig } from "./experiment.ts";
import { type Bundle, loadBundle } from "../data/bundle.ts";
import { prepareCorpus } from "../model/ranking.ts";
import { validate } from "../train/validate.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { paperReference } from "./reference.ts";

/** One setting of the negatives sweep. */
export interface NegativesVariant {
  /** Short id (`b128`, …). */
  id: string;
  /** Micro-batch: the loss's in-batch negatives are `batchSize − 1`. */
  batchSize: number;
  /** Micro-batches per update. */
  accumulate: number;
  /** Peak learning rate. */
  lr: number;
  /** How micro-batches are drawn (lib/train/sampler.ts); absent: shuffled, the reference's. */
  negatives?: "neighbours";
}

/** The sweep, in table order; see the module doc. */
export const REGIME_NEGATIVES: readonly NegativesVariant[] = Object.freeze([
  { id: "b128", batchSize: 128, accumulate: 2, lr: 5e-5 },
  { id: "b256", batchSize: 256, accumulate: 1, lr: 5e-5 },
  { id: "b512", batchSize: 512, accumulate: 1, lr: 1e-4 },
  { id: "b1024", batchSize: 1024, accumulate: 1, lr: 2e-4 },
  { id: "b2048", batchSize: 2048, accumulate: 1, lr: 4e-4 },
  { id: "b128hard", batchSize: 128, accumulate: 2, lr: 5e-5, negatives: "neighbours" },
]);

/** Epochs of every sweep run (4 × 123,287 ≈ 493,000 samples on the default data). */
export const REGIME_EPOCHS = 4;

/**
 * The reproduction config of one sweep run: the reference recipe (`full`) with the sweep's
 * epochs (warm-up 10% of them), validation every epoch on the first 500 val dialogues, and the
 * variant's batch, accumulation and learning rate; trained with `seed`.
 */
export function regimeConfig(
  base: Partial<ReproConfig>,
  v: NegativesVariant,
  seed: number,
): Partial<ReproConfig> {
  return {
    ...base,
    trainSeeds: [seed],
    trainPreset: "full",
    overrides: {
      epochs: REGIME_EPOCHS,
      warmupEpochs: REGIME_EPOCHS / 10,
      evalEvery: 1,
      maxValDialogues: 500,
      batchSize: v.batchSize,
      accumulate: v.accumulate,
      lr: v.lr,
      ...(v.negatives ? { negatives: v.negatives } : {}),
    },
  };
}

/** One validation of a sweep run, flattened for tables (percent and plain numbers). */
export interface RegimeEpoch {
  /** 1-based epoch. */
  epoch: number;
  /** Updates done. */
  step: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** Selection metric on the selection gallery (val + train pools), %. */
  valMetric: number;
  /** The same on the held-out gallery (val pool + corpus images), %; null without one. */
  heldOutMetric: number | null;
  /** Mean image weight on the val pairs. */
  gateMean: number | null;
  /** Its standard deviation. */
  gateSd: number | null;
  /** Its slope against cos(t, g). */
  gateSlope: number | null;
  /** R² of that slope. */
  gateR2: number | null;
  /** AUC of a low image weight for off-scene generations. */
  gateAuc: number | null;
}

/** One sweep run: its validations and VisDial retrieval at its best and last epoch. */
export interface RegimeRun {
  /** The variant's id. */
  id: string;
  /** The training seed. */
  seed: number;
  /** The run folder. */
  dir: string;
  /** Every validation. */
  epochs: RegimeEpoch[];
  /** 1-based epoch selected on the selection gallery. */
  bestEpoch: number;
  /** 1-based epoch the held-out gallery would select (null without one). */
  heldOutBestEpoch: number | null;
  /** Cumulative Hits@10 on VisDial per round (%), the selected head. */
  best: number[];
  /** The same for the last epoch's head. */
  last: number[];
  /** Mean image weight on VisDial's pairs, selected and last head. */
  imageWeight: { best: number; last: number };
  /**
   * Mean cos(q, gated mix) on VisDial's pairs, selected and last head: how far the experts'
   * residual turns the fused query away from `w·t + (1 − w)·g` (1: not at all).
   */
  mixCos: { best: number; last: number };
  /**
   * The selection metric (mean over rounds of the cumulative Hits@10, %) of the first 500
   * TRAINING dialogues against the train pool, selected and last head: a rise here while the
   * validation metric falls is the head learning its training targets rather than the task.
   */
  trainHits: { best: number; last: number };
}

function _epochRow(e: EvalRecord): RegimeEpoch {
  const g = e.gate;
  return {
    epoch: e.epoch + 1,
    step: e.step,
    trainLoss: e.trainLoss,
    valMetric: 100 * e.valMetric,
    heldOutMetric: e.heldOutMetric === undefined || e.heldOutMetric === null
      ? null
      : 100 * e.heldOutMetric,
    gateMean: g?.mean ?? null,
    gateSd: g?.sd ?? null,
    gateSlope: g?.slope ?? null,
    gateR2: g?.r2 ?? null,
    gateAuc: g?.auc ?? null,
  };
}

function _argmax(xs: (number | null)[]): number {
  let best = -1;
  xs.forEach((x, i) => {
    if (x !== null && (best < 0 || x > xs[best]!)) best = i;
  });
  return best;
}

function _meanImageWeight(e: EvalOutput): number {
  let s = 0, n = 0;
  for (const row of e.gate ?? []) for (const w of row) s += 1 - w, n++;
  return n ? s / n : NaN;
}

const _bundles = new Map<string, Bundle>();

/**
 * One split of a bundle, loaded once per process: the measures below run twice per training run
 * (selected and last head) and over many runs of the same data. Only the most recent load is
 * kept (the VisDial-sized training split is 2.8 GB in memory).
 */
async function _split(data: string, split: string): Promise<Bundle> {
  const key = `${data}\0${split}`;
  let b = _bundles.get(key);
  if (!b) {
    _bundles.clear();
    b = await loadBundle(data, { splits: [split] });
    _bundles.set(key, b);
  }
  return b;
}

/**
 * Mean over VisDial's (dialogue, round) pairs of cos(q, w·t + (1 − w)·g): the fused query against
 * the gate's mix alone, for the head in `checkpoint` (see {@linkcode RegimeRun.mixCos}).
 */
export async function mixCosine(data: string, checkpoint: string): Promise<number> {
  const b = await _split(data, "visdial");
  const s = b.splits.visdial, d = b.dim, n = s.count * b.rounds;
  const head = await loadCheckpoint(checkpoint);
  try {
    const { q, w } = await head.fuse(s.text, s.gen, n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let dot = 0, mm = 0;
      for (let j = 0; j < d; j++) {
        const m = w[i] * s.text[i * d + j] + (1 - w[i]) * s.gen[i * d + j];
        dot += q[i * d + j] * m;
        mm += m * m;
      }
      total += dot / Math.sqrt(mm);
    }
    return total / n;
  } finally {
    head.dispose();
  }
}

/**
 * Trains (or reuses) one sweep run and evaluates its selected and last heads on VisDial.
 *
 * @param base the reproduction config (data; its training fields are replaced).
 * @param v the variant.
 * @param seed the training seed.
 */
export async function regimeRun(
  base: Partial<ReproConfig>,
  v: NegativesVariant,
  seed: number,
): Promise<RegimeRun> {
  const c = regimeConfig(base, v, seed);
  const run = await reproTrain(c, { seed });
  const epochs = (await readTrainLog(run.dir)).evals.map(_epochRow);
  const bestI = _argmax(epochs.map((e) => e.valMetric));
  const heldI = _argmax(epochs.map((e) => e.heldOutMetric));
  const best = await reproEval(c, "visdial", "adafuse", seed);
  const last = await reproEval(c, "visdial", "adafuse", seed, "last");
  return {
    id: v.id,
    seed,
    dir: run.dir,
    epochs,
    bestEpoch: epochs[bestI].epoch,
    heldOutBestEpoch: heldI < 0 ? null : epochs[heldI].epoch,
    best: best.hits["10"].cumulative,
    last: last.hits["10"].cumulative,
    imageWeight: { best: _meanImageWeight(best), last: _meanImageWeight(last) },
    mixCos: await _bestAndLast(c, run.dir, "mix_cosine.json", mixCosine),
    trainHits: await _bestAndLast(c, run.dir, "train_hits.json", (d, f) => trainSplitHits(d, f)),
  };
}

/**
 * The selection metric of the first `n` training dialogues ranked against the training pool
 * alone (every round; ties by pool index), for the head in `checkpoint`, in percent.
 */
export async function trainSplitHits(data: string, checkpoint: string, n = 500): Promise<number> {
  const b = await _split(data, "train");
  const s = b.splits.train;
  const pool = s.images ?? b.corpus;
  const index = prepareCorpus(pool, b.dim);
  const head = await loadCheckpoint(checkpoint);
  try {
    return 100 * (await validate(head, index, s, b.rounds, 10, n)).metric;
  } finally {
    head.dispose();
    index.dispose();
  }
}

/**
 * A measure of a run's selected and last heads (`best.safetensors`, `last.safetensors`), cached
 * as `file` in the run folder.
 */
async function _bestAndLast(
  c: Partial<ReproConfig>,
  dir: string,
  file: string,
  measure: (data: string, checkpoint: string) => Promise<number>,
): Promise<{ best: number; last: number }> {
  const out = `${dir}/${file}`;
  const cached = await readJsonIfExists<{ best: number; last: number }>(out);
  if (cached) return cached;
  const data = await reproData(c);
  const res = {
    best: await measure(data, new RunDir(dir).paths.best),
    last: await measure(data, new RunDir(dir).paths.last),
  };
  await writeFileAtomic(out, JSON.stringify(res));
  return res;
}

/** DAR's cumulative Hits@10 on VisDial per round (%), the sweep's reference row. */
export async function regimeDar(base: Partial<ReproConfig>): Promise<number[]> {
  return (await reproEval(base, "visdial", "dar")).hits["10"].cumulative;
}

/**
 * The runs of the study, in order: micro-batches 128, 256, 1,024 and 2,048 and the hard-negative
 * run on training seed 0, then the two runs the study's contrast rests on (random and hard
 * negatives at micro-batch 128) on seed 1. `b512` and second seeds of the others were not run
 * (time).
 */
export const REGIME_PLAN: readonly (readonly [string, number])[] = Object.freeze(
  [
    ["b128", 0],
    ["b256", 0],
    ["b1024", 0],
    ["b2048", 0],
    ["b128hard", 0],
    ["b128hard", 1],
    ["b128", 1],
  ] as const,
);

/**
 * The geometry diagnostic: the stand-in's text modality gap (`textGap`, 7.72 on the default)
 * lowered so that two random captions have cosine ≈ 0.5 and a caption and its target ≈ 0.3, as
 * published for CLIP on MS-COCO (notebook 12's geometry table). A diagnostic bundle, not the
 * stand-in: its baselines are not recalibrated.
 */
export const REGIME_GEOMETRY_TEXT_GAP = 1.0;

/** The reproduction config of the geometry diagnostic's bundle: `base` with the lower textGap. */
export function regimeGeometryConfig(base: Partial<ReproConfig>): Partial<ReproConfig> {
  return {
    ...base,
    synthetic: { ...(base.synthetic ?? {}), textGap: REGIME_GEOMETRY_TEXT_GAP },
  };
}

/** ChatIR's and DAR's cumulative Hits@10 on VisDial (%) on `base`'s data. */
export async function regimeBaselines(
  base: Partial<ReproConfig>,
): Promise<{ chatir: number[]; dar: number[] }> {
  return {
    chatir: (await reproEval(base, "visdial", "chatir")).hits["10"].cumulative,
    dar: await regimeDar(base),
  };
}

/**
 * The reference micro-batch's run (`b128`, seed 0) on the diagnostic bundle of
 * {@linkcode REGIME_GEOMETRY_TEXT_GAP}, with that bundle's DAR and ChatIR on VisDial.
 */
export async function regimeGeometryRun(
  base: Partial<ReproConfig>,
): Promise<{ run: RegimeRun; dar: number[]; chatir: number[] }> {
  const c = regimeGeometryConfig(base);
  const run = await regimeRun(c, REGIME_NEGATIVES[0], 0);
  const dar = await regimeDar(c);
  const chatir = (await reproEval(c, "visdial", "chatir")).hits["10"].cumulative;
  return { run, dar, chatir };
}

/**
 * Trains (or reuses) every run of {@linkcode REGIME_PLAN} on `base`'s data and evaluates each;
 * `only` limits the plan to these variant ids.
 */
export async function runRegime(
  base: Partial<ReproConfig>,
  only?: readonly string[],
): Promise<RegimeRun[]> {
  const out: RegimeRun[] = [];
  for (const [id, seed] of REGIME_PLAN) {
    if (only && !only.includes(id)) continue;
    const v = REGIME_NEGATIVES.find((x) => x.id === id)!;
    out.push(await regimeRun(base, v, seed));
  }
  return out;
}

/**
 * One row per run: negatives, updates, the epoch each gallery selects, VisDial's ADaFuSE − DAR at
 * rounds 0 and 10 for the selected and the last head, the image weight on VisDial, and the last
 * validation's gate statistics.
 */
export function regimeTable(runs: RegimeRun[], dar: number[]): Record<string, number | string>[] {
  const R = dar.length - 1;
  return runs.map((r) => {
    const v = REGIME_NEGATIVES.find((x) => x.id === r.id)!;
    const last = r.epochs.at(-1)!;
    return {
      run: r.id,
      seed: r.seed,
      negatives: v.batchSize - 1,
      lr: v.lr.toExponential(0),
      updates: last.step,
      "selected epoch": r.bestEpoch,
      "held-out would select": r.heldOutBestEpoch ?? "–",
      "Δ r0 selected": r.best[0] - dar[0],
      [`Δ r${R} selected`]: r.best[R] - dar[R],
      "Δ r0 last": r.last[0] - dar[0],
      [`Δ r${R} last`]: r.last[R] - dar[R],
      "image weight selected": r.imageWeight.best,
      "image weight last": r.imageWeight.last,
      "cos(q, mix) selected": r.mixCos.best,
      "cos(q, mix) last": r.mixCos.last,
      "train dialogues % selected": r.trainHits.best,
      "train dialogues % last": r.trainHits.last,
      "val slope last": last.gateSlope ?? NaN,
      "val AUC last": last.gateAuc ?? NaN,
    };
  });
}

/** One row per validation of a run (percent for the metrics). */
export function regimeEpochTable(run: RegimeRun): Record<string, number | string | null>[] {
  return run.epochs.map((e) => ({
    run: `${run.id} seed ${run.seed}`,
    epoch: e.epoch,
    update: e.step,
    "train loss": e.trainLoss,
    "val gallery %": e.valMetric,
    "held-out gallery %": e.heldOutMetric,
    "image weight": e.gateMean,
    sd: e.gateSd,
    slope: e.gateSlope,
    "R²": e.gateR2,
    "off-scene AUC": e.gateAuc,
  }));
}

const _PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2"];

/**
 * The sweep in one figure, one line per run against updates: the selection gallery's and the
 * held-out gallery's validation Hits@10 (mean over rounds), the image weight's sd, and the AUC of
 * a low image weight for off-scene generations; `subtitle` (e.g. experiment.ts's
 * `provenanceLabel`) goes under the title.
 */
export function regimeFigure(
  runs: RegimeRun[],
  title: string,
  opts: { subtitle?: string } = {},
): FigureSpec {
  const panels = [
    ["valMetric", "val gallery: mean Hits@10 (%)"],
    ["heldOutMetric", "held-out gallery: mean Hits@10 (%)"],
    ["gateSd", "sd of the image weight (val pairs)"],
    ["gateAuc", "AUC of low image weight for off-scene"],
  ] as const;
  const data = runs.flatMap((r) =>
    panels.map(([key], p) => ({
      type: "scatter",
      mode: "lines+markers",
      x: r.epochs.map((e) => e.step),
      y: r.epochs.map((e) => e[key]),
      name: `${r.id} (${REGIME_NEGATIVES.find((v) => v.id === r.id)!.batchSize - 1} negatives), ` +
        `seed ${r.seed}`,
      legendgroup: `${r.id}-${r.seed}`,
      showlegend: p === 0,
      xaxis: `x${p ? p + 1 : ""}`,
      yaxis: `y${p ? p + 1 : ""}`,
      line: {
        color: _PALETTE[REGIME_NEGATIVES.findIndex((v) => v.id === r.id)],
        dash: r.seed ? "dot" : "solid",
      },
    }))
  );
  const layout: Record<string, unknown> = {
    title: figureTitle(title, opts.subtitle),
    grid: { rows: 2, columns: 2, pattern: "independent" },
    legend: { orientation: "h", y: -0.18 },
  };
  panels.forEach(([, label], p) => {
    layout[`xaxis${p ? p + 1 : ""}`] = { title: { text: "update" }, type: "log" };
    layout[`yaxis${p ? p + 1 : ""}`] = { title: { text: label } };
  });
  return { data, layout };
}

/** A published statistic of real embeddings (data/published_geometry.json). */
export interface PublishedStat {
  /** The value (null where none was found). */
  value: number | null;
  /** Its standard deviation, where published. */
  sd?: number;
  /** Model and data it was measured on. */
  model: string;
  /** Where it is published. */
  source: string;
  /** True when it follows from a published number by stated arithmetic. */
  derived?: boolean;
  /** True when it is an example, not a data-set mean. */
  example?: boolean;
}

/** Reads data/published_geometry.json. */
export async function publishedGeometry(): Promise<Record<string, PublishedStat>> {
  const raw = JSON.parse(await Deno.readTextFile(`${DATA_DIR}/published_geometry.json`));
  delete raw._source;
  return raw;
}

/**
 * The stand-in's geometry beside the published statistics of real encoders: one row per
 * statistic with both values and the stand-in's distance from the published one (blank where
 * nothing was published).
 */
export function geometryComparison(
  g: GeometryStats,
  pub: Record<string, PublishedStat>,
): Record<string, string>[] {
  const f = (x: number) => x.toFixed(3);
  type Row = [string, string, number, string | undefined];
  const ms = (name: string, v: { mean: number; sd: number }, key?: string): Row => [
    name,
    `${f(v.mean)} ± ${f(v.sd)}`,
    v.mean,
    key,
  ];
  const rows: Row[] = [
    ms("cos(image, image), random pairs", g.imageImage, "image_image_cosine"),
    ms("cos(text, text), random captions", g.textText, "text_text_cosine"),
    ["‖mean image‖", f(g.imageMeanNorm), g.imageMeanNorm, "image_mean_norm"],
    ["‖mean caption‖", f(g.textMeanNorm), g.textMeanNorm, "text_mean_norm"],
    ["modality gap ‖mean image − mean caption‖", f(g.gap), g.gap, "modality_gap"],
    ms("cos(caption, its target)", g.matched0, "matched_text_image_cosine"),
    ms("cos(last-round text, its target)", g.matchedLast),
    ms("cos(caption, a random image)", g.unmatched),
    ms("cos(generated image, its text)", g.genText, "generated_prompt_cosine"),
    ms("cos(generated image, its target)", g.genMatched, "generated_real_image_cosine"),
    ms("cos(generated image, a random image)", g.genUnmatched),
    [
      `hubness: skewness of N_${g.hubness.k} (${g.hubness.queries} text queries)`,
      f(g.hubness.skewness),
      g.hubness.skewness,
      "hubness_skewness",
    ],
    [
      `corpus images in no query's top ${g.hubness.k}`,
      `${(100 * g.hubness.neverShare).toFixed(1)}%`,
      NaN,
      undefined,
    ],
  ];

  return rows.map(([statistic, ours, value, key]) => {
    const p = key ? pub[key] : undefined;
    const has = p && p.value !== null;
    return {
      statistic,
      "stand-in": ours,
      published: has
        ? `${p.value}${p.sd ? ` ± ${p.sd}` : ""}${p.derived ? " (derived)" : ""}${
          p.example ? " (examples)" : ""
        }`
        : "–",
      "stand-in − published": has ? (value - p.value!).toFixed(3) : "–",
      "measured on": p?.model ?? "",
      source: p?.source ?? "",
    };
  });
}

/**
 * The paper's claims beside this study's runs: ADaFuSE − DAR at VisDial's rounds 0 and 10 and
 * the image weight, for the reference's micro-batch (128) and the largest, selected and last.
 */
export function regimeComparison(runs: RegimeRun[], dar: number[]): Record<string, string>[] {
  const ref = paperReference().fig3_hits_at_10;
  const [lo, hi] = paperReference().fig4_gate.adafuse_image_weight_typical_range.value as number[];
  const R = dar.length - 1;
  const rows: Record<string, string>[] = [];
  for (const id of ["b128", "b2048"]) {
    for (const r of runs.filter((x) => x.id === id)) {
      for (const which of ["best", "last"] as const) {
        const h = r[which];
        rows.push({
          run: `${id} seed ${r.seed}, ${which === "best" ? "selected" : "last"} head`,
          [`ADaFuSE − DAR r0 (paper +${ref.adafuse_minus_dar_visdial_round0.value})`]:
            (h[0] - dar[0])
              .toFixed(2),
          [`ADaFuSE − DAR r${R} (paper +${ref.adafuse_minus_dar_visdial_round10.value})`]:
            (h[R] - dar[R]).toFixed(2),
          [`image weight (paper mostly ${100 * lo}-${100 * hi}%)`]: `${
            (100 * r.imageWeight[which]).toFixed(1)
          }%`,
        });
      }
    }
  }
  return rows;
}

/**
 * ChatIR and DAR on VisDial (cumulative Hits@10, %, rounds 0 and 10) on each named bundle: how
 * the geometry diagnostic's bundle moves the baselines the stand-in was calibrated to.
 */
export function regimeBaselineTable(
  rows: { bundle: string; chatir: number[]; dar: number[] }[],
): Record<string, string | number>[] {
  return rows.map((r) => {
    const R = r.chatir.length - 1;
    return {
      bundle: r.bundle,
      "ChatIR r0": r.chatir[0],
      [`ChatIR r${R}`]: r.chatir[R],
      "DAR r0": r.dar[0],
      [`DAR r${R}`]: r.dar[R],
      [`DAR − ChatIR r${R}`]: r.dar[R] - r.chatir[R],
    };
  });
}
