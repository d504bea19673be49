/**
 * The per-product table of `deno task bench`: GFLOP/s of the head's four big matrix products with
 * TensorFlow.js's wasm kernels and each native BLAS (lib/runtime/blas.ts); PyTorch's come from
 * lib/bench/torch.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BlasLibrary, openBlas } from "../runtime/blas.ts";
import {
  installNativeMatMul,
  nativeBlas,
  uninstallNativeMatMul,
} from "../runtime/native_kernels.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { median } from "./_measure.ts";

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
 * The head's four big products: the fused expert layer forward (`X·W`, batch 128), its two
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
