/**
 * lib/bench/: the speed benchmark against the PyTorch reference. May import runtime/ … paper/.
 *
 * Long because every measurement is a row of the one table runBench assembles.
 *
 * The side-by-side benchmark behind `deno task bench`: ours (TensorFlow.js on wasm, the
 * data-parallel trainer of lib/train/parallel/trainer.ts, ranking of lib/model/ranking.ts) against the
 * PyTorch reference head (lib/tools/bench_torch.py) with the same thread count, on the same shapes
 * (SPEC §2 defaults): training samples/s at batch 128 and 256 (forward, symmetric InfoNCE,
 * backward, clipping, AdamW), fused-query inference queries/s, ranking queries/s against a
 * 50,000 × 256 corpus, and the peak memory of training.
 *
 * Every time is the median of several runs after warm-up. Ratios are ours / PyTorch for
 * throughputs (above 1 is better) and for memory (below 1 is better).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../train/adamw.ts";
import { clipByGlobalNorm } from "../train/clip.ts";
import { DataParallelTrainer, dataParallelWorkers } from "../train/parallel/trainer.ts";
import { infoNceLoss } from "../train/loss.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { CACHE_DIR, readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import { prepareCorpus, rankTargets } from "../model/ranking.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { loadBundle } from "../data/bundle.ts";
import { HeadMath, trainFlopsPerSample } from "../model/head_math.ts";
import { type EtaCheck, etaLine, EtaRecorder } from "./eta.ts";
import { fusionConfig } from "../model/config.ts";
import { jsSgemm } from "../runtime/js_sgemm.ts";
import { AdamWKernel, adamwSlice } from "../train/parallel/adamw.ts";
import { bufferViews, createSharedBuffers } from "../train/parallel/buffers.ts";
import { type BlasLibrary, openBlas } from "../runtime/blas.ts";
import {
  installNativeMatMul,
  nativeBlas,
  uninstallNativeMatMul,
} from "../runtime/native_kernels.ts";
import { ensureSynthetic } from "../data/synthetic/generator.ts";
import { train as trainRun } from "../train/loop.ts";
import {
  defaultTrainConfig,
  type TrainConfig,
  trainConfig,
  trainConfigHash,
} from "../train/config.ts";

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

/** One product of the per-product table: `op(A)` `m × k` times `op(B)` `k × n`. */
export interface ProductShape {
  /** What it is in the head. */
  name: string;
  /** Rows of the result. */
  m: number;
  /** Columns of the result. */
  n: number;
  /** Inner dimension. */
  k: number;
  /** `A` is stored `k × m` and used transposed. */
  transA: boolean;
  /** `B` is stored `n × k` and used transposed. */
  transB: boolean;
}

/**
 * The four products of issue #9: the fused expert layer forward (`X·W`, batch 128), its two
 * gradient products with transpose flags (`dY·Wᵀ`, `Xᵀ·dY`) and a ranking chunk against a
 * 50,000-item corpus (`Q·Cᵀ`, the corpus stored transposed `[d, N]` as lib/model/ranking.ts
 * keeps it).
 */
export const BENCH_PRODUCTS: readonly ProductShape[] = Object.freeze([
  { name: "experts fwd X·W", m: 128, n: 8192, k: 1024, transA: false, transB: false },
  { name: "experts dX = dY·Wᵀ", m: 128, n: 1024, k: 8192, transA: false, transB: true },
  { name: "experts dW = Xᵀ·dY", m: 1024, n: 8192, k: 128, transA: true, transB: false },
  { name: "ranking Q·Cᵀ", m: 256, n: 50_000, k: 256, transA: false, transB: false },
]);

