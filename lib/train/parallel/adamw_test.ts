import { assert } from "../../testing/assert.ts";
import { Rng } from "../../runtime/rng.ts";
import { AdamWKernel, adamwSlice, type AdamWSliceArgs, sumOfSquares } from "./adamw.ts";
import { bufferViews, createSharedBuffers } from "./buffers.ts";

const OPTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** Shared buffers of `n` values with random gradients, weights and moments (v ≥ 0). */
function _state(n: number, seed: number) {
  const b = createSharedBuffers(n);
  const views = bufferViews(b);
  const rng = new Rng(seed);
  for (const a of [views.sum, views.weights, views.m]) {
    for (let i = 0; i < n; i++) a[i] = rng.normal() * 0.1;
  }
  for (let i = 0; i < n; i++) views.v[i] = Math.abs(rng.normal()) * 1e-3;
  return { b, views };
}

function _args(step: number, noDecay: [number, number][]): AdamWSliceArgs {
  return { lr: 3e-4, step, coef: 0.73, opts: OPTS, noDecay };
}

Deno.test("AdamWKernel: the wasm update equals the scalar definition bit for bit (odd runs, no-decay ranges, slices)", () => {
  for (
    const [n, lo, hi, noDecay] of [
      [1, 0, 1, []],
      [2, 0, 2, [[0, 1]]],
      [1001, 3, 998, [[0, 7], [10, 11], [500, 503], [990, 1001]]],
      [4096, 1, 4095, [[2048, 2049]]],
    ] as [number, number, number, [number, number][]][]
  ) {
    const { b, views } = _state(n, n);
    const ref = { p: views.weights.slice(), m: views.m.slice(), v: views.v.slice() };
    const kernel = new AdamWKernel(b);
    for (let step = 1; step <= 3; step++) {
      kernel.update(lo, hi, _args(step, noDecay));
      adamwSlice(ref.p, ref.m, ref.v, views.sum, lo, hi, _args(step, noDecay));
    }
    for (
      const [name, got, want] of [
        ["weights", views.weights, ref.p],
        ["m", views.m, ref.m],
        ["v", views.v, ref.v],
      ] as const
    ) {
      const bad = got.findIndex((x, i) => !Object.is(x, want[i]));
      assert.deepEqual(bad, -1, `n ${n}: ${name}[${bad}] ${got[bad]} vs ${want[bad]}`);
    }
    assert(views.weights[lo] !== 0, "the update ran");
  }
});

Deno.test("AdamWKernel: the sum of squares equals the scalar one bit for bit", () => {
  const { b, views } = _state(777, 5);
  const kernel = new AdamWKernel(b);
  for (const [lo, hi] of [[0, 777], [1, 776], [300, 300], [5, 6]]) {
    assert.deepEqual(kernel.sumOfSquares(lo, hi), sumOfSquares(views.sum, lo, hi));
  }
});

Deno.test("AdamWKernel: rejects a slice outside the parameters", () => {
  const { b } = _state(10, 1);
  const kernel = new AdamWKernel(b);
  assert.throws(() => kernel.update(0, 11, _args(1, [])), /no slice of the 10 parameters/);
  assert.throws(() => kernel.sumOfSquares(5, 4), /no slice/);
});
