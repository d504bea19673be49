/**
 * The GPU check behind `deno task gpu-check` (lib/cli/gpu_check.ts).
 *
 * Long because every part is a row of the one report runGpuCheck assembles.
 *
 * Reports the WebGPU adapter Deno finds (vendor, architecture, device, description, the limits
 * that bound the head's products) and whether it is a software rasteriser (Mesa's
 * lavapipe/llvmpipe/softpipe, SwiftShader, or any adapter flagged as a fallback); times training
 * steps of the fusion head (forward, symmetric InfoNCE, tfjs autodiff backward, clipping at 3.0,
 * AdamW: the step of lib/train/loop.ts's autodiff engine) on whatever backend runs, and the same
 * steps on the native CPU path (the data-parallel engine of lib/train/parallel/trainer.ts, as
 * `deno task bench` times it); runs lib/tools/gpu_torch.py for PyTorch on CUDA where present.
 * Every loop stops when its share of the time budget is spent and reports the steps it did.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../train/adamw.ts";
import { clipByGlobalNorm } from "../train/clip.ts";
import { infoNceLoss } from "../train/loss.ts";
import { DataParallelTrainer } from "../train/parallel/trainer.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { type FusionConfig, fusionConfig } from "../model/config.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { initBackend } from "../runtime/backend.ts";
import { writeFileAtomic } from "../runtime/paths.ts";

/** The sizes `--tiny` trains (the shapes lib/integration/webgpu_test.ts uses on lavapipe). */
export const TINY_MODEL: Readonly<Partial<FusionConfig>> = Object.freeze({
  dim: 16,
  proj: 8,
  hidden: 16,
  experts: 2,
});

/** The adapter limits reported (the ones that bound the head's buffers and dispatches). */
export const ADAPTER_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

/** What {@linkcode probeAdapter} found. */
export interface AdapterReport {
  /** Vendor string of the adapter (may be empty). */
  vendor: string;
  /** Architecture string (may be empty). */
  architecture: string;
  /** Device string (may be empty). */
  device: string;
  /** Driver description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** The adapter's own `isFallbackAdapter` flag. */
  isFallbackAdapter: boolean;
  /** Why it is a software (CPU) adapter, or null for a hardware GPU. */
  software: string | null;
  /** The limits of {@linkcode ADAPTER_LIMITS} (absent ones left out). */
  limits: Record<string, number>;
  /** The adapter's features, sorted. */
  features: string[];
}

const _SOFTWARE = /lavapipe|llvmpipe|softpipe|swiftshader/i;

/**
 * Why an adapter with these strings is a software rasteriser, or null when it looks like a GPU:
 * a name of Mesa's CPU drivers or SwiftShader in any string, or the fallback flag.
 */
export function softwareAdapterReason(
  info: Pick<AdapterReport, "vendor" | "architecture" | "device" | "description">,
  isFallbackAdapter = false,
): string | null {
  for (const s of [info.description, info.device, info.vendor, info.architecture]) {
    const m = s?.match(_SOFTWARE);
    if (m) return `software rasteriser (${m[0].toLowerCase()}: "${s}")`;
  }
  return isFallbackAdapter ? "the adapter says it is a fallback (CPU) adapter" : null;
}

/**
 * The WebGPU adapter Deno finds (`navigator.gpu.requestAdapter()`, high-performance preference),
 * or null when there is none (no `navigator.gpu`, no driver, or requestAdapter failing).
 */
