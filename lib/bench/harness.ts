/**
 * The side-by-side benchmark behind `deno task bench`: ours (TensorFlow.js on wasm, the
 * data-parallel trainer of lib/train/parallel/trainer.ts, ranking of lib/model/ranking.ts) against
 * the PyTorch reference head (lib/tools/bench_torch.py) with the same thread count, on the same
 * shapes (the reference's sizes, docs/method.md): training samples/s at batch 128 and 256 (forward,
 * symmetric InfoNCE, backward, clipping, AdamW), fused-query inference queries/s, ranking queries/s
 * against a 50,000 × 256 corpus, and the peak memory of training.
 *
 * This file assembles the table (runBench) and times inference and ranking; the training rows are
 * in training.ts, the per-product table in products.ts, the PyTorch side in torch.ts.
 *
 * Every time is the median of several runs after warm-up. Ratios are ours / PyTorch for
 * throughputs (above 1 is better) and for memory (below 1 is better).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DataParallelTrainer, dataParallelWorkers } from "../train/parallel/trainer.ts";
import { writeFileAtomic } from "../runtime/paths.ts";
import { prepareCorpus, rankTargets } from "../model/ranking.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { nativeBlas } from "../runtime/native_kernels.ts";
import { trainConfig } from "../train/config.ts";
import { type EtaCheck, etaLine } from "./eta.ts";
import {
  formatRatio,
  formatValue,
  loadavg,
  machineName,
  median,
  peakRssMB,
  type RunCounts,
  timeRuns,
} from "./_measure.ts";
import { benchProducts, type ProductRow } from "./products.ts";
import { ensureTorch, runTorchBench } from "./torch.ts";
import {
  benchFullRecipe,
  benchOptimizer,
  benchTrainAutodiff,
  benchTrainDataParallel,
  type OptimizerBench,
  type StepBreakdown,
} from "./training.ts";

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** A quick subset: batch 256 only, fewer runs, a smaller ranking job, no extra rows. */
  quick: boolean;
  /** Threads on both sides: our workers and `torch.set_num_threads` (default: the cores). */
  threads: number;
  /** Timed runs per measurement (the median is reported). */
  runs: number;
  /** Untimed warm-up runs before them. */
  warmup: number;
  /** Training batch sizes. */
  batches: number[];
  /** Rows fused per inference call. */
  inferRows: number;
  /** Corpus size for ranking. */
  corpus: number;
  /** Queries ranked per ranking run. */
  rankQueries: number;
  /** Run the PyTorch side (when python3 with torch is there, or can be installed). */
  torch: boolean;
  /** The Python interpreter (default `/usr/bin/python3`, Debian's, where python3-torch goes). */
  python: string;
  /** Install `python3-torch` and `libopenblas0-pthread` with apt-get when missing. */
  install: boolean;
  /** Where the JSON goes. */
  out: string;
  /** Measure the per-product GFLOP/s table (tfjs wasm, native libraries, PyTorch). */
  products: boolean;
  /**
   * Also time the full reference recipe (`default` training preset, 50 epochs) on the default
   * synthetic data (VisDial-train's 123,287 training dialogues): long (over an hour here).
   */
  full: boolean;
  /** The training preset `full` times (default `default`, the paper's recipe; `repro` is short). */
  fullPreset?: string;
  /** Rewrite the bench blocks of docs/performance.md and README.md (lib/bench/report.ts). */
  docs: boolean;
  /** Progress lines. */
  log: (line: string) => void;
}

/** The defaults of {@linkcode BenchOptions} (full run). */
export function benchDefaults(quick = false): BenchOptions {
  const threads = Math.max(1, navigator.hardwareConcurrency ?? 1);
  return {
    quick,
    threads,
    runs: quick ? 3 : 5,
    warmup: quick ? 1 : 2,
    batches: quick ? [256] : [128, 256],
    inferRows: 4096,
    corpus: 50_000,
    rankQueries: quick ? 512 : 2048,
    torch: true,
    python: "/usr/bin/python3",
    install: true,
    out: "data/cache/bench.json",
    products: true,
    full: false,
    docs: false,
    log: (s) => console.error(s),
  };
}

/** One row of the table. */
export interface BenchRow {
  /** What was measured (training rows start with `train`). */
  name: string;
  /** Unit of `ours` and `theirs`. */
  unit: string;
  /** Our value. */
  ours: number;
  /** PyTorch's value, or null when it did not run or has no counterpart. */
  theirs: number | null;
  /** `ours / theirs`, or null. */
  ratio: number | null;
  /** Whether a larger value is better (throughput) or worse (memory). */
  higherIsBetter: boolean;
}

