import { assert, assertClose } from "../testing/assert.ts";
import { CALIBRATION_TARGETS, calibrationObjective, CENTRE_WEIGHT, targetMiss } from "./targets.ts";

Deno.test("calibration: misses and objective on hand cases", () => {
  const two = { lo: 0, hi: 2, scale: 1 };
  const up = { lo: 0, hi: Infinity, scale: 2 };
  assert.equal(targetMiss(two, 1), 0);
  assert.equal(targetMiss(two, 3), 1);
  assert.equal(targetMiss(two, -0.5), 0.5);
  assert.equal(targetMiss(up, -1), 0.5);
  assert.equal(targetMiss(up, 100), 0);
  // In the middle: nothing. At 3: miss 1 plus the centre pull ((3-1)/1)^2.
  assert.equal(calibrationObjective([1], [two]), 0);
  assertClose(calibrationObjective([3], [two]), 1 + CENTRE_WEIGHT * 4, 1e-12);
  assertClose(calibrationObjective([2], [two]), CENTRE_WEIGHT, 1e-12);
  // One-sided targets have no centre.
  assertClose(calibrationObjective([-1, 1], [up, two]), 0.25, 1e-12);
  assert.throws(() => calibrationObjective([1, 2], [two]), Error, "one value per target");
});

Deno.test("calibration: the table holds the issue's 42 targets with sane intervals", () => {
  assert.equal(CALIBRATION_TARGETS.length, 42);
  const ids = new Set(CALIBRATION_TARGETS.map((t) => t.id));
  assert.equal(ids.size, 42, "ids are unique");
  for (const t of CALIBRATION_TARGETS) {
    assert.ok(t.lo < t.hi && t.scale > 0, t.id);
    assert.ok(t.source.length > 0, t.id);
  }
  const r3 = CALIBRATION_TARGETS.find((t) => t.id === "chatir_visdial_r3")!;
  assert.deepEqual([r3.lo, r3.hi], [73.01 - 2.5, 73.01 + 2.5]);
});
