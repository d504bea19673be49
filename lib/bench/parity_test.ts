import { assert, assertClose } from "../testing/assert.ts";
import { type ParitySeed, paritySummary, parityTable, parityVerdict } from "./parity.ts";

Deno.test("parityVerdict: the gap of the means against the larger range over seeds", () => {
  // ours 1, 2, 3 (mean 2, range 2); torch 2.5, 3.5 (mean 3, range 1): gap −1, within 2
  const v = parityVerdict([1, 2, 3], [2.5, 3.5]);
  assert.deepEqual(v, { ours: 2, torch: 3, gap: -1, spread: 2, within: true });
  assert.equal(parityVerdict([1, 1.1], [2, 2.05]).within, false); // gap 0.975 > range 0.1
  assert.equal(parityVerdict([1], [1]).within, true); // one seed each, equal: no spread needed
  assert.throws(() => parityVerdict([], [1]), /at least one seed/);
});

Deno.test("parityTable and paritySummary line the two sides up by seed and validation", () => {
  const e = (epoch: number, valMetric: number, imageWeight: number) => ({
    epoch,
    step: 2 * (epoch + 1),
    trainLoss: 3 - epoch,
    valMetric,
    imageWeight,
    slope: 0.1 * epoch,
  });
  const seeds: ParitySeed[] = [
    { seed: 0, ours: [e(0, 0.5, 0.5), e(1, 0.6, 0.4)], torch: [e(0, 0.5, 0.5), e(1, 0.62, 0.4)] },
    { seed: 1, ours: [e(0, 0.5, 0.5), e(1, 0.64, 0.4)], torch: [e(0, 0.5, 0.5), e(1, 0.6, 0.4)] },
  ];
  const rows = parityTable(seeds);
  assert.equal(rows.length, 4);
  assert.deepEqual([rows[1].seed, rows[1].epoch, rows[1]["val % ours"], rows[1]["val % torch"]], [
    0,
    2,
    60,
    62,
  ]);
  const s = paritySummary(seeds);
  assertClose(s.valMetric.gap, 0.01, 1e-12); // 0.62 vs 0.61
  assertClose(s.valMetric.spread, 0.04, 1e-12);
  assert.equal(s.valMetric.within, true);
  assert.deepEqual(Object.keys(s), ["trainLoss", "valMetric", "imageWeight", "slope"]);
});
