import { assert } from "../testing/assert.ts";
import { fig1Comparison } from "./fig1_degradation.ts";
import { fig2Comparison } from "./fig2_architecture.ts";
import { fig3Comparison } from "./fig3_hits.ts";
import { fig4Comparison } from "./fig4_gate.ts";

Deno.test("paper tables: the holds column follows our numbers, never the paper's", () => {
  assert.deepEqual(fig2Comparison().map((r) => r.holds), ["yes", "yes"]);
  const rounds = (v: number) => Array.from({ length: 11 }, () => v);
  const dar = { method: "dar", rate: rounds(60), drop: rounds(2000) };
  const good = { method: "adafuse", rate: rounds(10), drop: rounds(20) };
  const bad = { method: "adafuse", rate: rounds(70), drop: rounds(900) };
  assert.deepEqual(fig1Comparison(dar, good).map((r) => r.holds), ["yes", "yes", "yes", "yes"]);
  assert.deepEqual(fig1Comparison(dar, bad).map((r) => r.holds), ["yes", "yes", "no", "no"]);
  const weak = { method: "dar", rate: rounds(30), drop: rounds(200) };
  assert.deepEqual(fig1Comparison(weak).map((r) => r.holds), ["no", "no"]);
  const rows3 = fig3Comparison(rounds(66), { round0: -1, round10: 2, ci10: [0.5, 3.5] });
  assert.equal(rows3.length, 13);
  assert.equal(rows3[0].holds, "yes"); // |66 − 63.42| ≤ 5
  assert.equal(rows3[10].holds, "no"); // |66 − 81.83| > 5
  assert.deepEqual(rows3.slice(11).map((r) => r.holds), ["no", "yes"]);
  assert.match(rows3[12].ours, /\+2\.00 \[0\.50, 3\.50\]/);
  const up = fig4Comparison(
    [0.2, 0.2, 0.2, 0.3],
    { intercept: 0.1, slope: 0.3, rSquared: 0.5 },
    0.445,
  );
  assert.deepEqual(up.map((r) => r.holds), ["yes", "yes", "yes"]);
  const flat = fig4Comparison([0.5, 0.6], { intercept: 0.5, slope: -0.1, rSquared: 0.1 }, 0.445);
  assert.deepEqual(flat.map((r) => r.holds), ["no", "no", "no"]);
});
