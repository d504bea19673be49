import { assert } from "../testing/assert.ts";
import { fig1Comparison } from "./fig1_degradation.ts";
import { fig2Comparison } from "./fig2_architecture.ts";
import { fig3Comparison } from "./fig3_hits.ts";
import { fig4Comparison } from "./fig4_gate.ts";

Deno.test("paper tables: the holds column follows our numbers, never the paper's", () => {
  assert.deepEqual(fig2Comparison().map((r) => r.holds), ["yes", "yes"]);
  const rounds = (v: number) => Array.from({ length: 11 }, () => v);
  const dar = { method: "dar", rate: rounds(60), drop: rounds(7000) };
  const falling = Array.from({ length: 11 }, (_, r) => 30 - r);
  const good = { method: "adafuse", rate: falling, drop: rounds(20) };
  const bad = { method: "adafuse", rate: rounds(70), drop: rounds(900) };
  assert.deepEqual(fig1Comparison(dar, good).map((r) => r.holds), [
    "yes",
    "yes",
    "yes",
    "yes",
    "yes",
  ]);
  assert.deepEqual(fig1Comparison(dar, bad).map((r) => r.holds), ["yes", "yes", "no", "no", "no"]);
  // two seeds: verdicts on the mean (rates 30-r and 10: mean falls; drops 20 and 50: mean 35)
  const two = fig1Comparison(dar, [good, {
    method: "adafuse",
    rate: rounds(10),
    drop: rounds(50),
  }]);
  assert.deepEqual(two.map((r) => r.holds), ["yes", "yes", "yes", "yes", "yes"]);
  assert.match(two[4].ours, /^35 ± 21 \(2 seeds\)$/);
  // DAR's drop must be within a factor of 2 of 7,500: 3,749 is not, 15,000 is
  assert.equal(fig1Comparison({ ...dar, drop: rounds(3749) })[1].holds, "no");
  assert.equal(fig1Comparison({ ...dar, drop: rounds(15000) })[1].holds, "yes");
  const weak = { method: "dar", rate: rounds(30), drop: rounds(200) };
  assert.deepEqual(fig1Comparison(weak).map((r) => r.holds), ["no", "no"]);
  const rows3 = fig3Comparison(rounds(66), { round0: [-1], round10: [2], ci10: [0.5, 3.5] });
  assert.equal(rows3.length, 13);
  assert.equal(rows3[0].holds, "no"); // |66 − 63.42| > 2.5
  assert.equal(fig3Comparison(rounds(65))[0].holds, "yes"); // |65 − 63.42| ≤ 2.5
  assert.equal(rows3[10].holds, "no"); // |66 − 81.83| > 2.5
  assert.deepEqual(rows3.slice(11).map((r) => r.holds), ["no", "yes"]);
  assert.match(rows3[12].ours, /\+2\.00 \[0\.50, 3\.50\]/);
  const seeds3 = fig3Comparison(rounds(66), {
    round0: [1, 3],
    round10: [2, 4],
    perRound: { visdial: rounds(1), human_blip2: [...rounds(1).slice(0, 10), -0.5] },
  });
  assert.equal(seeds3[11].ours, "+2.00 ± 1.41 (2 seeds)");
  assert.equal(seeds3[13].holds, "no");
  assert.match(seeds3[13].ours, /human_blip2 r10/);
  const up = fig4Comparison(
    [0.2, 0.2, 0.2, 0.3],
    { intercept: 0.1, slope: 0.3, rSquared: 0.5 },
    0.445,
  );
  assert.deepEqual(up.map((r) => r.holds), ["yes", "yes", "yes"]);
  const t = { intercept: 0.1, slope: 0.3, rSquared: 0.5 };
  // a positive slope whose interval reaches below 0 does not hold
  assert.equal(fig4Comparison([0.2], t, 0.445, [-0.01, 0.6])[2].holds, "no");
  assert.equal(fig4Comparison([0.2], t, 0.445, [0.01, 0.6], [0.3, 0.1])[2].holds, "yes");
  // a real but tiny trend: the interval above 0, the weight rising 0.3 × 0.1 = 3 points < 5
  const cos = Array.from({ length: 101 }, (_, i) => 0.4 + i / 1000); // middle 90%: 0.405-0.495
  const tiny = fig4Comparison([0.2], t, 0.445, [0.01, 0.6], undefined, cos)[2];
  assert.equal(tiny.holds, "no");
  assert.match(tiny.ours, /rise \+2\.7 points/);
  assert.match(tiny.quantity, /rises ≥ 5 points across the middle 90% of cos/);
  const wide = Array.from({ length: 101 }, (_, i) => i / 100); // middle 90%: 0.05-0.95, rise 27
  assert.equal(fig4Comparison([0.2], t, 0.445, [0.01, 0.6], undefined, wide)[2].holds, "yes");
  const flat = fig4Comparison([0.5, 0.6], { intercept: 0.5, slope: -0.1, rSquared: 0.1 }, 0.445);
  assert.deepEqual(flat.map((r) => r.holds), ["no", "no", "no"]);
});