/** GFLOP/s of one product per implementation (null where it did not run). */
export interface ProductRow {
  /** The product. */
  shape: ProductShape;
  /** GFLOP/s per implementation: `tfjs-wasm`, `openblas`, `dnnl`, `torch`. */
  gflops: Record<string, number | null>;
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

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A measured value with 3 significant digits or so (`1234`, `56.7`, `8.90`); `n/a` for null. */
export function formatValue(x: number | null): string {
  return x === null ? "n/a" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** A ratio written like `1.23x`; `n/a` for null. */
export function formatRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}x`;
}

/**
 * The machine in words, from /proc/cpuinfo and /proc/meminfo: CPU model, cores, widest vector
 * extension, memory (e.g. `AMD EPYC (2 cores, AVX2, 23 GB)`); `unknown` elsewhere.
 */
export function machineName(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const model = info.match(/model name\s*:\s*(.+)/)?.[1]?.trim() ?? "unknown CPU";
    const flags = info.match(/flags\s*:\s*(.+)/)?.[1] ?? "";
    const simd = /\bavx512f\b/.test(flags) ? "AVX-512" : /\bavx2\b/.test(flags) ? "AVX2" : "SSE";
    const kb = Number(Deno.readTextFileSync("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1] ?? 0);
    const cores = navigator.hardwareConcurrency ?? 0;
    return `${model} (${cores} cores, ${simd}, ${Math.round(kb / 2 ** 20)} GB)`;
  } catch {
    return "unknown";
  }
}

function _loadavg(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/** The process's peak resident memory (`VmHWM`, all threads) in MB; 0 when unknown. */
export function peakRssMB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current RSS
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

async function _times(warmup: number, runs: number, f: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

/** Where one update of a training measurement went (milliseconds, medians over runs). */
export interface StepBreakdown {
  /** Wall time of one update (micro-batch and optimizer step). */
  updateMs: number;
  /** Of it, in the workers' matrix products (mean over workers). */
  productMs: number;
  /** In the workers' elementwise work (the kernel's time outside products). */
  elementwiseMs: number;
  /** In the optimizer step: the gradient's norm and AdamW on every worker, with their messages. */
  optimizerMs: number;
  /** The rest: the loss, the micro-batch's messages, waiting. */
  otherMs: number;
  /** Matrix-product FLOPs of one sample's step (lib/model/head_math.ts). */
  flopsPerSample: number;
  /** GFLOP/s of the whole step (its product FLOPs over its wall time). */
  stepGflops: number;
  /** GFLOP/s of the products alone, per worker (one core each). */
  productGflopsPerCore: number;
  /** Samples/s if a step were its products alone at that rate on every worker. */
  productCeiling: number;
}

/** Samples/s of training steps at `batch` with the data-parallel trainer and `workers`. */
export async function benchTrainDataParallel(
  batch: number,
  workers: number,
  o: Pick<BenchOptions, "warmup" | "runs">,
): Promise<
  { samplesPerSec: number; stepSec: number; times: number[]; workers: number } & {
    breakdown: StepBreakdown;
  }
> {
  const d = 256;
  const rng = new Rng(batch);
  const b = {
    t: randomUnitRows(rng, batch, d),
    g: randomUnitRows(rng, batch, d),
    y: randomUnitRows(rng, batch, d),
  };
  const dp = await DataParallelTrainer.create({ workers, seed: 0 });
  try {
    let seed = 1, optMs = 0;
    const step = async () => {
      await dp.microBatch({ ...b, rows: batch, seed: seed++ });
      const t = performance.now();
      await dp.update(5e-5);
      optMs = performance.now() - t;
    };
    for (let i = 0; i < o.warmup; i++) await step();
    await dp.timing();
    const times: number[] = [], prod: number[] = [], kern: number[] = [], opt: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const t0 = performance.now();
      await step();
      times.push((performance.now() - t0) / 1000);
      opt.push(optMs);
      const tm = await dp.timing();
      prod.push(tm.reduce((a, x) => a + x.productMs, 0) / tm.length);
      kern.push(tm.reduce((a, x) => a + x.kernelMs, 0) / tm.length);
    }
    const m = median(times);
    const flops = trainFlopsPerSample(dp.config);
    const productMs = median(prod), kernelMs = median(kern), optimizerMs = median(opt);
    const perCore = (flops * batch / Math.max(1, dp.workers)) / (productMs / 1000) / 1e9;
    const breakdown: StepBreakdown = {
      updateMs: m * 1000,
      productMs,
      elementwiseMs: kernelMs - productMs,
      optimizerMs,
      otherMs: m * 1000 - kernelMs - optimizerMs,
      flopsPerSample: flops,
      stepGflops: (flops * batch) / m / 1e9,
      productGflopsPerCore: perCore,
      productCeiling: (perCore * 1e9 * Math.max(1, dp.workers)) / flops,
    };
    return { samplesPerSec: batch / m, stepSec: m, times, workers: dp.workers, breakdown };
  } finally {
    dp.dispose();
  }
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
        }) + ${
          // bench.json files from before the optimizer was timed apart count it in the rest
          x.optimizerMs === undefined
            ? "loss, optimizer and messages"
            : `optimizer (norm and AdamW) ${x.optimizerMs.toFixed(1)} (${
              pct(x.optimizerMs)
            }) + loss and messages`} ${x.otherMs.toFixed(1)} (${pct(x.otherMs)}); ` +
        `whole step ${x.stepGflops.toFixed(0)} GFLOP/s (${
          (x.flopsPerSample / 1e6).toFixed(1)
        } MFLOP a sample); products ${x.productGflopsPerCore.toFixed(0)} GFLOP/s a core, ` +
        `so products alone would allow ${x.productCeiling.toFixed(0)} samples/s`,
    );
  }
  // deno-lint-ignore no-explicit-any
  const full = (res.ours as any).full as { eta?: EtaCheck[] } | undefined;
  if (full?.eta) lines.push(`full recipe, the progress line's ETA ${etaLine(full.eta)}`);
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

