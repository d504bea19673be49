/**
 * `deno task gpu-check [--steps N] [--batch N] [--budget-s S] [--out FILE] [--tiny]
 * [--workers N] [--no-torch] [--python PATH]`
 *
 * The one prepared script for a machine with a GPU (lib/bench/gpu.ts): reports the WebGPU adapter
 * (and says loudly when it is a software rasteriser such as Mesa's lavapipe), trains `--steps`
 * steps (default 200) of the fusion head at the reference's sizes, batch 128, on tfjs's WebGPU
 * backend (autodiff step), the same on the native CPU path (wasm + native BLAS, data-parallel, as
 * `deno task bench`) and on PyTorch CUDA where torch sees a GPU (`--python PATH`, else `python3` on
 * PATH, then `/usr/bin/python3`); prints one table and writes the JSON (default
 * `data/cache/gpu_check.json`). The step loops share `--budget-s` (default 480 s) and stop starting
 * steps when their share is spent, so the whole check ends in under 10 minutes. Exit code 2 when
 * there is no WebGPU adapter (or a bad argument), 1 when a path failed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  gpuCheckDefaults,
  type GpuCheckDeps,
  type GpuCheckOptions,
  gpuCheckTable,
  runGpuCheck,
} from "../bench/gpu.ts";
import { ROOT } from "../runtime/paths.ts";
import { parseArgs } from "./_args.ts";

const _USAGE = "usage: deno task gpu-check [--steps N] [--batch N] [--budget-s S] [--out FILE] " +
  "[--tiny] [--workers N] [--no-torch] [--python PATH]";

/** Parses the command line over {@linkcode gpuCheckDefaults}; errors name the flag. */
export function parseGpuCheckArgs(argv: string[]): GpuCheckOptions {
  const a = parseArgs(argv, {
    options: ["steps", "batch", "budget-s", "out", "workers", "python"],
    flags: ["tiny", "no-torch"],
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  const o = gpuCheckDefaults();
  const num = (name: string, min: number, fallback: number, integer = true) => {
    const s = a.options[name];
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
      throw new Error(
        `--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got ${s}`,
      );
    }
    return n;
  };
  o.steps = num("steps", 1, o.steps);
  o.batch = num("batch", 2, o.batch);
  o.budgetSec = num("budget-s", 1, o.budgetSec, false);
  if (a.options.workers !== undefined && a.options.workers !== "auto") {
    o.workers = num("workers", 0, 0);
  }
  o.out = a.options.out ?? `${ROOT}/${o.out}`;
  if (a.options.python) o.python = [a.options.python];
  if (a.flags.tiny) o.tiny = true;
  if (a.flags["no-torch"]) o.torch = false;
  return o;
}

/**
 * Runs the check for `argv`, prints the table (stdout) and progress (stderr); the exit code: 0,
 * 1 when a path failed, 2 for a bad argument or no WebGPU adapter.
 */
export async function gpuCheckMain(argv: string[], deps: GpuCheckDeps = {}): Promise<number> {
  let o: GpuCheckOptions;
  try {
    o = parseGpuCheckArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const res = await runGpuCheck(o, deps);
  if (!res.adapter) {
    console.error(
      "gpu-check: no WebGPU adapter: navigator.gpu.requestAdapter() found none. Deno needs a " +
        "Vulkan (Linux), Metal (macOS) or DX12 (Windows) driver: on Linux install the GPU's " +
        "Vulkan driver (NVIDIA: the proprietary driver's libnvidia-gl / vulkan ICD; for a CPU " +
        "stand-in, Mesa's mesa-vulkan-drivers) and check with `vulkaninfo --summary`.",
    );
    return 2;
  }
  console.log(gpuCheckTable(res));
  if (o.out) console.log(`JSON: ${o.out}`);
  return res.rows.some((r) => r.note?.startsWith("failed")) ? 1 : 0;
}

if (import.meta.main) {
  // Tear the WebGPU device down before the process exits (see lib/integration/webgpu_test.ts:
  // Deno's wgpu has aborted at teardown otherwise).
  globalThis.addEventListener("unload", () => {
    // deno-lint-ignore no-explicit-any
    const b = tf.findBackend("webgpu") as any;
    if (!b) return;
    try {
      if (tf.getBackend() === "webgpu") tf.setBackend("wasm");
      tf.removeBackend("webgpu");
      b.device?.destroy?.();
    } catch {
      // nothing more to free
    }
  });
  Deno.exit(await gpuCheckMain(Deno.args));
}