export async function probeAdapter(): Promise<AdapterReport | null> {
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu as GPU | undefined;
  if (!gpu) return null;
  // Mesa's Vulkan loader complains on stderr when XDG_RUNTIME_DIR is unset: give it one.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());
  let a: GPUAdapter | null;
  try {
    a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (!a) return null;
  // deno-lint-ignore no-explicit-any
  const ad = a as any;
  let info = ad.info;
  if (!info && typeof ad.requestAdapterInfo === "function") info = await ad.requestAdapterInfo();
  info ??= {};
  const limits: Record<string, number> = {};
  for (const k of ADAPTER_LIMITS) {
    const v = ad.limits?.[k];
    if (typeof v === "number") limits[k] = v;
  }
  const base = {
    vendor: String(info.vendor ?? ""),
    architecture: String(info.architecture ?? ""),
    device: String(info.device ?? ""),
    description: String(info.description ?? ""),
  };
  const fallback = Boolean(info.isFallbackAdapter ?? ad.isFallbackAdapter ?? false);
  return {
    ...base,
    isFallbackAdapter: fallback,
    software: softwareAdapterReason(base, fallback),
    limits,
    features: [...(a.features ?? [])].map(String).sort(),
  };
}

/** How a training-step loop went. */
export interface StepTiming {
  /** Steps asked for. */
  stepsRequested: number;
  /** Steps run, warm-up included (fewer than asked when the budget ran out). */
  steps: number;
  /** Steps timed (after the warm-up step). */
  stepsTimed: number;
  /** Seconds of the first (warm-up: shader compilation, allocation) step. */
  warmupSec: number;
  /** Seconds of the timed steps together. */
  sec: number;
  /** Median seconds of one timed step (of the warm-up step when only that ran). */
  stepSecMedian: number;
  /** `batch × stepsTimed / sec` (the warm-up step's rate when only that ran). */
  samplesPerSec: number;
  /** Whether the loop stopped on the time budget. */
  budgetHit: boolean;
  /** Loss after the last step. */
  lastLoss: number;
}

/** What the step loops of this module take. */
export interface StepLoopOptions {
  /** Rows per step. */
  batch: number;
  /** Steps to run (the first is the untimed warm-up when there are two or more). */
  steps: number;
  /** Seconds after which no new step starts. */
  budgetSec: number;
  /** Model sizes (default: the reference's, docs/method.md). */
  model?: Partial<FusionConfig>;
  /** Seed of the weights, the data and the dropout masks. */
  seed?: number;
}

function _timing(o: StepLoopOptions, times: number[], budgetHit: boolean, loss: number) {
  const timed = times.length > 1 ? times.slice(1) : times;
  const sec = timed.reduce((s, x) => s + x, 0);
  const sorted = [...timed].sort((a, b) => a - b);
  const med = sorted.length === 0
    ? 0
    : sorted.length % 2
    ? sorted[sorted.length >> 1]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return {
    stepsRequested: o.steps,
    steps: times.length,
    stepsTimed: times.length > 1 ? timed.length : 0,
    warmupSec: times[0] ?? 0,
    sec,
    stepSecMedian: med,
    samplesPerSec: sec > 0 ? (o.batch * timed.length) / sec : 0,
    budgetHit,
    lastLoss: loss,
  } satisfies StepTiming;
}

async function _loop(
  o: StepLoopOptions,
  step: (i: number) => Promise<number>,
): Promise<StepTiming> {
  const t0 = performance.now();
  const times: number[] = [];
  let loss = NaN;
  let budgetHit = false;
  for (let i = 0; i < o.steps; i++) {
    if (i > 0 && (performance.now() - t0) / 1000 >= o.budgetSec) {
      budgetHit = true;
      break;
    }
    const s = performance.now();
    loss = await step(i);
    times.push((performance.now() - s) / 1000);
  }
  return _timing(o, times, budgetHit, loss);
}

function _batch(o: StepLoopOptions) {
  const d = fusionConfig(o.model ?? {}).dim;
  const rng = new Rng(o.seed ?? 0);
  return {
    d,
    t: randomUnitRows(rng, o.batch, d),
    g: randomUnitRows(rng, o.batch, d),
    y: randomUnitRows(rng, o.batch, d),
  };
}

/**
 * Training steps of the head on the current tfjs backend with tfjs autodiff (the step of
 * lib/train/loop.ts's `autodiff` engine: dropout on, clip at 3.0, AdamW lr 5e-5); each step ends
 * by reading the loss back, so the GPU's work is inside the time.
 */
export async function timeAutodiffSteps(o: StepLoopOptions): Promise<StepTiming> {
  const { d, ...b } = _batch(o);
  const seed0 = o.seed ?? 0;
  const head = FusionHead.create(o.model ?? {}, seed0);
  const opt = new AdamW(head.variables);
  const t = tf.tensor2d(b.t, [o.batch, d]);
  const g = tf.tensor2d(b.g, [o.batch, d]);
  const y = tf.tensor2d(b.y, [o.batch, d]);
  try {
    return await _loop(o, async (i) => {
      const { grads, value } = tf.variableGrads(
        () =>
          infoNceLoss(
            head.apply(t, g, { training: true, seed: seed0 + 1 + i }).q,
            y,
            head.scale(),
          ),
        head.variables,
      );
      const gl = head.variables.map((v) => grads[v.name]);
      const { grads: clipped } = await clipByGlobalNorm(gl, 3.0);
      opt.step(clipped, 5e-5);
      const loss = (await value.data())[0];
      tf.dispose([value, ...gl, ...clipped]);
      return loss;
    });
  } finally {
    tf.dispose([t, g, y]);
    opt.dispose();
    head.dispose();
  }
}

/**
 * The same steps on the native CPU path: the data-parallel engine with `workers` workers (each
 * a wasm backend with the native BLAS products), as `deno task bench` times training.
 */
export async function timeDataParallelSteps(
  o: StepLoopOptions & { workers: number | "auto" },
): Promise<StepTiming & { workers: number }> {
  const { t, g, y } = _batch(o);
  const seed0 = o.seed ?? 0;
  const dp = await DataParallelTrainer.create({
    workers: o.workers,
    seed: seed0,
    model: o.model ?? {},
  });
  try {
    const r = await _loop(o, async (i) => {
      const res = await dp.step({ t, g, y, rows: o.batch, seed: seed0 + 1 + i }, 5e-5);
      return res.loss;
    });
    return { ...r, workers: dp.workers };
  } finally {
    dp.dispose();
  }
}

/** What lib/tools/gpu_torch.py printed, or why it did not run. */
export interface TorchCudaResult {
  /** Whether the CUDA steps ran. */
  ran: boolean;
  /** Why not, when they did not. */
  note?: string;
  /** The device name (`torch.cuda.get_device_name`). */
  device?: string;
  /** The torch version. */
  torch?: string;
  /** The step timing, same fields as ours. */
  timing?: StepTiming;
}

/**
 * PyTorch's same steps on CUDA (lib/tools/gpu_torch.py; `python` must import torch and see a
 * CUDA device, otherwise `ran: false` with the reason). Never throws.
 */
export async function runTorchCuda(
  python: string,
  o: StepLoopOptions,
): Promise<TorchCudaResult> {
  const script = new URL("../tools/gpu_torch.py", import.meta.url).pathname;
  const c = fusionConfig(o.model ?? {});
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, {
      args: [
        script,
        "--steps",
        String(o.steps),
        "--batch",
        String(o.batch),
        "--budget-s",
        String(Math.max(0, o.budgetSec)),
        "--seed",
        String(o.seed ?? 0),
        "--dim",
        String(c.dim),
        "--proj",
        String(c.proj),
        "--hidden",
        String(c.hidden),
        "--experts",
        String(c.experts),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    return { ran: false, note: `${python} did not start: ${(e as Error).message}` };
  }
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout).trim();
  if (out.code !== 0) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return { ran: false, note: `${script} failed (exit ${out.code}): ${err}` };
  }
  try {
    return JSON.parse(stdout.split("\n").pop()!) as TorchCudaResult;
  } catch {
    return { ran: false, note: `${script} printed no JSON: ${stdout.slice(-200)}` };
  }
}

