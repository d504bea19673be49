import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { FusionHead } from "./fusion_head.ts";
import { fusionConfig } from "./config.ts";
import {
  dropoutKeep,
  dropoutMultipliers,
  gelu,
  geluGrad,
  HeadMath,
  headParamCount,
  headParams,
  trainFlopsPerSample,
} from "./head_math.ts";
import { jsSgemm } from "../runtime/js_sgemm.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { caseLabel, HEAD_CASES, SMALL_HEAD } from "../testing/head_cases.ts";

const SMALL = SMALL_HEAD, CASES = HEAD_CASES, _label = caseLabel;

/** The head's variables in the flat layout (read through tfjs). */
async function _flat(head: FusionHead, math: HeadMath): Promise<Float32Array> {
  const w = new Float32Array(math.size);
  for (const p of math.params) w.set((await head.get(p.name).data()) as Float32Array, p.offset);
  return w;
}

Deno.test("headParams lists FusionHead's trainable variables in order, with their shapes", async () => {
  await initBackend("wasm");
  for (const c of [...CASES, {}]) {
    const head = FusionHead.create({ ...SMALL, ...c }, 1);
    const vars = head.variables;
    const names = head.names().filter((n) => vars.includes(head.get(n)));
    const ps = headParams(head.config);
    assert.deepEqual(ps.map((p) => p.name), names, _label(c));
    ps.forEach((p) => assert.deepEqual(p.shape, head.get(p.name).shape, `${_label(c)} ${p.name}`));
    assert.equal(headParamCount(head.config), vars.reduce((a, v) => a + v.size, 0));
    head.dispose();
  }
});

Deno.test("the GELU table is within 3e-7 of exact GELU and its derivative on [−10, 10]", () => {
  // erf to ~1e-15 by its Taylor series (|x| ≤ 3) or continued fraction (beyond)
  const erf = (x: number): number => {
    const a = Math.abs(x);
    if (a < 3) {
      let term = a, sum = a;
      for (let n = 1; n < 80; n++) {
        term *= -a * a / n;
        sum += term / (2 * n + 1);
      }
      return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
    }
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
    return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
  };
  let worst = 0, worstD = 0;
  for (let x = -10; x <= 10; x += 0.000731) {
    const cdf = 0.5 * (1 + erf(x / Math.SQRT2));
    const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    worst = Math.max(worst, Math.abs(gelu(x) - x * cdf) / Math.max(1, Math.abs(x)));
    worstD = Math.max(worstD, Math.abs(geluGrad(x) - (cdf + x * pdf)));
  }
  assert.ok(worst < 3e-7, `GELU error ${worst}`);
  assert.ok(worstD < 3e-7, `GELU' error ${worstD}`);
  assert.ok(Number.isNaN(gelu(NaN)), "NaN propagates");
});

Deno.test("dropout masks: rows do not depend on the split, rate is respected", () => {
  const all = dropoutMultipliers(42, 3, 0, 10, 500, 0.2);
  const part = dropoutMultipliers(42, 3, 4, 3, 500, 0.2);
  assert.deepEqual(part, all.subarray(4 * 500, 7 * 500));
  assert.equal(dropoutKeep(42, 3, 5, 17, 0.2), all[5 * 500 + 17] !== 0);
  const kept = all.filter((x) => x !== 0);
  assert.ok(kept.every((x) => Math.abs(x - 1 / 0.8) < 1e-6));
  const share = kept.length / all.length;
  assert.ok(share > 0.77 && share < 0.83, `kept share ${share}`);
  assert.notDeepEqual(dropoutMultipliers(42, 2, 0, 10, 500, 0.2), all);
});

Deno.test("HeadMath's forward without dropout equals FusionHead.apply in evaluation mode", async () => {
  await initBackend("wasm");
  for (const c of CASES) {
    const head = FusionHead.create({ ...SMALL, ...c }, 5);
    const math = new HeadMath(head.config, jsSgemm);
    const rng = new Rng(2);
    const n = 4, d = 8;
    const t = randomUnitRows(rng, n, d), g = randomUnitRows(rng, n, d);
    const ref = head.apply(tf.tensor2d(t, [n, d]), tf.tensor2d(g, [n, d]), { training: false });
    const got = math.forward(await _flat(head, math), t, g, n, null, false);
    assertClose(got.q, await ref.q.data(), 2e-6, `${_label(c)}: q`);
    assertClose(got.w, await ref.w.data(), 2e-6, `${_label(c)}: w`);
    assertClose(got.p, await ref.p.data(), 2e-6, `${_label(c)}: p`);
    const s = math.stats();
    assertClose(s.wSum, Array.from(got.w).reduce((a, x) => a + x, 0), 1e-5);
    tf.dispose([ref.q, ref.w, ref.p]);
    head.dispose();
  }
});

