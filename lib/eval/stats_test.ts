import { assert, assertClose } from "../testing/assert.ts";
import {
  bootstrapSlope,
  hitIndicators,
  mcnemarExact,
  pairedBootstrap,
  pairedMcNemar,
  quantileSorted,
} from "./stats.ts";
import { Rng } from "../runtime/rng.ts";

Deno.test("identical methods: diff 0, CI [0, 0], p = 1", () => {
  const rng = new Rng(1);
  const ranks = new Int32Array(40 * 3).map(() => rng.int(30));
  for (const ci of pairedBootstrap(ranks, ranks, 40, 3, { replicates: 200 })) {
    assert.deepEqual([ci.diff, ci.lo, ci.hi], [0, 0, 0]);
  }
  for (const m of pairedMcNemar(ranks, ranks, 40, 3)) assert.equal(m.p, 1);
});

Deno.test("exact McNemar matches hand-computed binomial tails", () => {
  assertClose(mcnemarExact(10, 2), 158 / 4096, 1e-12, "b=10 c=2"); // 2·(1+12+66)/2^12
  assertClose(mcnemarExact(2, 10), 158 / 4096, 1e-12, "symmetric");
  assertClose(mcnemarExact(0, 5), 0.0625, 1e-12, "0 vs 5");
  assert.equal(mcnemarExact(3, 3), 1);
  assert.equal(mcnemarExact(0, 0), 1);
  // Large counts (exact values from Python's fractions): stays accurate in log space.
  assertClose(mcnemarExact(600, 400) / 2.7284641560660184e-10, 1, 1e-9, "600/400");
  assertClose(mcnemarExact(1200, 1100), 0.03896685268382058, 1e-12, "1200/1100");
});

Deno.test("paired tests on a hand-worked case", () => {
  // 4 dialogues × 2 rounds; K = 10 cumulative.
  const a = new Int32Array([0, 50, 50, 3, 50, 50, 1, 1]); // hits: [1,1],[0,1],[0,0],[1,1]
  const b = new Int32Array([50, 50, 50, 50, 5, 50, 1, 1]); // hits: [0,0],[0,0],[1,1],[1,1]
  assert.deepEqual(Array.from(hitIndicators(a, 4, 2, 10, true)), [1, 1, 0, 1, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(hitIndicators(a, 4, 2, 10, false)), [1, 0, 0, 1, 0, 0, 1, 1]);
  const m = pairedMcNemar(a, b, 4, 2);
  assert.deepEqual(m.map((x) => [x.onlyA, x.onlyB]), [[1, 1], [2, 1]]);
  assert.equal(m[0].p, 1);
  const ci = pairedBootstrap(a, b, 4, 2, { replicates: 500, seed: 3 });
  assert.equal(ci[0].diff, 0);
  assert.equal(ci[1].diff, 25);
  for (const c of ci) assert.ok(c.lo <= c.diff && c.diff <= c.hi && c.lo >= -100 && c.hi <= 100);
  // Same seed, same interval.
  assert.deepEqual(pairedBootstrap(a, b, 4, 2, { replicates: 500, seed: 3 }), ci);
});

Deno.test("bootstrap interval covers a clear difference and excludes 0", () => {
  const q = 400;
  const a = new Int32Array(q).map((_, i) => (i % 10 < 7 ? 0 : 99)); // 70% hits
  const b = new Int32Array(q).map((_, i) => (i % 10 < 4 ? 0 : 99)); // 40%, nested in A's
  const [ci] = pairedBootstrap(a, b, q, 1, { replicates: 1000 });
  assertClose(ci.diff, 30, 1e-12, "diff");
  assert.ok(ci.lo > 20 && ci.hi < 40 && ci.lo < 30 && ci.hi > 30, JSON.stringify(ci));
  assert.ok(pairedMcNemar(a, b, q, 1)[0].p < 1e-30);
});

Deno.test("quantileSorted interpolates like numpy", () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assertClose(quantileSorted([0, 10], 0.025), 0.25, 1e-12);
  assert.ok(Number.isNaN(quantileSorted([], 0.5)));
});

Deno.test("bootstrapSlope: the exact slope of a line, an interval that brackets a noisy one", () => {
  const x = [0, 1, 2, 3], y = [1, 3, 5, 7];
  const line = bootstrapSlope(x, y, { replicates: 200 });
  assertClose(line.slope, 2, 1e-12, "slope of y = 1 + 2x");
  // every resample of points on one line has slope 2 (or 0 when all x coincide)
  assert.ok(line.hi <= 2 + 1e-12 && line.lo >= 0);
  const rng = new Rng(3);
  const xs = Array.from({ length: 400 }, () => rng.uniform());
  const ys = xs.map((v) => 0.5 * v + 0.2 * (rng.uniform() - 0.5));
  const s = bootstrapSlope(xs, ys, { seed: 1 });
  assert.ok(s.lo < s.slope && s.slope < s.hi, "interval brackets the estimate");
  assert.ok(s.lo > 0.4 && s.hi < 0.6, `[${s.lo}, ${s.hi}] around 0.5`);
  assert.deepEqual(bootstrapSlope(xs, ys, { seed: 1 }), s, "seeded");
  assert.throws(() => bootstrapSlope([1], [1]), /same length ≥ 2/);
});
