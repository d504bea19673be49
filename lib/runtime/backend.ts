/**
 * lib/runtime/ (the bottom stage): the tfjs backend, repository paths and atomic writes, the
 * seeded Rng, unit rows, config hashing. Imports nothing of lib/.
 *
 * TensorFlow.js backend selection.
 *
 * `wasm` (XNNPACK, SIMD, single-threaded) is the CPU default, its matrix products run by a
 * native BLAS through FFI (lib/runtime/native_kernels.ts; `ADAFUSE_BLAS=none` turns that
 * off); `webgpu` is used when a real GPU adapter exists (Deno ships WebGPU; Mesa's lavapipe
 * gives a CPU "fallback" adapter that is used only when asked for by name); `tensorflow`
 * (`@tensorflow/tfjs-node(-gpu)`) is used when installed. Unlike `tf.setBackend`, which
 * silently falls back to the slow `cpu` backend when a backend fails to start,
 * {@linkcode initBackend} throws.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { installNativeMatMul } from "./native_kernels.ts";

/** The backends the project knows how to start. `auto` picks the best available. */
export type BackendName = "auto" | "wasm" | "webgpu" | "tensorflow" | "cpu";

/** What {@linkcode initBackend} started, for display in notebooks and logs. */
export interface BackendInfo {
  /** The backend tfjs now runs on. */
  name: Exclude<BackendName, "auto">;
  /** What was asked for (argument, `ADAFUSE_BACKEND`, or `auto`). */
  requested: BackendName;
  /** One line describing the device, e.g. the WebGPU adapter or the wasm features. */
  device: string;
}

const KNOWN: BackendName[] = ["auto", "wasm", "webgpu", "tensorflow", "cpu"];
let current: BackendInfo | undefined;

/** The backend asked for by the environment variable `ADAFUSE_BACKEND`, or `auto`. */
export function requestedBackend(): BackendName {
  const v = (Deno.env.get("ADAFUSE_BACKEND") ?? "auto").trim().toLowerCase();
  if (!KNOWN.includes(v as BackendName)) {
    throw new Error(
      `ADAFUSE_BACKEND=${v} is not a backend; use one of ${KNOWN.join(", ")}`,
    );
  }
  return v as BackendName;
}

async function _gpuAdapter(): Promise<GPUAdapter | null> {
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu as GPU | undefined;
  if (!gpu) return null;
  // Mesa's Vulkan loader complains on stderr when XDG_RUNTIME_DIR is unset: give it one.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());
  try {
    return await gpu.requestAdapter();
  } catch {
    return null;
  }
}

async function _tryTfjsNode(): Promise<boolean> {
  if (tf.findBackend("tensorflow")) return true;
  for (const name of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await import(`npm:${name}`);
      if (tf.findBackend("tensorflow")) return true;
    } catch {
      // not installed: that is fine, it is optional
    }
  }
  return false;
}

function _adapterLine(a: GPUAdapter): string {
  // deno-lint-ignore no-explicit-any
  const info = (a as any).info ?? {};
  const fb = info.isFallbackAdapter ? " (fallback/CPU adapter)" : "";
  return `${info.vendor ?? "?"} ${info.description || info.device || info.architecture || ""}${fb}`
    .trim();
}

async function _start(name: Exclude<BackendName, "auto">): Promise<string> {
  if (name === "wasm") {
    const dir = new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
    // The threaded build cannot start its workers under Deno (ERR_WORKER_PATH): stay single-threaded.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setWasmPaths(dir.href);
  } else if (name === "webgpu") {
    await import("@tensorflow/tfjs-backend-webgpu");
  } else if (name === "tensorflow") {
    if (!(await _tryTfjsNode())) {
      throw new Error(
        "backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed " +
          "(npm install @tensorflow/tfjs-node); use ADAFUSE_BACKEND=wasm instead",
      );
    }
  }
  let ok = false;
  let why = "";
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    why = String(e);
  }
  if (!ok || tf.getBackend() !== name) {
    throw new Error(
      `TensorFlow.js backend '${name}' failed to start${why ? `: ${why}` : ""}; ` +
        "refusing tfjs's silent fallback. Set ADAFUSE_BACKEND=wasm (CPU) or fix the backend.",
    );
  }
  await tf.ready();
  if (name === "wasm") {
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    // Matrix products through a native BLAS (ADAFUSE_BLAS; `none` keeps tfjs's): throws with
    // the fix when the library or the FFI permission is missing.
    const native = installNativeMatMul();
    const mm = native.active ? `; products: ${native.description}` : "";
    return `WebAssembly (XNNPACK${simd ? ", SIMD" : ""}, 1 thread${mm})`;
  }
  if (name === "webgpu") {
    const a = await _gpuAdapter();
    return a ? _adapterLine(a) : "WebGPU";
  }
  if (name === "tensorflow") return "libtensorflow (tfjs-node)";
  return "plain JavaScript (slow reference backend)";
}

/**
 * Starts a TensorFlow.js backend and returns what runs.
 *
 * `auto` picks `tensorflow` when tfjs-node is installed, then `webgpu` when a real (non
 * fallback) GPU adapter exists, then `wasm`; when a backend already runs, `auto` keeps it. A
 * named backend that fails throws an error instead of falling back. Calling it again is cheap.
 *
 * @param requested backend name; defaults to `ADAFUSE_BACKEND` or `auto`.
 */
export async function initBackend(
  requested: BackendName = requestedBackend(),
): Promise<BackendInfo> {
  if (!KNOWN.includes(requested)) {
    throw new Error(`'${requested}' is not a backend; use one of ${KNOWN.join(", ")}`);
  }
  // `auto` keeps whatever already runs; a named backend switches to it.
  if (current && (requested === "auto" || current.name === requested)) return current;
  let name: Exclude<BackendName, "auto">;
  if (requested !== "auto") {
    name = requested;
  } else if (await _tryTfjsNode()) {
    name = "tensorflow";
  } else {
    const a = await _gpuAdapter();
    // deno-lint-ignore no-explicit-any
    name = a && !(a as any).info?.isFallbackAdapter ? "webgpu" : "wasm";
  }
  const device = await _start(name);
  current = { name, requested, device };
  return current;
}

/** The backend started by {@linkcode initBackend}, or `undefined` before it ran. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}
