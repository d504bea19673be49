import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing/assert.ts";
import { AdamW } from "../train/adamw.ts";
import { initBackend } from "../runtime/backend.ts";
import { loadBundle } from "../data/bundle.ts";
import { DataParallelTrainer } from "../train/parallel/trainer.ts";
import { flatWeights } from "../train/parallel/replica.ts";
import { HeadMath, headParamCount, type Sgemm } from "../model/head_math.ts";
import { jsSgemm } from "../runtime/js_sgemm.ts";
import { infoNceLoss } from "../train/loss.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { type FusionConfig, fusionConfig } from "../model/config.ts";
import { prepareCorpus, rankTargets } from "../model/ranking.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { type BlasLibrary, openBlas } from "../runtime/blas.ts";
import {
  installNativeMatMul,
  nativeBlas,
  uninstallNativeMatMul,
  wasmHeapView,
} from "../runtime/native_kernels.ts";

await initBackend("wasm");
const STARTED = nativeBlas();

const LIBS: BlasLibrary[] = (["openblas", "dnnl"] as const).filter((lib) => {
  try {
    openBlas(lib, 1)?.close();
    return true;
  } catch {
    return false;
  }
});

/** Runs `f` with tfjs's own kernels, then with each native library; restores what ran before. */
async function modes<T>(f: () => Promise<T> | T): Promise<{ name: string; value: T }[]> {
  const out: { name: string; value: T }[] = [];
  try {
    uninstallNativeMatMul();
    out.push({ name: "tfjs-wasm", value: await f() });
    for (const lib of LIBS) {
      for (const threads of [1, 2]) {
        installNativeMatMul(lib, threads);
        out.push({ name: `${lib}/${threads}`, value: await f() });
      }
    }
  } finally {
    if (STARTED) installNativeMatMul(STARTED.library, STARTED.threads);
    else uninstallNativeMatMul();
  }
  return out;
}

/** `max|a − b| ≤ rel · max|b|` (the tensor's scale), with a message naming the case. */
function assertRel(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, what: string) {
  assert.equal(a.length, b.length, `${what}: lengths ${a.length} != ${b.length}`);
  let scale = 0, diff = 0, at = -1;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) [diff, at] = [d, i];
  }
  assert.ok(
    diff <= rel * scale,
    `${what}: element ${at} differs by ${diff} > ${rel} × ${scale} (${a[at]} vs ${b[at]})`,
  );
}

function compare(results: { name: string; value: Float32Array[] }[], rel: number, what: string) {
  const [ref, ...rest] = results;
  for (const r of rest) {
    r.value.forEach((x, i) => assertRel(x, ref.value[i], rel, `${what}[${i}] ${r.name}`));
  }
}

Deno.test("a native BLAS runs the products after initBackend (auto picks an installed one)", () => {
  assert.ok(LIBS.length > 0, "no native BLAS installed: run sh lib/tools/setup.sh");
  if ((Deno.env.get("ADAFUSE_BLAS") ?? "auto") !== "none") {
    assert.ok(STARTED, "initBackend('wasm') did not install native kernels");
    assert.match(tf.getKernel("BatchMatMul", "wasm").kernelFunc.name, /_batchMatMul/);
  }
});

