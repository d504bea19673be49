import { assert } from "../testing/assert.ts";
import { rocAuc, rocCurve, thinCurve } from "./roc.ts";

Deno.test("roc: a perfect detector (positives score lowest) has AUC 1, a reversed one 0", () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]), 0);
});

Deno.test("roc: hand-worked AUC with a tie, and the curve's points", () => {
  // positives 0.1, 0.5; negatives 0.5, 0.7, 0.3. Pairs (pos < neg):
  // 0.1 beats all 3; 0.5 ties 0.5 (half), beats 0.7, loses to 0.3 → 3 + 1.5 = 4.5 of 6
  const c = rocCurve([0.1, 0.5, 0.5, 0.7, 0.3], [1, 1, 0, 0, 0]);
  assert.equal(c.auc, 0.75);
  assert.equal(c.positives, 2);
  assert.equal(c.negatives, 3);
  // thresholds 0.1, 0.3, 0.5 (tie: one of each), 0.7
  assert.deepEqual(c.tpr, [0, 0.5, 0.5, 1, 1]);
  assert.deepEqual(c.fpr, [0, 0, 1 / 3, 2 / 3, 1]);
});

Deno.test("roc: all-tied scores give 0.5; an empty class gives NaN; bad input throws", () => {
  assert.equal(rocAuc([1, 1, 1, 1], [1, 0, 1, 0]), 0.5);
  assert.ok(Number.isNaN(rocAuc([1, 2], [0, 0])));
  assert.throws(() => rocCurve([1, 2], [1]), /2 scores but 1 labels/);
  assert.throws(() => rocCurve([1, NaN], [1, 0]), /score 1 is NaN/);
});

Deno.test("roc: the AUC equals the Mann-Whitney count on random data; thinning keeps it", () => {
  let x = 7;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const s = Array.from({ length: 500 }, () => Math.round(rnd() * 50) / 50);
  const y = s.map((v) => (rnd() < 0.3 + 0.4 * (1 - v) ? 1 : 0));
  let wins = 0, p = 0, n = 0;
  for (let i = 0; i < s.length; i++) {
    if (!y[i]) continue;
    p++;
    for (let j = 0; j < s.length; j++) {
      if (y[j]) continue;
      wins += s[i] < s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  for (const v of y) if (!v) n++;
  const c = rocCurve(s, y);
  assert.ok(Math.abs(c.auc - wins / (p * n)) < 1e-12);
  const t = thinCurve(c, 10);
  assert.equal(t.fpr.length, 10);
  assert.equal(t.auc, c.auc);
  assert.deepEqual([t.fpr[0], t.fpr[9]], [0, 1]);
});
