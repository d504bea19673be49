/**
 * The training rows of `deno task bench`: samples/s of the data-parallel trainer with where an
 * update's time goes, the stock autodiff step, AdamW's WebAssembly kernel against its scalar
 * definition, and the wall time of a whole recipe with how right its ETA was.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../train/adamw.ts";
import { clipByGlobalNorm } from "../train/clip.ts";
import { DataParallelTrainer } from "../train/parallel/trainer.ts";
import { infoNceLoss } from "../train/loss.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { CACHE_DIR, readJsonIfExists, writeFileAtomic } from "../runtime/paths.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { loadBundle } from "../data/bundle.ts";
import { HeadMath, trainFlopsPerSample } from "../model/head_math.ts";
import { fusionConfig } from "../model/config.ts";
import { jsSgemm } from "../runtime/js_sgemm.ts";
import { AdamWKernel, adamwSlice } from "../train/parallel/adamw.ts";
import { bufferViews, createSharedBuffers } from "../train/parallel/buffers.ts";
import { ensureSynthetic } from "../data/synthetic/generator.ts";
import { train as trainRun } from "../train/loop.ts";
import { fullTrainConfig, type TrainConfig, trainConfigHash } from "../train/config.ts";
import { type EtaCheck, etaLine, EtaRecorder } from "./eta.ts";
import { median, type RunCounts, timeRuns } from "./_measure.ts";

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
  o: RunCounts,
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
  o: RunCounts,
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
  o: RunCounts,
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
    const times = await timeRuns(o.warmup, o.runs, async () => {
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
  const c = structuredClone(opts.config ?? fullTrainConfig) as TrainConfig;
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
    `bench: the recipe (${c.epochs} epochs) on ${dir} into ${out}` +
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
  log(`bench: the recipe done in ${(sec / 60).toFixed(1)} min; the ETA ${etaLine(checks)}`);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  return { sec, epochs: r.epochsDone, dialogues: data.splits[c.trainSplit].count, eta: checks };
}