Deno.test("HeadMath's backward equals autodiff of FusionHead.apply with the same dropout masks", async () => {
  await initBackend("wasm");
  for (const c of CASES) {
    const cfg = { ...SMALL, ...c, dropout: 0.3 };
    const head = FusionHead.create(cfg, 3);
    const math = new HeadMath(head.config, jsSgemm);
    const rng = new Rng(7);
    const n = 5, d = 8, row0 = 3, seed = 11;
    const t = randomUnitRows(rng, n, d), g = randomUnitRows(rng, n, d);
    // L = Σ q ⊙ R for a fixed R: dL/dq = R
    const R = rng.fillNormal(new Float32Array(n * d));
    const widths = [6, 6, 12, 36, 8];
    const masks = widths.map((w, s) => dropoutMultipliers(seed, s, row0, n, w, 0.3));
    const [tt, gg, rr] = [t, g, R].map((a) => tf.tensor2d(a, [n, d]));
    const ref = tf.variableGrads(
      () => tf.sum(tf.mul(head.apply(tt, gg, { training: true, masks }).q, rr)) as tf.Scalar,
      head.variables,
    );
    const wts = await _flat(head, math);
    math.forward(wts, t, g, n, { seed, row0 }, true);
    const dqa = R;
    const grad = new Float32Array(math.size).fill(NaN);
    math.backward(wts, dqa, grad, false);
    for (const p of math.params) {
      const mine = grad.subarray(p.offset, p.offset + p.size);
      if (p.name === "logit_scale") {
        assert.ok(Number.isNaN(mine[0]), "logit_scale's slot is the caller's: left as it was");
        continue;
      }
      const v = head.get(p.name);
      assertClose(mine, await ref.grads[v.name].data(), 2e-6, `${_label(c)} ${p.name}`);
    }
    // accumulate adds a second backward pass onto the first
    math.forward(wts, t, g, n, { seed, row0 }, true);
    const twice = grad.slice();
    math.backward(wts, dqa, twice, true);
    for (const p of math.params.filter((x) => x.name !== "logit_scale")) {
      for (let i = p.offset; i < p.offset + p.size; i++) {
        assertClose(twice[i], 2 * grad[i], 1e-6 + 1e-6 * Math.abs(grad[i]), `${_label(c)} accum`);
      }
    }
    tf.dispose([tt, gg, rr, ref.value, ...Object.values(ref.grads)]);
    head.dispose();
  }
});

Deno.test("HeadMath refuses a backward pass without a kept forward, and buffers of the wrong size", () => {
  const math = new HeadMath(fusionConfig(SMALL), jsSgemm);
  const w = new Float32Array(math.size), d = 8;
  const t = new Float32Array(2 * d), dq = new Float32Array(2 * d);
  assert.throws(() => math.backward(w, dq, new Float32Array(math.size), false), /keep = true/);
  math.forward(w, t, t, 2, null, false);
  assert.throws(() => math.backward(w, dq, new Float32Array(math.size), false), /keep = true/);
  assert.throws(() => math.forward(w.subarray(1), t, t, 2, null, true), /parameter values/);
  math.forward(w, t, t, 2, null, true);
  assert.throws(() => math.backward(w, dq, new Float32Array(3), false), /gradient values/);
});

Deno.test("trainFlopsPerSample: 70.3 M for the reference head, hand-counted on a small one", () => {
  // 2·2·(256·512)·2 for the projections + 6·(1024·2048 + 2048 + 1024·512 + 512·4 + 2048·256 +
  // 1024·8192) for the rest
  assert.equal(trainFlopsPerSample(fusionConfig({})), 70_279_168);
  // full, d=8, P=6, H=12, K=3: projections 2·(8·6)·2 each; W1 12×12, W2 12×1, R1 12×3,
  // R2 3×3, output 12×8, U 12×36 at 2·3 each
  const small = fusionConfig(SMALL);
  const macs3 = 12 * 12 + 12 + 12 * 3 + 3 * 3 + 12 * 8 + 12 * 36;
  assert.equal(trainFlopsPerSample(small), 2 * 2 * 48 * 2 + 6 * macs3);
});

Deno.test("HeadMath times its passes and, within them, its products", () => {
  const math = new HeadMath(fusionConfig({ dim: 32, proj: 32, hidden: 64, experts: 2 }), jsSgemm);
  const w = new Float32Array(math.size).fill(0.01), t = new Float32Array(8 * 32).fill(0.1);
  math.forward(w, t, t, 8, { seed: 1, row0: 0 }, true);
  math.backward(w, t, new Float32Array(math.size), false);
  const a = math.timing(true);
  assert.ok(a.kernelMs > 0 && a.productMs > 0 && a.productMs <= a.kernelMs, JSON.stringify(a));
  assert.deepEqual(math.timing(), { kernelMs: 0, productMs: 0 });
});