/** What {@linkcode runBench} writes as JSON. */
export interface BenchResult {
  /** ISO date of the run. */
  date: string;
  /** Machine and load. */
  machine: { name: string; cpus: number; loadavg: number[]; loadavgEnd: number[]; deno: string };
  /** The options that matter for comparing runs. */
  settings: Record<string, unknown>;
  /** Our raw measurements. */
  ours: Record<string, unknown>;
  /** PyTorch's raw JSON, or null with the reason in `torchNote`. */
  torch: Record<string, unknown> | null;
  /** Why PyTorch did not run, when it did not. */
  torchNote?: string;
  /** The table rows. */
  rows: BenchRow[];
  /** The per-product GFLOP/s table (empty when `products` was off). */
  products: ProductRow[];
}

/** The step breakdowns as text: one line per batch size. */
export function breakdownTable(res: BenchResult): string {
  const lines: string[] = [];
  // deno-lint-ignore no-explicit-any
  const train = (res.ours as any).train as Record<string, { breakdown?: StepBreakdown }>;
  for (const [b, r] of Object.entries(train)) {
    const x = r.breakdown;
    if (!x) continue;
    const pct = (v: number) => `${((100 * v) / x.updateMs).toFixed(0)}%`;
    lines.push(
      `train b${b}: ${x.updateMs.toFixed(1)} ms an update = products ${x.productMs.toFixed(1)} ` +
        `(${pct(x.productMs)}) + elementwise ${x.elementwiseMs.toFixed(1)} (${
          pct(x.elementwiseMs)
        }) + optimizer (norm and AdamW) ${x.optimizerMs.toFixed(1)} (${pct(x.optimizerMs)}) + ` +
        `loss and messages ${x.otherMs.toFixed(1)} (${pct(x.otherMs)}); ` +
        `whole step ${x.stepGflops.toFixed(0)} GFLOP/s (${
          (x.flopsPerSample / 1e6).toFixed(1)
        } MFLOP a sample); products ${x.productGflopsPerCore.toFixed(0)} GFLOP/s a core, ` +
        `so products alone would allow ${x.productCeiling.toFixed(0)} samples/s`,
    );
  }
  // deno-lint-ignore no-explicit-any
  const full = (res.ours as any).full as { eta?: EtaCheck[]; preset?: string } | undefined;
  if (full?.eta) {
    lines.push(`${recipeLabel(full.preset)}, the progress line's ETA ${etaLine(full.eta)}`);
  }
  // deno-lint-ignore no-explicit-any
  const opt = (res.ours as any).optimizer as OptimizerBench | undefined;
  if (opt) {
    lines.push(
      `AdamW over the ${(opt.params / 1e6).toFixed(1)} M parameters on one core: WebAssembly ` +
        `kernel ${opt.kernelMs.toFixed(1)} ms, scalar TypeScript loop ${
          opt.scalarMs.toFixed(1)
        } ms ` +
        `(${(opt.scalarMs / opt.kernelMs).toFixed(2)}x), ${
          opt.identical ? "the same" : "DIFFERENT"
        } bits`,
    );
  }
  return lines.join("\n");
}

/** Fused queries/s in evaluation mode, `rows` at a time, over the data-parallel workers. */
export async function benchInference(
  rows: number,
  workers: number,
  o: RunCounts,
): Promise<{ queriesPerSec: number; sec: number; times: number[] }> {
  const rng = new Rng(7);
  const t = randomUnitRows(rng, rows, 256), g = randomUnitRows(rng, rows, 256);
  const dp = await DataParallelTrainer.create({ workers, seed: 0 });
  try {
    const chunk = Math.ceil(rows / Math.max(1, dp.workers));
    const times = await timeRuns(Math.max(1, o.warmup), o.runs, () => dp.fuse(t, g, rows, chunk));
    const m = median(times);
    return { queriesPerSec: rows / m, sec: m, times };
  } finally {
    dp.dispose();
  }
}