Deno.test("matMul: native matches tfjs on all four transpose flags, batched and broadcast", async () => {
  const rng = new Rng(5);
  const cases: [number[], number[], boolean, boolean][] = [];
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    const m = 19, n = 23, k = 31;
    cases.push([ta ? [k, m] : [m, k], tb ? [n, k] : [k, n], ta, tb]);
    cases.push([ta ? [3, k, m] : [3, m, k], tb ? [3, n, k] : [3, k, n], ta, tb]);
  }
  cases.push([[2, 2, 5, 7], [2, 2, 7, 3], false, false]); // rank 4
  cases.push([[1, 5, 7], [4, 7, 3], false, false]); // broadcast A
  cases.push([[4, 5, 7], [7, 3], false, false]); // broadcast B (rank 2)
  cases.push([[4, 5, 7], [1, 3, 7], false, true]);
  cases.push([[5, 0], [0, 3], false, false]); // k = 0: zeros
  cases.push([[0, 4], [4, 3], false, false]); // empty
  const data = cases.map(([sa, sb]) => [
    rng.fillNormal(new Float32Array(sa.reduce((x, y) => x * y, 1))),
    rng.fillNormal(new Float32Array(sb.reduce((x, y) => x * y, 1))),
  ]);
  const res = await modes(() =>
    cases.map(([sa, sb, ta, tb], i) => {
      const c = tf.tidy(() =>
        tf.matMul(tf.tensor(data[i][0], sa), tf.tensor(data[i][1], sb), ta, tb)
      );
      const out = { shape: c.shape, values: c.dataSync() as Float32Array };
      c.dispose();
      return out;
    })
  );
  const kZero = cases.length - 2; // tfjs's own wasm kernel leaves that output uninitialised
  for (const r of res.slice(1)) {
    r.value.forEach((c, i) => {
      assert.deepEqual(c.shape, res[0].value[i].shape, `case ${i} shape ${r.name}`);
      if (i === kZero) return assert.deepEqual([...c.values], new Array(15).fill(0), r.name);
      assertRel(c.values, res[0].value[i].values, 1e-5, `case ${i} (${cases[i]}) ${r.name}`);
    });
  }
});

Deno.test("fused matMul: bias and relu natively, other activations by tfjs, right values", async () => {
  const rng = new Rng(8);
  const a = rng.fillNormal(new Float32Array(6 * 9)), b = rng.fillNormal(new Float32Array(9 * 4));
  const bias = rng.fillNormal(new Float32Array(4));
  type Act = "linear" | "relu" | "elu" | "sigmoid";
  const cases: { ta: boolean; tb: boolean; bias: number[] | null; act: Act }[] = [
    { ta: false, tb: false, bias: null, act: "linear" },
    { ta: false, tb: false, bias: [...bias], act: "linear" },
    { ta: true, tb: true, bias: [...bias], act: "linear" },
    { ta: true, tb: false, bias: [...bias], act: "relu" },
    { ta: false, tb: false, bias: [0.5], act: "relu" },
    { ta: false, tb: false, bias: [...bias], act: "elu" },
    { ta: false, tb: true, bias: null, act: "sigmoid" },
  ];
  const res = await modes(() =>
    tf.tidy(() => {
      const A = tf.tensor2d(a, [6, 9]), B = tf.tensor2d(b, [9, 4]);
      return cases.flatMap((c) => {
        const bi = c.bias ? tf.tensor1d(c.bias) : undefined;
        const fused = tf.fused.matMul({
          a: c.ta ? tf.transpose(A) : A,
          b: c.tb ? tf.transpose(B) : B,
          transposeA: c.ta,
          transposeB: c.tb,
          bias: bi,
          activation: c.act,
        });
        const lin = bi ? tf.add(tf.matMul(A, B), bi) : tf.matMul(A, B);
        const plain = c.act === "relu"
          ? tf.relu(lin)
          : c.act === "elu"
          ? tf.elu(lin)
          : c.act === "sigmoid"
          ? tf.sigmoid(lin)
          : lin;
        return [fused.dataSync() as Float32Array, plain.dataSync() as Float32Array];
      });
    })
  );
  const want = (i: number) => res[0].value[2 * i + 1]; // tfjs's unfused ops
  for (const r of res.slice(1)) {
    cases.forEach((_c, i) => assertRel(r.value[2 * i], want(i), 1e-5, `fused ${i} ${r.name}`));
  }
  // tfjs's own wasm _FusedMatMul adds the bias wrongly when transposeA is set (tfjs 4.22):
  // one more reason to run ours.
  const tfjsTA = res[0].value[2 * 2];
  assert.ok(!tfjsTA.every((x, j) => Math.abs(x - want(2)[j]) < 1e-4));
  const relu = res[res.length - 1].value[2 * 3];
  assert.ok(relu.every((x) => x >= 0) && relu.some((x) => x > 0));
});

