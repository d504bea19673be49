import { assert, assertClose } from "../testing/assert.ts";
import { degradationFigure } from "./fig1_degradation.ts";
import { hitsBand, hitsFigure } from "./fig3_hits.ts";
import { fitTrend, gateFigure } from "./fig4_gate.ts";

Deno.test("fitTrend recovers a line and its R²", () => {
  const t = fitTrend([0, 1, 2, 3], [1, 3, 5, 7]);
  assertClose(t.intercept, 1, 1e-9, "intercept");
  assertClose(t.slope, 2, 1e-9, "slope");
  assertClose(t.rSquared, 1, 1e-9, "R²");
  const u = fitTrend([0, 1, 2, 3], [1, 3, 5, 7.1]);
  assertClose(u.slope, 2.03, 1e-9, "slope of the hand-worked case");
  assertClose(u.intercept, 0.98, 1e-9, "intercept of the hand-worked case");
});

Deno.test("hitsBand brackets the cumulative Hits and collapses when every dialogue agrees", () => {
  // 4 dialogues, 3 rounds; all hit at round 1 → every resample gives 0, 100, 100
  const ranks = Int32Array.from([50, 3, 2, 40, 1, 9, 99, 0, 50, 11, 5, 5]);
  const b = hitsBand({ count: 4, rounds: 3, ranks }, 10, { replicates: 200 });
  assert.deepEqual(b.lo, [0, 100, 100]);
  assert.deepEqual(b.hi, [0, 100, 100]);
  const mixed = Int32Array.from([50, 3, 50, 40, 50, 50]);
  const m = hitsBand({ count: 2, rounds: 3, ranks: mixed }, 10, { replicates: 500 });
  assert.ok(m.lo[1] <= 50 && m.hi[1] >= 50 && m.lo[1] < m.hi[1]);
});

Deno.test("figure specs have the traces and axes the paper's figures have", () => {
  const deg = degradationFigure([{ method: "dar", rate: [10, 20], drop: [5, NaN] }], "t");
  assert.equal(deg.data.length, 2);
  assert.equal(deg.data[1].yaxis, "y2");
  assert.deepEqual(deg.data[1].y, [5, null]);
  // the log axis is labelled 1-2-5 per decade with thousands separators
  assert.ok(deg.layout!.yaxis2.ticktext.includes("5,000"), deg.layout!.yaxis2.ticktext);
  const t = { count: 2, rounds: 2, ranks: Int32Array.from([0, 0, 20, 5]) };
  const fig = hitsFigure([{ benchmark: "visdial", methods: { chatir: t } }], {
    bands: false,
    subtitle: "synthetic stand-in, data seed 0, training seed 0",
  });
  assert.deepEqual(fig.data[0].y, [50, 100]);
  assert.match(fig.layout!.title.text, /<sub>synthetic stand-in, data seed 0/);
  const g = gateFigure([0, 0.5, 1], [0.1, 0.2, 0.3], 0.445);
  assertClose(g.trend.slope, 0.2, 1e-9);
  // the paper's 15-25% band, the pairs, the trend, DAR's mean
  assert.equal(g.figure.data.length, 4);
  assert.deepEqual(Math.min(...g.figure.data[0].y), 0.15);
  assert.deepEqual(Math.max(...g.figure.data[0].y), 0.25);
  assert.match(g.figure.data[0].name, /paper: mostly 15-25%/);
});