/** Options of {@linkcode runGpuCheck}. */
export interface GpuCheckOptions {
  /** Training steps per path (the first is warm-up). */
  steps: number;
  /** Rows per step. */
  batch: number;
  /** Total seconds for the three step loops (each stops starting steps past its share). */
  budgetSec: number;
  /** Train the tiny head of {@linkcode TINY_MODEL} instead of the reference's sizes (tests). */
  tiny: boolean;
  /** Workers of the CPU path (`auto`: as training and the bench choose). */
  workers: number | "auto";
  /** Run the PyTorch CUDA side. */
  torch: boolean;
  /** The Python interpreters to try for it, in order (the first whose torch sees CUDA runs). */
  python: string[];
  /** Where the JSON goes (atomically); empty for nowhere. */
  out: string;
  /** Progress lines. */
  log: (line: string) => void;
}

/** The defaults of {@linkcode GpuCheckOptions}: 200 steps at batch 128, 8 minutes. */
export function gpuCheckDefaults(): GpuCheckOptions {
  return {
    steps: 200,
    batch: 128,
    budgetSec: 480,
    tiny: false,
    workers: "auto",
    torch: true,
    python: ["python3", "/usr/bin/python3"],
    out: "data/cache/gpu_check.json",
    log: (s) => console.error(s),
  };
}

