/**
 * Native matrix products under TensorFlow.js's `wasm` backend: kernels for `BatchMatMul` and
 * `_FusedMatMul` that find their inputs in the wasm heap, allocate the output there (as the
 * backend's own kernels do) and run a native `sgemm` (lib/runtime/blas.ts) on views of that
 * heap. Every caller of `tf.matMul` then gets native products: the autodiff engine (whose
 * matMul gradients use transpose flags), the data-parallel workers, inference and ranking.
 *
 * {@linkcode installNativeMatMul} is called by `initBackend` (lib/runtime/backend.ts) when the wasm
 * backend starts, in the main thread and in every worker (each has its own tfjs). It follows
 * `ADAFUSE_BLAS` (`none` keeps tfjs's kernels) and throws errors that name the fix.
 *
 * Threads: the main thread uses `ADAFUSE_BLAS_THREADS` (default: the cores); a Deno worker uses
 * `ADAFUSE_BLAS_WORKER_THREADS` (default 1), since the project starts one worker per core.
 * OpenBLAS keeps one thread count for the whole process: before each product, the count of the
 * calling thread is set again when another thread changed it (see lib/runtime/blas.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Blas, blasThreads, requestedBlas, sharedBlas } from "./blas.ts";

/** What {@linkcode installNativeMatMul} did, for logs. */
export interface NativeMatMulInfo {
  /** Whether native kernels are registered now. */
  active: boolean;
  /** The BLAS line (library, core, threads), or why none runs (`ADAFUSE_BLAS=none`). */
  description: string;
}

// deno-lint-ignore no-explicit-any
type _Backend = any;
interface _TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

const _KERNELS = ["BatchMatMul", "_FusedMatMul"] as const;
const _original = new Map<string, tf.KernelConfig>();
let _blas: Blas | null = null;

/** Whether this code runs in a Deno worker (not the main thread). */
function _inWorker(): boolean {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  return typeof g.WorkerGlobalScope !== "undefined" && g instanceof g.WorkerGlobalScope;
}

/** The thread count for the calling thread (see the module documentation). */
export function nativeThreadsForThisThread(): number {
  if (_inWorker()) {
    return blasThreads(Deno.env.get("ADAFUSE_BLAS_WORKER_THREADS") ?? "1");
  }
  return blasThreads();
}

function _offset(backend: _Backend, t: _TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
}

