/**
 * The data-parallel trainer's flat state in one WebAssembly memory, shared by every replica: the
 * gradient sum, the master weights and AdamW's two moments, `size` float32 values each, at
 * 16-byte-aligned offsets. One `WebAssembly.Memory` (shared, so that workers can be sent it) lets
 * the optimizer's wasm kernel (lib/train/parallel/adamw.ts) and the native products
 * (lib/runtime/blas.ts) work on the same bytes without copies.
 *
 * @module
 */

/** The shared flat state of the trainer (sent to every replica at `init`). */
export interface SharedBuffers {
  /** The memory holding the four arrays. */
  memory: WebAssembly.Memory;
  /** Values in each array (the trainable parameters' count). */
  size: number;
}

/** The four arrays, in their order in the memory. */
export const BUFFER_NAMES = ["sum", "weights", "m", "v"] as const;

/** One of {@linkcode BUFFER_NAMES}. */
export type BufferName = (typeof BUFFER_NAMES)[number];

/** Bytes from one array's start to the next's (`size` float32 rounded up to 16 bytes). */
export function bufferStride(size: number): number {
  return Math.ceil((size * 4) / 16) * 16;
}

/** Byte offset of array `name` in the memory. */
export function bufferOffset(size: number, name: BufferName): number {
  return BUFFER_NAMES.indexOf(name) * bufferStride(size);
}

/** The 64-KiB pages that hold the four arrays of `size` values. */
export function bufferPages(size: number): number {
  return Math.max(1, Math.ceil((4 * bufferStride(size)) / 65536));
}

/** A zeroed shared memory for the four arrays of `size` values. */
export function createSharedBuffers(size: number): SharedBuffers {
  if (!(Number.isSafeInteger(size) && size > 0)) {
    throw new Error(`lib/train/parallel/buffers.ts: size must be a positive integer, got ${size}`);
  }
  const pages = bufferPages(size);
  return { memory: new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), size };
}

/** Float32 views of the four arrays. */
export function bufferViews(b: SharedBuffers): Record<BufferName, Float32Array> {
  const view = (name: BufferName) =>
    new Float32Array(b.memory.buffer, bufferOffset(b.size, name), b.size);
  return { sum: view("sum"), weights: view("weights"), m: view("m"), v: view("v") };
}