/** One path of the table. */
export interface GpuCheckRow {
  /** What ran (`webgpu`, `cpu`, `torch-cuda`). */
  path: string;
  /** How it ran, in words. */
  label: string;
  /** The device, in words. */
  device: string;
  /** The timing, or null when it did not run. */
  timing: StepTiming | null;
  /** Why it did not run or failed. */
  note?: string;
  /** The interpreter that ran it (PyTorch only). */
  python?: string;
}

/** What {@linkcode runGpuCheck} returns and writes. */
export interface GpuCheckResult {
  /** ISO date of the run. */
  date: string;
  /** The machine. */
  machine: { cpus: number; deno: string; os: string };
  /** The settings of the run. */
  settings: {
    steps: number;
    batch: number;
    budgetSec: number;
    model: FusionConfig;
    tiny: boolean;
  };
  /** The WebGPU adapter (null: none found, and nothing else ran). */
  adapter: AdapterReport | null;
  /** The paths: webgpu, cpu, torch-cuda, in that order. */
  rows: GpuCheckRow[];
  /** Seconds the whole check took. */
  wallSec: number;
}

/** What {@linkcode runGpuCheck} needs from the outside (tests replace the adapter probe). */
export interface GpuCheckDeps {
  /** Finds the adapter (default {@linkcode probeAdapter}). */
  probe?: () => Promise<AdapterReport | null>;
  /** Starts a tfjs backend (default lib/runtime/backend.ts's initBackend). */
  initBackend?: (name: "webgpu" | "wasm") => Promise<{ device: string }>;
}

/**
 * The whole check: the adapter, then the steps on WebGPU (half the budget), on the native CPU
 * path (60% of what is left) and on PyTorch CUDA (the rest). Returns `adapter: null` and runs
 * nothing when there is no WebGPU adapter. Writes the JSON to `o.out` when set.
 */