function _size(shape: number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/** Runs the product of `a` and `b` (rank ≥ 2, float32) into a new output, natively. */
function _product(
  backend: _Backend,
  a: _TensorInfo,
  b: _TensorInfo,
  transA: boolean,
  transB: boolean,
): _TensorInfo | null {
  const ra = a.shape.length, rb = b.shape.length;
  if (a.dtype !== "float32" || b.dtype !== "float32" || ra < 2 || rb < 2) return null;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const ka = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (ka !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transA} and transposeB=${transB} must match.`,
    );
  }
  const k = ka;
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = _size(outerA), batchB = _size(outerB);
  // Batches must be equal, or one side a single matrix (broadcast); other layouts: tfjs.
  let outer: number[];
  if (batchA === batchB && (outerA.length === outerB.length || batchA === 1)) {
    outer = outerA.length >= outerB.length ? outerA : outerB;
  } else if (batchA === 1) outer = outerB;
  else if (batchB === 1) outer = outerA;
  else return null;
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, m, n], "float32") as _TensorInfo;
  const size = batch * m * n;
  if (size === 0) return out;
  // The heap may have grown in makeOutput: take its view afterwards.
  const heap: Float32Array = backend.wasm.HEAPF32;
  const oc = _offset(backend, out);
  if (k === 0) {
    heap.fill(0, oc, oc + size);
    return out;
  }
  const oa = _offset(backend, a), ob = _offset(backend, b);
  const sa = batchA === 1 ? 0 : m * k, sb = batchB === 1 ? 0 : k * n;
  const lda = transA ? m : k, ldb = transB ? k : n;
  const blas = _blas!;
  for (let i = 0; i < batch; i++) {
    const pa = oa + i * sa, pb = ob + i * sb, pc = oc + i * m * n;
    blas.sgemm(
      transA,
      transB,
      m,
      n,
      k,
      1,
      heap.subarray(pa, pa + m * k),
      lda,
      heap.subarray(pb, pb + k * n),
      ldb,
      0,
      heap.subarray(pc, pc + m * n),
      n,
    );
  }
  return out;
}

function _batchMatMul(
  args: { inputs: tf.NamedTensorInfoMap; backend: _Backend; attrs: tf.NamedAttrMap },
): _TensorInfo {
  const { a, b } = args.inputs as unknown as { a: _TensorInfo; b: _TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const out = _product(args.backend, a, b, !!transposeA, !!transposeB);
  if (out) return out;
  // deno-lint-ignore no-explicit-any
  return _original.get("BatchMatMul")!.kernelFunc(args as any) as _TensorInfo;
}

function _fusedMatMul(
  args: { inputs: tf.NamedTensorInfoMap; backend: _Backend; attrs: tf.NamedAttrMap },
): _TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as unknown as Record<
    string,
    _TensorInfo | undefined
  >;
  const { transposeA, transposeB, activation } = args.attrs as {
    transposeA: boolean;
    transposeB: boolean;
    activation: string;
  };
  const backend = args.backend;
  const simple = (activation === "linear" || activation === "relu") && !preluActivationWeights &&
    (!bias || (bias.shape.length === 1 && bias.dtype === "float32"));
  const out = simple ? _product(backend, a!, b!, !!transposeA, !!transposeB) : null;
  // deno-lint-ignore no-explicit-any
  if (!out) return _original.get("_FusedMatMul")!.kernelFunc(args as any) as _TensorInfo;
  const n = out.shape[out.shape.length - 1];
  const size = _size(out.shape);
  if (size === 0) return out;
  const heap: Float32Array = backend.wasm.HEAPF32;
  const c = heap.subarray(_offset(backend, out), _offset(backend, out) + size);
  if (bias) {
    if (bias.shape[0] !== n && bias.shape[0] !== 1) {
      backend.disposeData(out.dataId);
      throw new Error(`_FusedMatMul: bias of shape ${bias.shape} does not fit ${out.shape}`);
    }
    const ob = _offset(backend, bias);
    const bv = heap.subarray(ob, ob + bias.shape[0]);
    if (bias.shape[0] === 1) {
      const v = bv[0];
      for (let i = 0; i < size; i++) c[i] += v;
    } else {
      for (let r = 0; r < size; r += n) {
        for (let j = 0; j < n; j++) c[r + j] += bv[j];
      }
    }
  }
  if (activation === "relu") {
    for (let i = 0; i < size; i++) if (c[i] < 0) c[i] = 0;
  }
  return out;
}

/**
 * Registers the native `BatchMatMul` and `_FusedMatMul` kernels for the wasm backend (once per
 * thread; again when `ADAFUSE_BLAS` changed), or restores tfjs's own when `ADAFUSE_BLAS=none`.
 *
 * @param request `auto`, `openblas`, `dnnl` or `none` (default: `ADAFUSE_BLAS`).
 * @param threads BLAS threads for this thread (default: see the module documentation).
 * @throws when FFI is not permitted, the library is missing, or the request is unknown.
 */
export function installNativeMatMul(
  request: string = requestedBlas(),
  threads: number = nativeThreadsForThisThread(),
): NativeMatMulInfo {
  const r = requestedBlas(request);
  const blas = r === "none" ? null : sharedBlas(r, threads);
  for (const name of _KERNELS) {
    if (!_original.has(name)) {
      const k = tf.getKernel(name, "wasm");
      if (!k) {
        throw new Error(
          `native matMul: tfjs's wasm kernel ${name} is not registered; import ` +
            "@tensorflow/tfjs-backend-wasm before installing native kernels",
        );
      }
      _original.set(name, k);
    }
  }
  _blas = blas;
  for (const name of _KERNELS) tf.unregisterKernel(name, "wasm");
  if (!blas) {
    for (const name of _KERNELS) tf.registerKernel(_original.get(name)!);
    return { active: false, description: "none (ADAFUSE_BLAS=none: TensorFlow.js wasm products)" };
  }
  if (blas.threads !== threads) blas.setThreads(threads);
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    kernelFunc: _batchMatMul as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: "_FusedMatMul",
    backendName: "wasm",
    kernelFunc: _fusedMatMul as unknown as tf.KernelFunc,
  });
  return { active: true, description: blas.description };
}

/** Puts tfjs's own wasm matMul kernels back (for tests and comparisons). */
export function uninstallNativeMatMul(): void {
  for (const name of _KERNELS) {
    const k = _original.get(name);
    if (!k) continue;
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(k);
  }
  _blas = null;
}

/** The native BLAS the kernels call now, or null when tfjs's own kernels run. */
export function nativeBlas(): Blas | null {
  return _blas;
}

/**
 * The values of a float32 tensor of the wasm backend as a view of the wasm heap (no copy), or
 * null on another backend. Valid until the next allocation on the backend (the heap may grow);
 * writing into it changes the tensor in place (meant for variables the caller owns).
 */
export function wasmHeapView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== "float32" || tf.getBackend() !== "wasm") return null;
  const backend = tf.backend() as _Backend;
  const d = backend.dataIdMap?.get(t.dataId);
  if (!d || d.memoryOffset == null || !backend.wasm?.HEAPF32) return null;
  const off = d.memoryOffset >>> 2;
  return (backend.wasm.HEAPF32 as Float32Array).subarray(off, off + t.size);
}
