/**
 * Long because two libraries implement one Blas interface, choice and checks below.
 *
 * Native single-precision matrix products (`sgemm`) from a Debian BLAS, called through Deno's
 * FFI (`Deno.dlopen`, which needs `--allow-ffi`).
 *
 * Which library runs is chosen by `ADAFUSE_BLAS`:
 * - `auto` (default): oneDNN (`libdnnl2`) when installed, else OpenBLAS
 *   (`libopenblas0-pthread`); an error naming the fix when neither is. oneDNN measured as fast
 *   or faster on all four of the head's big products here (`deno task bench`);
 * - `openblas` or `dnnl`: that library, or an error naming its Debian package;
 * - `none`: no native library on purpose (TensorFlow.js's wasm kernels run the products).
 *
 * `ADAFUSE_OPENBLAS_LIB` / `ADAFUSE_DNNL_LIB` name another shared object to open instead of
 * Debian's (`libopenblas.so.0`, `libdnnl.so.2` on the loader's path).
 *
 * Threads are set explicitly: `ADAFUSE_BLAS_THREADS` (default: the machine's cores). OpenBLAS's
 * thread count is one number for the whole process, shared by every Deno worker; oneDNN runs on
 * OpenMP, whose thread count is per calling thread.
 *
 * @module
 */

/** The values `ADAFUSE_BLAS` may take. */
export type BlasRequest = "auto" | "openblas" | "dnnl" | "none";

/** The native libraries this module knows. */
export type BlasLibrary = "openblas" | "dnnl";

const REQUESTS: BlasRequest[] = ["auto", "openblas", "dnnl", "none"];

/** Debian package, shared-object names tried in order, and what the library is called. */
const LIBS: Record<
  BlasLibrary,
  { pkg: string; files: string[]; title: string; env: string }
> = {
  openblas: {
    pkg: "libopenblas0-pthread",
    env: "ADAFUSE_OPENBLAS_LIB",
    files: [
      "libopenblas.so.0",
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
      "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    ],
    title: "OpenBLAS",
  },
  dnnl: {
    pkg: "libdnnl2",
    env: "ADAFUSE_DNNL_LIB",
    files: ["libdnnl.so.2", "/usr/lib/x86_64-linux-gnu/libdnnl.so.2"],
    title: "oneDNN",
  },
};

/**
 * A loaded native `sgemm`: `C = alpha·op(A)·op(B) + beta·C` on row-major `Float32Array`s,
 * `op(X)` being `X` or `Xᵀ`, `op(A)` `m × k`, `op(B)` `k × n`, `C` `m × n`.
 */
export interface Blas {
  /** Which library. */
  readonly library: BlasLibrary;
  /** The shared object that was opened. */
  readonly path: string;
  /** One line for logs, e.g. `OpenBLAS 0.3.21 (Zen), 2 threads`. */
  readonly description: string;
  /** The thread count last set with {@linkcode Blas.setThreads}. */
  readonly threads: number;
  /**
   * Sets the thread count of the products called through this handle. OpenBLAS keeps one count
   * for the whole process, so each `sgemm` of an OpenBLAS handle sets it again when another
   * handle (e.g. a worker's) changed it; oneDNN's OpenMP count belongs to the calling thread.
   */
  setThreads(n: number): void;
  /**
   * Row-major `C = alpha·op(A)·op(B) + beta·C`. The leading dimensions are the row lengths of
   * the arrays as stored (`lda` = columns of `A` as stored, not of `op(A)`).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /**
   * The count the library holds now: OpenBLAS's process-wide count (possibly set by another
   * handle since), or this handle's OpenMP count for oneDNN.
   */
  libraryThreads(): number;
  /** Closes the library (the process keeps it mapped; further calls are refused). */
  close(): void;
}

/** `ADAFUSE_BLAS`, checked; `auto` when unset. */
export function requestedBlas(
  value: string | undefined = Deno.env.get("ADAFUSE_BLAS"),
): BlasRequest {
  const v = (value ?? "auto").trim().toLowerCase() || "auto";
  if (!REQUESTS.includes(v as BlasRequest)) {
    throw new Error(
      `ADAFUSE_BLAS=${value} is not a BLAS choice; use one of ${REQUESTS.join(", ")} ` +
        "(auto: the best installed library; none: TensorFlow.js's wasm products on purpose)",
    );
  }
  return v as BlasRequest;
}

/** `ADAFUSE_BLAS_THREADS`, checked; the machine's cores when unset. */
export function blasThreads(
  value: string | undefined = Deno.env.get("ADAFUSE_BLAS_THREADS"),
): number {
  if (value === undefined || value.trim() === "") {
    return Math.max(1, navigator.hardwareConcurrency ?? 1);
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(
      `ADAFUSE_BLAS_THREADS=${value} is not a thread count; use an integer ≥ 1 ` +
        "(or unset it for one thread per core)",
    );
  }
  return n;
}

function _ffiAllowed(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function _noFfiError(): Error {
  return new Error(
    "native matrix products need Deno's FFI permission: run deno with --allow-ffi (or -A), " +
      "or set ADAFUSE_BLAS=none for TensorFlow.js's wasm products",
  );
}

function _missingError(lib: BlasLibrary, tried: string[], why: string): Error {
  const L = LIBS[lib];
  return new Error(
    `ADAFUSE_BLAS: ${L.title} is not installed (tried ${tried.join(", ")}: ${why}); ` +
      `install Debian's ${L.pkg} (sh lib/tools/setup.sh does it, and \`npm test\` runs setup), ` +
      "or set ADAFUSE_BLAS=none for TensorFlow.js's wasm products",
  );
}

const _OPENBLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_config: { parameters: [], result: "pointer" },
  openblas_get_corename: { parameters: [], result: "pointer" },
} as const;

const _DNNL_SYMBOLS = {
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "f32",
      "buffer",
      "i64",
    ],
    result: "i32",
  },
} as const;

