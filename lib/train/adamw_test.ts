import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { AdamW, decaysWeight } from "./adamw.ts";
import { Rng } from "../runtime/rng.ts";

await initBackend("wasm");

async function values(v: tf.Tensor): Promise<number[]> {
  return Array.from(await v.data());
}

Deno.test("AdamW: three hand-worked steps on a 1×2 weight matrix", async () => {
  // a matrix: 1-D tensors get no weight decay (see the next test)
  const p = tf.variable(tf.tensor2d([[1, -2]]), true, "adamw_test_p");
  const opt = new AdamW([p]); // β 0.9/0.999, eps 1e-8, wd 0.05
  const lr = 0.1;
  const eps = 1e-8;

  // step 1, g = [0.5, -1]: decay 1 − 0.1·0.05 = 0.995; m = 0.1g, v = 0.001g²;
  // m̂ = m/0.1 = g, v̂ = v/0.001 = g², so the Adam direction is g/(|g| + eps) ≈ sign(g).
  let g = tf.tensor2d([[0.5, -1]]);
  opt.step([g], lr);
  const s1 = [1 * 0.995 - 0.1 * 0.5 / (0.5 + eps), -2 * 0.995 - 0.1 * -1 / (1 + eps)];
  assertClose(await values(p), s1, 1e-6, "after step 1"); // [0.895, -1.89]
  assertClose(s1, [0.895, -1.89], 1e-7, "hand value of step 1");

  // step 2, g = [0.1, 0.2]:
  //   m = 0.9·[0.05, −0.1] + 0.1·[0.1, 0.2] = [0.055, −0.07]
  //   v = 0.999·[0.00025, 0.001] + 0.001·[0.01, 0.04] = [0.00025975, 0.001039]
  //   m̂ = m / (1 − 0.81) = m / 0.19;  v̂ = v / (1 − 0.998001) = v / 0.001999
  g.dispose();
  g = tf.tensor2d([[0.1, 0.2]]);
  opt.step([g], lr);
  const m2 = [0.055, -0.07], v2 = [0.00025975, 0.001039];
  const s2 = s1.map((x, i) =>
    x * 0.995 - lr * (m2[i] / 0.19) / (Math.sqrt(v2[i] / 0.001999) + eps)
  );
  assertClose(await values(p), s2, 1e-6, "after step 2");

  // step 3, g = [−0.3, 0] and lr 0.05: decay 1 − 0.0025
  g.dispose();
  g = tf.tensor2d([[-0.3, 0]]);
  opt.step([g], 0.05);
  const m3 = [0.9 * 0.055 + 0.1 * -0.3, 0.9 * -0.07];
  const v3 = [0.999 * 0.00025975 + 0.001 * 0.09, 0.999 * 0.001039];
  const bc1 = 1 - 0.9 ** 3, bc2 = 1 - 0.999 ** 3;
  const s3 = s2.map((x, i) =>
    x * (1 - 0.05 * 0.05) - 0.05 * (m3[i] / bc1) / (Math.sqrt(v3[i] / bc2) + eps)
  );
  assertClose(await values(p), s3, 1e-6, "after step 3");
  assert.equal(opt.stepCount, 3);
  g.dispose();
  opt.dispose();
  p.dispose();
});

Deno.test("AdamW: weight decay as the reference's factory: matrices decay, 1-D tensors and scalars do not", async () => {
  assert.ok(decaysWeight([3, 4]) && decaysWeight([2, 3, 4]));
  assert.ok(!decaysWeight([4]) && !decaysWeight([]));
  const w = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, "adamw_test_w");
  const b = tf.variable(tf.tensor1d([0.7, -0.1]), true, "adamw_test_bias");
  const s = tf.variable(tf.scalar(Math.log(50)), true, "adamw_test_scale");
  const w2 = tf.variable(tf.tensor2d([[4, 5]]), true, "adamw_test_w2");
  const opt = new AdamW([w, b, s, w2], { noDecay: ["adamw_test_w2"] }); // wd 0.05
  const zeros = [w, b, s, w2].map((v) => tf.zerosLike(v));
  opt.step(zeros, 0.1); // zero gradient: m = v = 0, the step is the decay alone
  assertClose(await values(w), [1, -2, 3, 0.5].map((x) => x * (1 - 0.1 * 0.05)), 3e-7, "w");
  assert.deepEqual(await values(b), Array.from(new Float32Array([0.7, -0.1])));
  assert.deepEqual(await values(s), [Math.fround(Math.log(50))]);
  assert.deepEqual(await values(w2), [4, 5], "noDecay exempts a matrix by name");
  tf.dispose(zeros);
  opt.dispose();
  tf.dispose([w, b, s, w2]);
});