/** One core's AdamW pass over the default head's parameters, kernel against its definition. */
export interface OptimizerBench {
  /** Parameters updated. */
  params: number;
  /** Median milliseconds of the WebAssembly kernel (lib/train/parallel/adamw.ts). */
  kernelMs: number;
  /** Median milliseconds of the scalar loop that defines the update. */
  scalarMs: number;
  /** Whether both gave the same weights and moments, bit for bit. */
  identical: boolean;
}

/**
 * Times AdamW over the default head's parameters (or `n`) on one core: the WebAssembly kernel
 * that the trainer runs against the scalar loop that defines it, on the same random state.
 */
export function benchOptimizer(
  o: Pick<BenchOptions, "warmup" | "runs">,
  n = new HeadMath(fusionConfig(), jsSgemm).size,
): OptimizerBench {
  const bufs = createSharedBuffers(n), views = bufferViews(bufs);
  const rng = new Rng(3);
  for (let i = 0; i < n; i++) {
    views.sum[i] = rng.normal() * 1e-3;
    views.weights[i] = rng.normal() * 0.02;
  }
  const ref = { p: views.weights.slice(), m: views.m.slice(), v: views.v.slice() };
  const kernel = new AdamWKernel(bufs);
  const args = (step: number) => ({
    lr: 1e-4,
    step,
    coef: 1,
    opts: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    noDecay: [] as [number, number][],
  });
  const k: number[] = [], sc: number[] = [];
  for (let i = 0; i < o.warmup + o.runs; i++) {
    const t0 = performance.now();
    kernel.update(0, n, args(i + 1));
    const t1 = performance.now();
    adamwSlice(ref.p, ref.m, ref.v, views.sum, 0, n, args(i + 1));
    const t2 = performance.now();
    if (i >= o.warmup) k.push(t1 - t0), sc.push(t2 - t1);
  }
  const same = (a: Float32Array, b: Float32Array) => a.every((x, i) => Object.is(x, b[i]));
  return {
    params: n,
    kernelMs: median(k),
    scalarMs: median(sc),
    identical: same(views.weights, ref.p) && same(views.m, ref.m) && same(views.v, ref.v),
  };
}

/** Samples/s of the stock single-threaded step (tfjs autodiff, as lib/train/loop.ts steps). */
export async function benchTrainAutodiff(
  batch: number,
  o: Pick<BenchOptions, "warmup" | "runs">,
): Promise<{ samplesPerSec: number; stepSec: number; times: number[] }> {
  const d = 256;
  const rng = new Rng(batch);
  const head = FusionHead.create({}, 0);
  const opt = new AdamW(head.variables);
  const t = tf.tensor2d(randomUnitRows(rng, batch, d), [batch, d]);
  const g = tf.tensor2d(randomUnitRows(rng, batch, d), [batch, d]);
  const y = tf.tensor2d(randomUnitRows(rng, batch, d), [batch, d]);
  try {
    let seed = 1;
    const times = await _times(o.warmup, o.runs, async () => {
      const { grads, value } = tf.variableGrads(
        () => infoNceLoss(head.apply(t, g, { training: true, seed: seed++ }).q, y, head.scale()),
        head.variables,
      );
      const gl = head.variables.map((v) => grads[v.name]);
      const { grads: clipped } = await clipByGlobalNorm(gl, 3.0);
      opt.step(clipped, 5e-5);
      await value.data();
      tf.dispose([value, ...gl, ...clipped]);
    });
    const m = median(times);
    return { samplesPerSec: batch / m, stepSec: m, times };
  } finally {
    tf.dispose([t, g, y]);
    opt.dispose();
    head.dispose();
  }
}