export async function runGpuCheck(
  o: GpuCheckOptions,
  deps: GpuCheckDeps = {},
): Promise<GpuCheckResult> {
  const t0 = performance.now();
  const left = () => o.budgetSec - (performance.now() - t0) / 1000;
  const model = fusionConfig(o.tiny ? TINY_MODEL : {});
  const probe = deps.probe ?? probeAdapter;
  const init = deps.initBackend ?? initBackend;
  const adapter = await probe();
  const rows: GpuCheckRow[] = [];
  const loop = { batch: o.batch, steps: o.steps, model, seed: 0 };
  if (adapter) {
    if (adapter.software) o.log(`gpu-check: WARNING: SOFTWARE ADAPTER: ${adapter.software}`);
    const row: GpuCheckRow = {
      path: "webgpu",
      label: "tfjs WebGPU, autodiff step",
      device: _adapterName(adapter),
      timing: null,
    };
    try {
      await init("webgpu");
      o.log(`gpu-check: WebGPU, ${o.steps} steps at batch ${o.batch}…`);
      row.timing = await timeAutodiffSteps({ ...loop, budgetSec: o.budgetSec * 0.5 });
    } catch (e) {
      row.note = `failed: ${(e as Error).message}`;
    }
    rows.push(row);

    const cpu: GpuCheckRow = {
      path: "cpu",
      label: "wasm + native BLAS, data-parallel",
      device: `${navigator.hardwareConcurrency ?? "?"} CPUs`,
      timing: null,
    };
    try {
      const info = await init("wasm");
      cpu.device = `${cpu.device}; ${info.device}`;
      o.log(`gpu-check: native CPU path, ${o.steps} steps at batch ${o.batch}…`);
      const r = await timeDataParallelSteps({
        ...loop,
        budgetSec: Math.max(0, left() * 0.6),
        workers: o.workers,
      });
      const { workers, ...timing } = r;
      cpu.label = `${cpu.label}, ${workers} worker${workers === 1 ? "" : "s"}`;
      cpu.timing = timing;
    } catch (e) {
      cpu.note = `failed: ${(e as Error).message}`;
    }
    rows.push(cpu);

    const th: GpuCheckRow = {
      path: "torch-cuda",
      label: "PyTorch CUDA",
      device: "-",
      timing: null,
    };
    if (!o.torch) {
      th.note = "skipped (--no-torch)";
    } else {
      const notes: string[] = [];
      for (const py of o.python) {
        o.log(`gpu-check: PyTorch CUDA (${py}), ${o.steps} steps…`);
        const r = await runTorchCuda(py, { ...loop, budgetSec: Math.max(0, left()) });
        if (r.ran && r.timing) {
          th.timing = r.timing;
          th.device = r.device ?? "?";
          th.label = `PyTorch ${r.torch ?? ""} CUDA`.replace("  ", " ");
          th.python = py;
          break;
        }
        notes.push(`${py}: ${r.note ?? "did not run"}`);
      }
      if (!th.timing) th.note = notes.join("; ");
    }
    rows.push(th);
  }
  const res: GpuCheckResult = {
    date: new Date().toISOString(),
    machine: {
      cpus: navigator.hardwareConcurrency ?? 0,
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.build.arch}`,
    },
    settings: {
      steps: o.steps,
      batch: o.batch,
      budgetSec: o.budgetSec,
      model,
      tiny: o.tiny,
    },
    adapter,
    rows,
    wallSec: (performance.now() - t0) / 1000,
  };
  if (o.out) {
    await writeFileAtomic(o.out, JSON.stringify(res, null, 2) + "\n");
  }
  return res;
}

function _adapterName(a: AdapterReport): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter((s) => s).join(" / ");
  return name || "(adapter gave no names)";
}

/**
 * The report as text: the adapter (with a loud banner when it is a software rasteriser), one
 * table row per path (steps done of asked, median step, samples/s, ratio to the CPU path) and the
 * notes of the paths that did not run.
 */
export function gpuCheckTable(res: GpuCheckResult): string {
  const out: string[] = [];
  const a = res.adapter;
  if (!a) return "no WebGPU adapter";
  out.push(`WebGPU adapter: ${_adapterName(a)}`);
  if (a.software) {
    const msg = `!!! SOFTWARE ADAPTER: ${a.software}. WebGPU runs on the CPU here: ` +
      "these are not GPU numbers. !!!";
    const bar = "!".repeat(Math.min(100, msg.length));
    out.push(bar, msg, bar);
  }
  const lim = Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(", ");
  if (lim) out.push(`limits: ${lim}`);
  const m = res.settings.model;
  out.push(
    `model d=${m.dim} P=${m.proj} H=${m.hidden} K=${m.experts}${
      res.settings.tiny ? " (tiny)" : ""
    }` +
      `, batch ${res.settings.batch}, ${res.settings.steps} steps (first = warm-up, untimed), ` +
      `budget ${res.settings.budgetSec} s`,
    "",
  );
  const cpu = res.rows.find((r) => r.path === "cpu")?.timing;
  const head = ["path", "device", "steps", "step ms", "samples/s", "vs CPU"];
  const fmt = (x: number) => x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  const lines = res.rows.map((r) => {
    const t = r.timing;
    const dev = r.device.length > 48 ? r.device.slice(0, 47) + "…" : r.device;
    if (!t) return [r.label, dev, "-", "-", "-", "-"];
    const ratio = cpu && cpu.samplesPerSec > 0 ? t.samplesPerSec / cpu.samplesPerSec : null;
    return [
      r.label,
      dev,
      `${t.steps}/${t.stepsRequested}${t.budgetHit ? " (budget)" : ""}`,
      fmt(t.stepSecMedian * 1000),
      fmt(t.samplesPerSec),
      ratio === null ? "n/a" : `${ratio.toFixed(2)}x`,
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (l: string[]) =>
    l.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  out.push(row(head), w.map((n) => "-".repeat(n)).join("  "), ...lines.map(row));
  for (const r of res.rows) if (r.note) out.push(`${r.path}: ${r.note}`);
  out.push(`wall ${res.wallSec.toFixed(1)} s`);
  return out.join("\n");
}