const _GOMP_SYMBOLS = {
  omp_set_num_threads: { parameters: ["i32"], result: "void" },
} as const;

function _open<S extends Deno.ForeignLibraryInterface>(
  lib: BlasLibrary,
  symbols: S,
): { dl: Deno.DynamicLibrary<S>; path: string } {
  const tried: string[] = [];
  let why = "";
  const own = Deno.env.get(LIBS[lib].env)?.trim();
  for (const f of own ? [own] : LIBS[lib].files) {
    tried.push(f);
    try {
      return { dl: Deno.dlopen(f, symbols), path: f };
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw _noFfiError();
      }
      why = (e as Error).message.split("\n")[0];
    }
  }
  throw _missingError(lib, tried, why);
}

function _cstring(p: Deno.PointerValue): string {
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}

function _checkDims(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  transA: boolean,
  transB: boolean,
): void {
  // Row-major: A as stored is (transA ? k × m : m × k), B is (transB ? n × k : k × n).
  const [ar, ac] = transA ? [k, m] : [m, k];
  const [br, bc] = transB ? [n, k] : [k, n];
  const need = (
    rows: number,
    cols: number,
    ld: number,
  ) => (rows === 0 ? 0 : (rows - 1) * ld + cols);
  if (lda < Math.max(1, ac) || ldb < Math.max(1, bc) || ldc < Math.max(1, n)) {
    throw new Error(
      `sgemm: leading dimensions ${lda}, ${ldb}, ${ldc} too small for ${m}×${n}×${k}`,
    );
  }
  if (a.length < need(ar, ac, lda) || b.length < need(br, bc, ldb) || c.length < need(m, n, ldc)) {
    throw new Error(
      `sgemm: arrays of ${a.length}, ${b.length}, ${c.length} floats are too short for ` +
        `${m}×${n}×${k} (transA=${transA}, transB=${transB})`,
    );
  }
}

