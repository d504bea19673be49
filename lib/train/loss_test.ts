import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { infoNceGrad, infoNceLoss } from "./loss.ts";
import { jsSgemm } from "../runtime/js_sgemm.ts";
import { randomUnitRows } from "../runtime/rows.ts";
import { Rng } from "../runtime/rng.ts";

await initBackend("wasm");

/** Plain float64 symmetric InfoNCE, written directly from the definition. */
function _plainLoss(q: number[][], t: number[][], s: number): number {
  const b = q.length;
  const dot = (x: number[], y: number[]) => x.reduce((a, xi, k) => a + xi * y[k], 0);
  const ce = (l: number[][]) => {
    let sum = 0;
    for (let i = 0; i < b; i++) {
      const mx = Math.max(...l[i]);
      const lse = mx + Math.log(l[i].reduce((a, x) => a + Math.exp(x - mx), 0));
      sum += lse - l[i][i];
    }
    return sum / b;
  };
  const l = q.map((qi) => t.map((tj) => s * dot(qi, tj)));
  const lt = t.map((ti) => q.map((qj) => s * dot(ti, qj)));
  return 0.5 * (ce(l) + ce(lt));
}

function _unitRows(rng: Rng, b: number, d: number): number[][] {
  return Array.from({ length: b }, () => {
    const r = Array.from({ length: d }, () => rng.normal());
    const n = Math.hypot(...r);
    return r.map((x) => x / n);
  });
}

Deno.test("infoNceLoss matches a float64 computation, frozen and tensor scale", async () => {
  const rng = new Rng(3);
  const q = _unitRows(rng, 5, 4), t = _unitRows(rng, 5, 4);
  const qt = tf.tensor2d(q), tt = tf.tensor2d(t);
  for (const s of [1 / 0.07, 1, 50]) {
    const l = infoNceLoss(qt, tt, s);
    assertClose((await l.data())[0], _plainLoss(q, t, s), 2e-5, `loss at s=${s}`);
    l.dispose();
  }
  const st = tf.scalar(50);
  const l = infoNceLoss(qt, tt, st);
  assertClose((await l.data())[0], _plainLoss(q, t, 50), 2e-5, "loss with tensor scale");
  // Hand case: B = 1 has a single candidate, so the loss is 0.
  const one = infoNceLoss(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]]), 10);
  assertClose((await one.data())[0], 0, 1e-6, "B = 1");
  // Hand case: B = 2, orthogonal pairs matched (cos 1 on the diagonal, 0 off): log(1 + e^{-s}).
  const two = infoNceLoss(tf.tensor2d([[1, 0], [0, 1]]), tf.tensor2d([[1, 0], [0, 1]]), 2);
  assertClose((await two.data())[0], Math.log(1 + Math.exp(-2)), 1e-6, "B = 2");
  tf.dispose([qt, tt, st, l, one, two]);
  assert.throws(() => infoNceLoss(tf.zeros([2, 3]), tf.zeros([3, 3]), 1), /same B/);
});

Deno.test("infoNceLoss gradient agrees with finite differences (q, targets and scale)", async () => {
  const rng = new Rng(11);
  const b = 4, d = 3;
  const q = _unitRows(rng, b, d), t = _unitRows(rng, b, d);
  const s0 = 5;
  const [gq, gt, gs] = tf.tidy(() => {
    const f = (a: tf.Tensor, c: tf.Tensor, s: tf.Tensor) =>
      infoNceLoss(a as tf.Tensor2D, c as tf.Tensor2D, s as tf.Scalar);
    return tf.grads(f)([tf.tensor2d(q), tf.tensor2d(t), tf.scalar(s0)]);
  });
  const aq = await gq.data(), at = await gt.data(), as = (await gs.data())[0];
  const h = 1e-6;
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < d; k++) {
      const qp = q.map((r) => r.slice()), qm = q.map((r) => r.slice());
      qp[i][k] += h;
      qm[i][k] -= h;
      const fd = (_plainLoss(qp, t, s0) - _plainLoss(qm, t, s0)) / (2 * h);
      assertClose(aq[i * d + k], fd, 2e-4, `dL/dq[${i},${k}]`);
      const tp = t.map((r) => r.slice()), tm = t.map((r) => r.slice());
      tp[i][k] += h;
      tm[i][k] -= h;
      const fdt = (_plainLoss(q, tp, s0) - _plainLoss(q, tm, s0)) / (2 * h);
      assertClose(at[i * d + k], fdt, 2e-4, `dL/dt[${i},${k}]`);
    }
  }
  const fds = (_plainLoss(q, t, s0 + h) - _plainLoss(q, t, s0 - h)) / (2 * h);
  assertClose(as, fds, 2e-4, "dL/ds");
  tf.dispose([gq, gt, gs]);
});

Deno.test("infoNceGrad: loss, dL/dq and dL/dlog s equal autodiff of infoNceLoss", async () => {
  const rng = new Rng(4);
  for (const [B, d, s] of [[5, 7, 14.3], [16, 32, 50], [2, 3, 1]] as const) {
    const q = randomUnitRows(rng, B, d), y = randomUnitRows(rng, B, d);
    const got = infoNceGrad(q, y, B, d, s, jsSgemm);
    const qt = tf.tensor2d(q, [B, d]), yt = tf.tensor2d(y, [B, d]), ls = tf.scalar(Math.log(s));
    const { value, grads } = tf.valueAndGrads((qq: tf.Tensor, l: tf.Tensor) =>
      infoNceLoss(qq as tf.Tensor2D, yt, tf.exp(l) as tf.Scalar)
    )([qt, ls]);
    assertClose(got.loss, (await value.data())[0], 1e-5, `loss B=${B}`);
    assertClose(got.dq, await grads[0].data(), 1e-6, `dq B=${B}`);
    assertClose(got.dLogScale, (await grads[1].data())[0], 1e-5, `dlogs B=${B}`);
    tf.dispose([qt, yt, ls, value, ...grads]);
  }
  assert.throws(
    () => infoNceGrad(new Float32Array(3), new Float32Array(4), 2, 2, 1, jsSgemm),
    /B × d/,
  );
});