/** Ranked queries/s against a random unit corpus `[corpus, 256]` (lib/model/ranking.ts). */
export async function benchRanking(
  corpus: number,
  queries: number,
  o: RunCounts,
): Promise<{ queriesPerSec: number; sec: number; times: number[] }> {
  const rng = new Rng(11);
  const c = randomUnitRows(rng, corpus, 256), q = randomUnitRows(rng, queries, 256);
  const targets = new Int32Array(queries);
  for (let i = 0; i < queries; i++) targets[i] = rng.int(corpus);
  const index = prepareCorpus(c, 256);
  try {
    const times = await timeRuns(
      Math.max(1, o.warmup),
      o.runs,
      () => rankTargets(index, [{ queries: q }], targets),
    );
    const m = median(times);
    return { queriesPerSec: queries / m, sec: m, times };
  } finally {
    index.dispose();
  }
}

/** `full recipe` for the paper's recipe (`default`), else `'NAME' recipe`. */
export function recipeLabel(preset = "default"): string {
  return preset === "default" ? "full recipe" : `'${preset}' recipe`;
}

/** The table as text: one row per measurement with the `ours / PyTorch` ratio. */
export function benchTable(res: BenchResult): string {
  const head = ["measure", "unit", "ours", "PyTorch", "ours / PyTorch"];
  const fmt = formatValue;
  const lines = res.rows.map((r) => [
    r.name,
    r.unit + (r.higherIsBetter ? "" : " (lower is better)"),
    fmt(r.ours),
    fmt(r.theirs),
    formatRatio(r.ratio),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (l: string[]) =>
    l.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [row(head), w.map((n) => "-".repeat(n)).join("  "), ...lines.map(row)].join("\n");
}

/** Runs both sides, prints nothing, writes the JSON to `o.out` (atomically) and returns it. */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const load0 = loadavg();
  const workers = dataParallelWorkers(o.threads);
  const ours: Record<string, unknown> = { backend: tf.getBackend(), workers, train: {} };
  const rows: BenchRow[] = [];
  const train = ours.train as Record<string, unknown>;
  ours.blas = nativeBlas()?.description ?? "none (tfjs wasm products)";
  let torchNote: string | undefined = o.torch ? undefined : "skipped (--no-torch)";
  if (o.torch) {
    const why = await ensureTorch(o.python, o.install, o.log);
    if (why) {
      torchNote = why;
      o.log(`bench: no PyTorch comparison: ${why}`);
    }
  }
  for (const b of o.batches) {
    o.log(`bench: ours, training at batch ${b} with ${workers} worker(s)…`);
    train[String(b)] = await benchTrainDataParallel(b, workers, o);
  }
  // the training rows run first, so that this peak is training's alone (as PyTorch's, whose
  // training runs in a process of its own), not the products' large matrices
  ours.trainPeakRssMB = peakRssMB();
  let products: ProductRow[] = [];
  let torchProducts: { name: string; gflops: number }[] | null = null;
  if (o.products) {
    const pr = await benchProducts(o.threads, o.runs, o.log);
    products = pr.rows;
    ours.productLibraries = pr.libraries;
    if (o.torch && !torchNote) {
      o.log(`bench: PyTorch, the four products with ${o.threads} thread(s)…`);
      try {
        // deno-lint-ignore no-explicit-any
        torchProducts = (await runTorchBench(o, true) as any).products;
      } catch (e) {
        o.log(`bench: PyTorch products failed: ${(e as Error).message}`);
      }
    }
  }
  o.log("bench: ours, AdamW on one core, WebAssembly kernel against the scalar loop…");
  ours.optimizer = benchOptimizer(o);
  const extra: Record<string, unknown> = {};
  if (!o.quick) {
    const b = o.batches[o.batches.length - 1];
    if (workers !== 1) {
      o.log(`bench: ours, training at batch ${b} with 1 worker (scaling)…`);
      extra[`dp1_${b}`] = await benchTrainDataParallel(b, 1, { warmup: 1, runs: 3 });
    }
    o.log(`bench: ours, training at batch ${b}, stock tfjs autodiff step, 1 thread…`);
    extra[`autodiff_${b}`] = await benchTrainAutodiff(b, { warmup: 1, runs: 3 });
  }
  ours.extra = extra;
  o.log(`bench: ours, inference (${o.inferRows} rows)…`);
  ours.infer = await benchInference(o.inferRows, workers, o);
  o.log(`bench: ours, ranking (${o.rankQueries} queries × ${o.corpus} corpus)…`);
  ours.rank = await benchRanking(o.corpus, o.rankQueries, o);
  ours.peakRssMB = peakRssMB();
  if (o.full) {
    const config = o.fullPreset ? trainConfig(o.fullPreset) : undefined;
    const preset = o.fullPreset ?? "default";
    ours.full = { ...(await benchFullRecipe(o.log, config ? { config } : {})), preset };
  }

  let torch: Record<string, unknown> | null = null;
  if (o.torch && !torchNote) {
    o.log(`bench: PyTorch, the same work with ${o.threads} thread(s)…`);
    try {
      torch = await runTorchBench(o);
      if (torchProducts) torch.products = torchProducts;
    } catch (e) {
      torchNote = (e as Error).message;
      o.log(torchNote);
    }
  }
  // deno-lint-ignore no-explicit-any
  const th = torch as any;
  const add = (name: string, unit: string, ours: number, theirs: number | null, hib = true) =>
    rows.push({
      name,
      unit,
      ours,
      theirs,
      ratio: theirs ? ours / theirs : null,
      higherIsBetter: hib,
    });
  for (const b of o.batches) {
    // deno-lint-ignore no-explicit-any
    const r = train[String(b)] as any;
    const theirs = th?.train?.[String(b)]?.samplesPerSec ?? null;
    add(`train b${b} (${r.workers} workers)`, "samples/s", r.samplesPerSec, theirs);
    const f = (r.breakdown as StepBreakdown).flopsPerSample;
    add(
      `train b${b}, whole step`,
      "GFLOP/s",
      r.breakdown.stepGflops,
      theirs === null ? null : (theirs * f) / 1e9,
    );
  }
  for (const [k, v] of Object.entries(extra)) {
    const b = Number(k.split("_")[1]);
    const label = k.startsWith("dp1") ? "1 worker" : "stock autodiff, 1 thread";
    add(
      `train b${b} (${label})`,
      "samples/s",
      (v as { samplesPerSec: number }).samplesPerSec,
      th?.train?.[String(b)]?.samplesPerSec ?? null,
    );
  }
  // deno-lint-ignore no-explicit-any
  const inf = ours.infer as any, rk = ours.rank as any;
  add(
    `inference (${o.inferRows} rows)`,
    "queries/s",
    inf.queriesPerSec,
    th?.infer?.queriesPerSec ?? null,
  );
  add(
    `ranking (${o.corpus} corpus)`,
    "queries/s",
    rk.queriesPerSec,
    th?.rank?.queriesPerSec ?? null,
  );
  if (ours.full) {
    const f = ours.full as { sec: number; epochs: number; dialogues: number };
    add(
      `${recipeLabel(o.fullPreset)} (${f.epochs} epochs, ${f.dialogues} dialogues)`,
      "minutes",
      f.sec / 60,
      null,
      false,
    );
  }
  for (const r of products) {
    // deno-lint-ignore no-explicit-any
    const tp = (th?.products as any[] | undefined)?.find((x) => x.name === r.shape.name);
    r.gflops.torch = tp ? tp.gflops : null;
  }
  add(
    "peak memory, training",
    "MB",
    ours.trainPeakRssMB as number,
    th?.trainPeakRssMB ?? null,
    false,
  );
  const res: BenchResult = {
    date: new Date().toISOString(),
    machine: {
      name: machineName(),
      cpus: navigator.hardwareConcurrency ?? 0,
      loadavg: load0,
      loadavgEnd: loadavg(),
      deno: Deno.version.deno,
    },
    settings: {
      threads: o.threads,
      runs: o.runs,
      warmup: o.warmup,
      batches: o.batches,
      inferRows: o.inferRows,
      corpus: o.corpus,
      rankQueries: o.rankQueries,
      quick: o.quick,
      full: o.full,
      torchEnv: Deno.env.get("OPENBLAS_CORETYPE")
        ? `OPENBLAS_CORETYPE=${Deno.env.get("OPENBLAS_CORETYPE")} set here, unset for PyTorch`
        : "no OPENBLAS_CORETYPE override on either side",
      blasEnv: Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([k]) =>
          k.startsWith("OPENBLAS_") || k.startsWith("ADAFUSE_BLAS") || k.startsWith("OMP_")
        ),
      ),
      shapes: "the reference's sizes: d=256, P=512, H=2048, K=4, dropout 0.2",
    },
    ours,
    torch,
    ...(torchNote ? { torchNote } : {}),
    rows,
    products,
  };
  await writeFileAtomic(o.out, JSON.stringify(res, null, 2) + "\n");
  return res;
}