function _openOpenBlas(threads: number): Blas {
  const { dl, path } = _open("openblas", _OPENBLAS_SYMBOLS);
  const s = dl.symbols;
  let n = threads;
  s.openblas_set_num_threads(n);
  const config = _cstring(s.openblas_get_config()).trim();
  const core = _cstring(s.openblas_get_corename()).trim();
  const version = config.match(/OpenBLAS\s+([\d.]+)/)?.[1] ?? "";
  let open = true;
  return {
    library: "openblas",
    path,
    get description() {
      return `OpenBLAS${version ? " " + version : ""}${core ? ` (${core})` : ""}, ${n} thread${
        n === 1 ? "" : "s"
      }`;
    },
    get threads() {
      return n;
    },
    setThreads(t: number) {
      if (!Number.isInteger(t) || t < 1) throw new Error(`setThreads: ${t} is not a count ≥ 1`);
      n = t;
      s.openblas_set_num_threads(t);
    },
    libraryThreads() {
      return s.openblas_get_num_threads();
    },
    sgemm(transA, transB, m, nn, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      if (!open) throw new Error("sgemm: the OpenBLAS handle was closed");
      _checkDims(m, nn, k, a, lda, b, ldb, c, ldc, transA, transB);
      if (m === 0 || nn === 0) return;
      // The count is process-wide: another thread (a worker) may have set its own.
      if (s.openblas_get_num_threads() !== n) s.openblas_set_num_threads(n);
      s.cblas_sgemm(
        101, // CblasRowMajor
        transA ? 112 : 111,
        transB ? 112 : 111,
        m,
        nn,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
    close() {
      if (open) dl.close();
      open = false;
    },
  };
}

/** The OpenMP thread count last set on this thread (each worker has its own module state). */
let _ompThreads = -1;

function _openDnnl(threads: number): Blas {
  const { dl, path } = _open("dnnl", _DNNL_SYMBOLS);
  // oneDNN of Debian runs on GNU OpenMP; its thread count is set there.
  let gomp: Deno.DynamicLibrary<typeof _GOMP_SYMBOLS> | null = null;
  try {
    gomp = Deno.dlopen("libgomp.so.1", _GOMP_SYMBOLS);
  } catch {
    gomp = null;
  }
  const s = dl.symbols;
  let n = threads;
  const setOmp = (t: number) => {
    if (t !== _ompThreads) gomp?.symbols.omp_set_num_threads(t);
    _ompThreads = t;
  };
  setOmp(n);
  const N = "N".charCodeAt(0), T = "T".charCodeAt(0);
  let open = true;
  return {
    library: "dnnl",
    path,
    get description() {
      return `oneDNN (dnnl_sgemm), ${n} thread${n === 1 ? "" : "s"}`;
    },
    get threads() {
      return n;
    },
    setThreads(t: number) {
      if (!Number.isInteger(t) || t < 1) throw new Error(`setThreads: ${t} is not a count ≥ 1`);
      n = t;
      setOmp(t);
    },
    libraryThreads() {
      return n;
    },
    sgemm(transA, transB, m, nn, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      if (!open) throw new Error("sgemm: the oneDNN handle was closed");
      _checkDims(m, nn, k, a, lda, b, ldb, c, ldc, transA, transB);
      if (m === 0 || nn === 0) return;
      // The count belongs to the calling thread, shared by its handles: set this handle's.
      setOmp(n);
      const st = s.dnnl_sgemm(
        transA ? T : N,
        transB ? T : N,
        BigInt(m),
        BigInt(nn),
        BigInt(k),
        alpha,
        a,
        BigInt(lda),
        b,
        BigInt(ldb),
        beta,
        c,
        BigInt(ldc),
      );
      if (st !== 0) throw new Error(`dnnl_sgemm failed with status ${st} for ${m}×${nn}×${k}`);
    },
    close() {
      if (open) {
        dl.close();
        gomp?.close();
      }
      open = false;
    },
  };
}

/**
 * Opens the native BLAS that `request` names (default `ADAFUSE_BLAS`) with `threads` threads
 * (default `ADAFUSE_BLAS_THREADS` or the cores); `null` for `none`.
 *
 * @throws when FFI is not permitted, the library is not installed, or the request is unknown;
 *   each message names the fix.
 */
export function openBlas(
  request: BlasRequest | string = requestedBlas(),
  threads: number = blasThreads(),
): Blas | null {
  const r = requestedBlas(request);
  if (r === "none") return null;
  if (!_ffiAllowed()) throw _noFfiError();
  if (r === "openblas") return _openOpenBlas(threads);
  if (r === "dnnl") return _openDnnl(threads);
  // auto: oneDNN (measured faster here on all four of the head's big products, and its
  // OpenMP thread count is per calling thread), else OpenBLAS, else the error naming both.
  try {
    return _openDnnl(threads);
  } catch (e1) {
    try {
      return _openOpenBlas(threads);
    } catch (e2) {
      if (e2 instanceof Error && e2.message.includes("FFI permission")) throw e2;
      throw new Error(
        "ADAFUSE_BLAS=auto: no native BLAS is installed (oneDNN: " +
          `${(e1 as Error).message.split(";")[0].replace("ADAFUSE_BLAS: ", "")}; OpenBLAS: ` +
          `${(e2 as Error).message.split(";")[0].replace("ADAFUSE_BLAS: ", "")}); install ` +
          "Debian's libdnnl2 or libopenblas0-pthread (sh lib/tools/setup.sh does it, and `npm test` " +
          "runs setup), or set ADAFUSE_BLAS=none for TensorFlow.js's wasm products",
      );
    }
  }
}

let _shared: Blas | null | undefined;
let _sharedKey = "";

/**
 * The process's (or worker's) native BLAS for `ADAFUSE_BLAS` / `ADAFUSE_BLAS_THREADS`, opened
 * once and kept; `null` when `ADAFUSE_BLAS=none`. Asking again with other settings reopens.
 */
export function sharedBlas(
  request: BlasRequest | string = requestedBlas(),
  threads: number = blasThreads(),
): Blas | null {
  const key = `${requestedBlas(request)}/${threads}`;
  if (_shared !== undefined && key === _sharedKey) return _shared;
  const b = openBlas(request, threads);
  _shared?.close();
  _shared = b;
  _sharedKey = key;
  return b;
}