/** An independent float64 AdamW written from PyTorch's documented algorithm. */
function _plainAdamW(
  p0: number[],
  gs: number[][],
  lrs: number[],
  wd: number,
  decayMask: boolean[],
): number[] {
  const p = p0.slice(), m = p0.map(() => 0), v = p0.map(() => 0);
  for (let t = 1; t <= gs.length; t++) {
    for (let i = 0; i < p.length; i++) {
      if (decayMask[i]) p[i] -= lrs[t - 1] * wd * p[i];
      m[i] = 0.9 * m[i] + 0.1 * gs[t - 1][i];
      v[i] = 0.999 * v[i] + 0.001 * gs[t - 1][i] ** 2;
      const mh = m[i] / (1 - 0.9 ** t), vh = v[i] / (1 - 0.999 ** t);
      p[i] -= lrs[t - 1] * mh / (Math.sqrt(vh) + 1e-8);
    }
  }
  return p;
}

Deno.test("AdamW: matches a plain float64 implementation over 20 random steps", async () => {
  const rng = new Rng(7);
  const a0 = Array.from({ length: 6 }, () => rng.normal());
  const b0 = Array.from({ length: 3 }, () => rng.normal());
  const a = tf.variable(tf.tensor2d(a0, [2, 3]), true, "adamw_test_a");
  const b = tf.variable(tf.tensor1d(b0), true, "adamw_test_b");
  const opt = new AdamW([a, b], { weightDecay: 0.3 }); // b is 1-D: no decay
  const ga: number[][] = [], gb: number[][] = [], lrs: number[] = [];
  for (let s = 0; s < 20; s++) {
    ga.push(Array.from({ length: 6 }, () => rng.normal()));
    gb.push(Array.from({ length: 3 }, () => rng.normal() * 0.01));
    lrs.push(0.01 * (1 + s % 3));
    const gt = [tf.tensor2d(ga[s], [2, 3]), tf.tensor1d(gb[s])];
    opt.step(gt, lrs[s]);
    tf.dispose(gt);
  }
  assertClose(await values(a), _plainAdamW(a0, ga, lrs, 0.3, a0.map(() => true)), 2e-6, "a");
  assertClose(await values(b), _plainAdamW(b0, gb, lrs, 0.3, b0.map(() => false)), 2e-6, "b");
  opt.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("AdamW: exported state resumes exactly; bad states and names are refused", async () => {
  const mk = () => tf.variable(tf.tensor1d([0.3, -0.7, 1.1]));
  const grads = [[0.1, -0.2, 0.3], [0.5, 0.5, -0.5], [-1, 2, 0.1], [0.2, 0.2, 0.2]];
  const straight = mk(), optS = new AdamW([straight]);
  for (const g of grads) tf.tidy(() => optS.step([tf.tensor1d(g)], 0.01));

  const first = mk(), optA = new AdamW([first]);
  for (const g of grads.slice(0, 2)) tf.tidy(() => optA.step([tf.tensor1d(g)], 0.01));
  const state = await optA.exportState();
  const second = tf.variable(tf.tensor1d(await first.data())), optB = new AdamW([second]);
  optB.importState(state);
  for (const g of grads.slice(2)) tf.tidy(() => optB.step([tf.tensor1d(g)], 0.01));
  assert.deepEqual(await values(second), await values(straight));
  assert.equal(optB.stepCount, 4);

  assert.throws(() => optB.importState({ step: 1, m: [], v: [] }), /moments/);
  assert.throws(
    () => optB.importState({ step: 1, m: [new Float32Array(2)], v: [new Float32Array(2)] }),
    /another model config/,
  );
  assert.throws(() => new AdamW([second], { noDecay: ["nope"] }), /nope/);
  assert.throws(() => optB.step([], 0.1), /gradients/);
  for (const o of [optS, optA, optB]) o.dispose();
  tf.dispose([straight, first, second]);
});

Deno.test("AdamW: no tensors leak across steps or after dispose", () => {
  const p = tf.variable(tf.ones([4, 4]));
  const g = tf.ones([4, 4]);
  const before = tf.memory().numTensors;
  const opt = new AdamW([p]);
  opt.step([g], 0.1);
  const n = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.step([g], 0.1);
  assert.equal(tf.memory().numTensors, n);
  opt.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([p, g]);
});
