import { assert, assertClose } from "../testing/assert.ts";
import { Rng } from "./rng.ts";
import { type BlasLibrary, blasThreads, openBlas, requestedBlas } from "./blas.ts";

/** The libraries installed here (the tests of each run only where it opens). */
function installed(): BlasLibrary[] {
  const out: BlasLibrary[] = [];
  for (const lib of ["openblas", "dnnl"] as const) {
    try {
      openBlas(lib, 1)?.close();
      out.push(lib);
    } catch {
      // not installed: its tests are skipped
    }
  }
  return out;
}
const LIBS = installed();

/** Row-major reference `alpha·op(A)·op(B) + beta·C` in float64. */
function refGemm(
  ta: boolean,
  tb: boolean,
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
): Float64Array {
  const out = new Float64Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = c[i];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) {
        const av = ta ? a[t * lda + i] : a[i * lda + t];
        const bv = tb ? b[j * ldb + t] : b[t * ldb + j];
        s += av * bv;
      }
      out[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
    }
  }
  return out;
}

Deno.test("sgemm by hand: [[1,2,3],[4,5,6]]·[[1,0],[0,1],[1,1]] in every library", () => {
  assert.ok(LIBS.length > 0, "no native BLAS installed: run sh lib/tools/setup.sh");
  for (const lib of LIBS) {
    const blas = openBlas(lib, 1)!;
    try {
      const a = Float32Array.of(1, 2, 3, 4, 5, 6), b = Float32Array.of(1, 0, 0, 1, 1, 1);
      const c = new Float32Array(4);
      blas.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
      assert.deepEqual([...c], [4, 5, 10, 11], lib);
      // Aᵀ stored: [[1,4],[2,5],[3,6]]; C = 2·A·B + 1·C
      const at = Float32Array.of(1, 4, 2, 5, 3, 6);
      blas.sgemm(true, false, 2, 2, 3, 2, at, 2, b, 2, 1, c, 2);
      assert.deepEqual([...c], [12, 15, 30, 33], lib);
    } finally {
      blas.close();
    }
  }
});

Deno.test("sgemm: all four transpose combinations, strided leading dimensions, threads 1 and 2", () => {
  const rng = new Rng(3);
  for (const lib of LIBS) {
    for (const threads of [1, 2]) {
      const blas = openBlas(lib, threads)!;
      try {
        assert.equal(blas.threads, threads);
        assert.match(blas.description, new RegExp(`${threads} thread`));
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
          const m = 37, n = 53, k = 29, pad = 3;
          const lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
          const a = rng.fillNormal(new Float32Array((ta ? k : m) * lda));
          const b = rng.fillNormal(new Float32Array((tb ? n : k) * ldb));
          const c = rng.fillNormal(new Float32Array(m * ldc));
          const want = refGemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, -1, c, ldc);
          blas.sgemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, -1, c, ldc);
          // only the m × n block moves; the padding of C is left alone
          assertClose(c, want, 2e-4, `${lib} ${threads} thr transA=${ta} transB=${tb}`);
        }
      } finally {
        blas.close();
      }
    }
  }
});

Deno.test("sgemm refuses arrays too short and closed handles", () => {
  for (const lib of LIBS) {
    const blas = openBlas(lib, 1)!;
    const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(3);
    assert.throws(
      () => blas.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2),
      /too short for 2×2×3/,
    );
    assert.throws(
      () => blas.sgemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, new Float32Array(4), 2),
      /leading dimensions/,
    );
    blas.close();
    assert.throws(
      () => blas.sgemm(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1),
      /closed/,
    );
  }
});

Deno.test("ADAFUSE_BLAS and ADAFUSE_BLAS_THREADS are checked and name the fix", () => {
  assert.equal(requestedBlas(undefined), "auto");
  assert.equal(requestedBlas(" OpenBLAS "), "openblas");
  assert.equal(requestedBlas("none"), "none");
  assert.throws(
    () => requestedBlas("mkl"),
    /ADAFUSE_BLAS=mkl is not a BLAS choice; use one of auto, openblas, dnnl, none/,
  );
  assert.throws(() => openBlas("cublas"), /ADAFUSE_BLAS=cublas/);
  assert.equal(openBlas("none"), null);
  assert.equal(blasThreads("3"), 3);
  assert.equal(blasThreads(undefined), Math.max(1, navigator.hardwareConcurrency ?? 1));
  assert.throws(() => blasThreads("0"), /ADAFUSE_BLAS_THREADS=0 is not a thread count/);
  assert.throws(() => blasThreads("two"), /ADAFUSE_BLAS_THREADS=two/);
});

Deno.test("a missing library names its Debian package and lib/tools/setup.sh", () => {
  const old = Deno.env.get("ADAFUSE_DNNL_LIB"), oldO = Deno.env.get("ADAFUSE_OPENBLAS_LIB");
  try {
    Deno.env.set("ADAFUSE_DNNL_LIB", "/nonexistent/libdnnl.so.2");
    assert.throws(
      () => openBlas("dnnl", 1),
      /oneDNN is not installed \(tried \/nonexistent\/libdnnl\.so\.2.*install Debian's libdnnl2 \(sh lib\/tools\/setup\.sh.*ADAFUSE_BLAS=none/,
    );
    Deno.env.set("ADAFUSE_OPENBLAS_LIB", "/nonexistent/libopenblas.so.0");
    assert.throws(
      () => openBlas("openblas", 1),
      /OpenBLAS is not installed.*libopenblas0-pthread/,
    );
    assert.throws(
      () => openBlas("auto", 1),
      /ADAFUSE_BLAS=auto: no native BLAS is installed.*libdnnl2 or libopenblas0-pthread/,
    );
  } finally {
    if (old === undefined) Deno.env.delete("ADAFUSE_DNNL_LIB");
    else Deno.env.set("ADAFUSE_DNNL_LIB", old);
    if (oldO === undefined) Deno.env.delete("ADAFUSE_OPENBLAS_LIB");
    else Deno.env.set("ADAFUSE_OPENBLAS_LIB", oldO);
  }
});

Deno.test("without --allow-ffi the error says how to run (a child deno without the permission)", async () => {
  const url = new URL("./blas.ts", import.meta.url).href;
  const dir = await Deno.makeTempDir();
  const file = `${dir}/no_ffi.ts`;
  await Deno.writeTextFile(file, `import { openBlas } from "${url}"; openBlas("auto", 1);\n`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", "--no-config", "--allow-read", "--allow-env", file],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const err = new TextDecoder().decode(out.stderr);
  assert.notEqual(out.code, 0);
  assert.match(err, /run deno with --allow-ffi \(or -A\), or set ADAFUSE_BLAS=none/);
});

Deno.test("OpenBLAS: a handle re-sets its thread count when another handle changed it", () => {
  if (!LIBS.includes("openblas")) return;
  const one = openBlas("openblas", 1)!, two = openBlas("openblas", 2)!;
  try {
    const a = new Float32Array(4).fill(1), c = new Float32Array(4);
    assert.equal(two.libraryThreads(), 2); // opened last: its count is the process's
    one.sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);
    assert.deepEqual([...c], [2, 2, 2, 2]);
    assert.equal(two.libraryThreads(), 1);
    two.sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);
    assert.equal(one.libraryThreads(), 2);
    assert.equal(one.threads, 1);
  } finally {
    one.close();
    two.close();
  }
});