const HEAD: Partial<FusionConfig> = { dim: 24, proj: 20, hidden: 48, experts: 3, dropout: 0.2 };

Deno.test("the head: forward, gradients and one AdamW step match tfjs's products to 1e-4", async () => {
  const rng = new Rng(11);
  const B = 16, d = HEAD.dim!;
  const t = randomUnitRows(rng, B, d), g = randomUnitRows(rng, B, d), y = randomUnitRows(rng, B, d);
  const res = await modes(() => {
    const head = FusionHead.create(HEAD, 3);
    const opt = new AdamW(head.variables, { weightDecay: 0.05 });
    const [tt, gg, yy] = [t, g, y].map((x) => tf.tensor2d(x, [B, d]));
    try {
      const q = tf.tidy(() => head.apply(tt, gg, { training: false }).q);
      const out: Float32Array[] = [q.dataSync() as Float32Array];
      q.dispose();
      const { grads, value } = tf.variableGrads(
        () => infoNceLoss(head.apply(tt, gg, { training: true, seed: 4 }).q, yy, head.scale()),
        head.variables,
      );
      out.push(Float32Array.of(value.dataSync()[0]));
      const gl = head.variables.map((v) => grads[v.name]);
      for (const x of gl) out.push(x.dataSync() as Float32Array);
      opt.step(gl, 1e-3);
      tf.dispose([value, ...gl]);
      for (const v of head.variables) out.push(v.dataSync() as Float32Array);
      return out;
    } finally {
      tf.dispose([tt, gg, yy]);
      opt.dispose();
      head.dispose();
    }
  });
  compare(res, 1e-4, "head");
});

Deno.test("the head's math (forward and backward) gives the same numbers on every sgemm, to 1e-4", async () => {
  const rng = new Rng(12);
  const B = 12, d = HEAD.dim!;
  const t = randomUnitRows(rng, B, d), g = randomUnitRows(rng, B, d);
  const dq = rng.fillNormal(new Float32Array(B * d));
  // proj_only's backward has its own product (the output layer's input gradient into hc)
  for (const variant of ["full", "proj_only"] as const) {
    const config = fusionConfig({ ...HEAD, variant, dropout: 0.2 });
    const head = FusionHead.create(config, 5);
    const sd = await head.toStateDict();
    head.dispose();
    const wts = new Float32Array(headParamCount(config));
    await flatWeights(config, sd, wts);
    const run = (blas: Sgemm): Float32Array[] => {
      const math = new HeadMath(config, blas);
      const { q } = math.forward(wts, t, g, B, { seed: 3, row0: 0 }, true);
      const grad = new Float32Array(math.size);
      const out = [q.slice()];
      math.backward(wts, dq, grad, false);
      return [...out, ...math.params.map((p) => grad.slice(p.offset, p.offset + p.size))];
    };
    const res = [{ name: "js", value: run(jsSgemm) }];
    for (const lib of LIBS) {
      for (const threads of [1, 2]) {
        const blas = openBlas(lib, threads)!;
        res.push({ name: `${lib}/${threads}`, value: run(blas) });
        blas.close();
      }
    }
    compare(res, 1e-4, `head math (${variant})`);
  }
});

Deno.test("same ranks with native products: the small bundle and a corpus ranked by workers", async () => {
  const b = await loadBundle(new URL("../testing/testdata/bundle_tiny", import.meta.url).pathname);
  const s = b.splits.visdial;
  const targets = new Int32Array(s.count * b.rounds).map((_, i) =>
    s.target[Math.floor(i / b.rounds)]
  );
  const rng = new Rng(13);
  const n = 3000, d = 32, q = 200;
  const corpus = randomUnitRows(rng, n, d), queries = randomUnitRows(rng, q, d);
  const tg = new Int32Array(q).map(() => rng.int(n));
  const res = await modes(async () => {
    const tiny = prepareCorpus(b.corpus, b.dim, { workers: 0 });
    const big = prepareCorpus(corpus, d, { workers: 2, chunk: 64 });
    try {
      const r1 = await rankTargets(tiny, [{ queries: s.text }], targets);
      const r2 = await rankTargets(big, [{ queries }], tg);
      return [r1, r2];
    } finally {
      tiny.dispose();
      big.dispose();
    }
  });
  for (const r of res.slice(1)) {
    assert.deepEqual([...r.value[0]], [...res[0].value[0]], `bundle_tiny ranks ${r.name}`);
    assert.deepEqual([...r.value[1]], [...res[0].value[1]], `worker ranks ${r.name}`);
  }
});