/** Fused queries/s in evaluation mode, `rows` at a time, over the data-parallel workers. */
export async function benchInference(
  rows: number,
  workers: number,
  o: Pick<BenchOptions, "warmup" | "runs">,
): Promise<{ queriesPerSec: number; sec: number; times: number[] }> {
  const rng = new Rng(7);
  const t = randomUnitRows(rng, rows, 256), g = randomUnitRows(rng, rows, 256);
  const dp = await DataParallelTrainer.create({ workers, seed: 0 });
  try {
    const chunk = Math.ceil(rows / Math.max(1, dp.workers));
    const times = await _times(Math.max(1, o.warmup), o.runs, () => dp.fuse(t, g, rows, chunk));
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
  o: Pick<BenchOptions, "warmup" | "runs">,
): Promise<{ queriesPerSec: number; sec: number; times: number[] }> {
  const rng = new Rng(11);
  const c = randomUnitRows(rng, corpus, 256), q = randomUnitRows(rng, queries, 256);
  const targets = new Int32Array(queries);
  for (let i = 0; i < queries; i++) targets[i] = rng.int(corpus);
  const index = prepareCorpus(c, 256);
  try {
    const times = await _times(
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

/**
 * Seconds of `tf.matMul` for `p` on the wasm backend with whatever kernels are registered:
 * the median of `runs` after one warm-up, except that a first call over 1 s counts as the only
 * run (tfjs's transposed products take seconds).
 */
export async function timeProduct(p: ProductShape, runs: number): Promise<number> {
  const rng = new Rng(p.m * 7 + p.n);
  const a = tf.tensor2d(
    randomUnitRows(rng, p.transA ? p.k : p.m, p.transA ? p.m : p.k),
    p.transA ? [p.k, p.m] : [p.m, p.k],
  );
  const b = tf.tensor2d(
    randomUnitRows(rng, p.transB ? p.n : p.k, p.transB ? p.k : p.n),
    p.transB ? [p.n, p.k] : [p.k, p.n],
  );
  // The wasm backend runs kernels synchronously: the product is done when matMul returns (the
  // read-back, a copy of the output, is left out of the time on purpose).
  const once = () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b, p.transA, p.transB);
    const sec = (performance.now() - t0) / 1000;
    c.dispose();
    return Promise.resolve(sec);
  };
  try {
    const first = await once();
    if (first > 1) return first;
    const ts: number[] = [];
    for (let i = 0; i < runs; i++) ts.push(await once());
    return median(ts);
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * The per-product table: tfjs's own wasm kernels, then each installed native library through
 * the kernels of lib/runtime/native_kernels.ts (`threads` threads), as `tf.matMul` calls on the
 * wasm backend (output allocation included, read-back not). Restores the kernels that ran before.
 */
export async function benchProducts(
  threads: number,
  runs: number,
  log: (s: string) => void = () => {},
  shapes: readonly ProductShape[] = BENCH_PRODUCTS,
): Promise<{ rows: ProductRow[]; libraries: Record<string, string> }> {
  if (tf.getBackend() !== "wasm") throw new Error("benchProducts: needs the wasm backend");
  const before = nativeBlas();
  const libraries: Record<string, string> = {};
  const rows: ProductRow[] = shapes.map((shape) => ({ shape, gflops: {} }));
  const gf = (p: ProductShape, sec: number) => (2 * p.m * p.n * p.k) / sec / 1e9;
  try {
    const impls: (BlasLibrary | "tfjs-wasm")[] = ["tfjs-wasm", "openblas", "dnnl"];
    for (const impl of impls) {
      if (impl === "tfjs-wasm") {
        uninstallNativeMatMul();
        libraries[impl] = "TensorFlow.js wasm (XNNPACK), 1 thread";
      } else {
        try {
          openBlas(impl, threads)?.close();
        } catch (e) {
          log(`bench: products: ${impl} not measured: ${(e as Error).message}`);
          for (const r of rows) r.gflops[impl] = null;
          continue;
        }
        libraries[impl] = installNativeMatMul(impl, threads).description;
      }
      for (const r of rows) {
        log(`bench: products: ${impl}, ${r.shape.name}…`);
        r.gflops[impl] = gf(r.shape, await timeProduct(r.shape, runs));
      }
    }
  } finally {
    if (before) installNativeMatMul(before.library, before.threads);
    else uninstallNativeMatMul();
  }
  return { rows, libraries };
}

/** The per-product table as text: GFLOP/s per implementation, one row per product. */
export function productTable(rows: ProductRow[], threads: number): string {
  const impls = ["tfjs-wasm", "openblas", "dnnl", "torch"];
  const titles: Record<string, string> = {
    "tfjs-wasm": "tfjs wasm (1 thr)",
    openblas: `OpenBLAS (${threads} thr)`,
    dnnl: `oneDNN (${threads} thr)`,
    torch: `PyTorch (${threads} thr)`,
  };
  const head = ["product (GFLOP/s)", "m×n×k", ...impls.map((i) => titles[i])];
  const lines = rows.map((r) => [
    r.shape.name,
    `${r.shape.m}×${r.shape.n}×${r.shape.k}`,
    ...impls.map((i) => {
      const v = r.gflops[i];
      return v === null || v === undefined ? "n/a" : v >= 10 ? v.toFixed(0) : v.toFixed(1);
    }),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (l: string[]) =>
    l.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [row(head), w.map((n) => "-".repeat(n)).join("  "), ...lines.map(row)].join("\n");
}

/** What {@linkcode benchFullRecipe} trains; the defaults are the full recipe. */
export interface FullRecipeOptions {
  /** Synthetic data preset (default `default`: 123,287 training dialogues). */
  preset?: string;
  /** Overrides of the synthetic config (tests shrink the data). */
  dataOverrides?: Record<string, unknown>;
  /** Where the synthetic bundle goes (default: the cache, shared with `deno task repro`). */
  dataDir?: string;
  /** The training config (default: the `default` preset of lib/train/config.ts). */
  config?: TrainConfig;
  /** The run folder (default: under the cache, named by the config and data). */
  runDir?: string;
}

/**
 * Wall seconds of the full reference recipe (`default` training preset: 50 epochs, batch 128,
 * accumulation 16, validation every epoch) on the default synthetic data (123,287 training
 * dialogues; generated first when not cached, not timed), into a run folder under the cache
 * (`data/cache/bench-full-<hash>`): an interrupted measurement resumes where it stopped (its
 * time is the sum of the sessions'), and the folder is removed once it finished. Progress lines
 * (with the ETA) go to `log`; the ETA read at a quarter, half and three quarters of this session's
 * updates is compared with the time the run then took (lib/bench/eta.ts).
 */
export async function benchFullRecipe(
  log: (s: string) => void,
  opts: FullRecipeOptions = {},
): Promise<{ sec: number; epochs: number; dialogues: number; eta: EtaCheck[] }> {
  const c = structuredClone(opts.config ?? defaultTrainConfig) as TrainConfig;
  const dir = await ensureSynthetic({
    preset: opts.preset ?? "default",
    seed: c.seed,
    ...(opts.dataDir ? { dir: opts.dataDir } : {}),
    ...(opts.dataOverrides ? { overrides: opts.dataOverrides } : {}),
  });
  const data = await loadBundle(dir, { splits: [c.trainSplit, c.valSplit] });
  const out = opts.runDir ??
    `${CACHE_DIR}/cache/bench-full-${(await trainConfigHash(c)).slice(0, 8)}-${
      dir.split("/").pop()
    }`;
  const clock = `${out}/bench_seconds.json`;
  const before = (await readJsonIfExists<{ sec: number }>(clock))?.sec ?? 0;
  await Deno.mkdir(out, { recursive: true });
  log(
    `bench: full recipe (${c.epochs} epochs) on ${dir} into ${out}` +
      (before ? ` (resuming; ${(before / 60).toFixed(1)} min so far)` : "") + "…",
  );
  const t0 = performance.now();
  const tick = setInterval(() => {
    writeFileAtomic(clock, JSON.stringify({ sec: before + (performance.now() - t0) / 1000 }))
      .catch(() => {});
  }, 30_000);
  const eta = new EtaRecorder();
  let r;
  try {
    r = await trainRun(data, c, { outDir: out, log, onProgress: eta.onProgress });
  } finally {
    clearInterval(tick);
    await writeFileAtomic(clock, JSON.stringify({ sec: before + (performance.now() - t0) / 1000 }));
  }
  const sec = before + (performance.now() - t0) / 1000;
  const checks = eta.finish();
  log(`bench: full recipe done in ${(sec / 60).toFixed(1)} min; the ETA ${etaLine(checks)}`);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  return { sec, epochs: r.epochsDone, dialogues: data.splits[c.trainSplit].count, eta: checks };
}

async function _run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Makes sure `python` can import torch: when it cannot and `install` is set, installs Debian's
 * `python3-torch` and `libopenblas0-pthread` with apt-get (after a `dpkg-query` check).
 * Returns null when ready, else the reason.
 */
export async function ensureTorch(
  python: string,
  install: boolean,
  log: (s: string) => void,
): Promise<string | null> {
  const probe = async () => {
    try {
      return (await _run(python, ["-c", "import torch, numpy"])).code === 0;
    } catch {
      return false;
    }
  };
  if (await probe()) return null;
  if (!install) return `${python} cannot import torch (and --no-install was given)`;
  const pkgs = ["python3-torch", "libopenblas0-pthread"];
  const missing: string[] = [];
  for (const p of pkgs) {
    const q = await _run("dpkg-query", ["-W", "-f=${Status}", p]).catch(() => null);
    if (!q || !q.stdout.includes("install ok installed")) missing.push(p);
  }
  if (missing.length === 0) {
    return `${python} cannot import torch although ${pkgs.join(", ")} are installed`;
  }
  log(`bench: installing ${missing.join(" ")} with apt-get (PyTorch side of the comparison)…`);
  const sudo = Deno.uid?.() === 0 ? [] : ["sudo", "-n"];
  const run = (args: string[]) =>
    sudo.length ? _run(sudo[0], [...sudo.slice(1), ...args]) : _run(args[0], args.slice(1));
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let r = await _run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], env)
    .catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
  if (sudo.length || r.code !== 0) {
    await run(["apt-get", "update"]).catch(() => null);
    r = await run(["apt-get", "install", "-y", "--no-install-recommends", ...missing])
      .catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
  }
  if (r.code !== 0) return `apt-get install ${missing.join(" ")} failed: ${r.stderr.slice(-300)}`;
  return (await probe()) ? null : `${python} still cannot import torch after installing`;
}

/**
 * The environment of the PyTorch process: ours with the thread counts set to `threads`, and
 * without `OPENBLAS_CORETYPE` (a core override some machines set, which slows OpenBLAS's
 * products where the core is detected right): PyTorch at its best on this machine. Pass
 * `keepCoretype` where the machine needs the override to run correctly.
 */
export function torchEnv(threads: number, keepCoretype = false): Record<string, string> {
  const t = String(threads);
  const env = Deno.env.toObject();
  if (!keepCoretype) delete env.OPENBLAS_CORETYPE;
  return { ...env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
}

/**
 * Runs lib/tools/bench_torch.py with the same shapes and threads; its parsed JSON. `productsOnly`
 * times only the four products (run right after ours, so that both sides see the same load).
 */
export async function runTorchBench(
  o: BenchOptions,
  productsOnly = false,
): Promise<Record<string, unknown>> {
  const script = new URL("../tools/bench_torch.py", import.meta.url).pathname;
  const t = String(o.threads);
  const r = await _run(o.python, [
    script,
    ...(productsOnly ? ["--products-only", "--products", JSON.stringify(BENCH_PRODUCTS)] : []),
    "--threads",
    t,
    "--batches",
    o.batches.join(","),
    "--warmup",
    String(o.warmup),
    "--runs",
    String(o.runs),
    "--infer-rows",
    String(o.inferRows),
    "--corpus",
    String(o.corpus),
    "--rank-queries",
    String(o.rankQueries),
  ], torchEnv(o.threads));
  if (r.code !== 0) {
    throw new Error(`bench: ${script} failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
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
  const load0 = _loadavg();
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
  for (const b of o.batches) {
    o.log(`bench: ours, training at batch ${b} with ${workers} worker(s)…`);
    train[String(b)] = await benchTrainDataParallel(b, workers, o);
  }
  ours.trainPeakRssMB = peakRssMB();
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
    ours.full = await benchFullRecipe(o.log, config ? { config } : {});
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
      `${
        o.fullPreset && o.fullPreset !== "default" ? `'${o.fullPreset}' recipe` : "full recipe"
      } (${f.epochs} epochs, ${f.dialogues} dialogues)`,
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
      loadavgEnd: _loadavg(),
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
      shapes: "SPEC §2 defaults: d=256, P=512, H=2048, K=4, dropout 0.2",
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