Deno.test("a worker that starts the wasm backend gets native products (1 BLAS thread)", async () => {
  if ((Deno.env.get("ADAFUSE_BLAS") ?? "auto") === "none") return;
  const w = new Worker(new URL("../testing/native_worker_fixture.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      w.onmessage = (e) => resolve(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      w.postMessage({});
    });
    assert.ok(reply.ok, String(reply.message));
    assert.ok(LIBS.includes(reply.library as BlasLibrary), `worker library ${reply.library}`);
    assert.equal(reply.threads, Number(Deno.env.get("ADAFUSE_BLAS_WORKER_THREADS") ?? 1));
    assert.match(String(reply.device), /products: /);
    assert.deepEqual(reply.product, [17, 23, 39, 53]);
  } finally {
    w.terminate();
  }
});

Deno.test("data-parallel training: one step with native products in the workers matches tfjs", async () => {
  const rng = new Rng(14);
  const B = 8, d = HEAD.dim!;
  const batch = {
    t: randomUnitRows(rng, B, d),
    g: randomUnitRows(rng, B, d),
    y: randomUnitRows(rng, B, d),
    rows: B,
    seed: 3,
  };
  const run = async (blas: string) => {
    const old = Deno.env.get("ADAFUSE_BLAS");
    Deno.env.set("ADAFUSE_BLAS", blas); // read by each worker's initBackend
    const dp = await DataParallelTrainer.create({ workers: 2, model: HEAD, seed: 2 });
    try {
      const r = await dp.step(batch, 1e-3);
      const sd = await dp.stateDict();
      return [Float32Array.of(r.loss), ...Object.values(sd).map((t) => t.data as Float32Array)];
    } finally {
      dp.dispose();
      if (old === undefined) Deno.env.delete("ADAFUSE_BLAS");
      else Deno.env.set("ADAFUSE_BLAS", old);
    }
  };
  const ref = await run("none");
  for (const lib of LIBS) {
    const got = await run(lib);
    got.forEach((x, i) => assertRel(x, ref[i], 1e-4, `dp step tensor ${i} ${lib}`));
  }
});

Deno.test("installNativeMatMul: ADAFUSE_BLAS=none keeps tfjs's kernels; unknown names the fix", () => {
  try {
    const info = installNativeMatMul("none");
    assert.equal(info.active, false);
    assert.equal(nativeBlas(), null);
    assert.doesNotMatch(tf.getKernel("BatchMatMul", "wasm").kernelFunc.name, /_batchMatMul/);
    assert.throws(() => installNativeMatMul("fastest"), /ADAFUSE_BLAS=fastest is not a BLAS/);
  } finally {
    if (STARTED) installNativeMatMul(STARTED.library, STARTED.threads);
  }
});

Deno.test("wasmHeapView: the tensor's values in place; writing into a variable changes it", () => {
  const t = tf.tensor2d([[1, 2], [3, 4]]);
  const v = tf.variable(tf.zeros([3]));
  try {
    assert.deepEqual([...wasmHeapView(t)!], [1, 2, 3, 4]);
    wasmHeapView(v)!.set([5, 6, 7]);
    assert.deepEqual([...v.dataSync()], [5, 6, 7]);
    const i = tf.tensor1d([1, 2], "int32");
    assert.equal(wasmHeapView(i), null);
    i.dispose();
  } finally {
    tf.dispose([t, v]);
  }
});
