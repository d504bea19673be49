import { assert, assertClose } from "../testing/assert.ts";
import { cosineWithWarmup, scheduleSteps } from "./schedule.ts";

Deno.test("cosine with warm-up: start, end of warm-up, middle, end", () => {
  const { totalSteps, warmupSteps } = scheduleSteps(50, 5, 20); // 1000 steps, 100 warm-up
  assert.equal(totalSteps, 1000);
  assert.equal(warmupSteps, 100);
  const lr = (s: number) => cosineWithWarmup(s, 5e-5, totalSteps, warmupSteps);
  assert.equal(lr(0), 0);
  assertClose(lr(50), 2.5e-5, 1e-15, "half-way through warm-up");
  assertClose(lr(100), 5e-5, 1e-15, "end of warm-up = peak");
  assertClose(lr(550), 2.5e-5, 1e-15, "middle of the decay = half the peak");
  // a quarter into the decay: ½(1 + cos(π/4))
  assertClose(lr(325), 5e-5 * 0.5 * (1 + Math.SQRT1_2), 1e-15, "quarter of the decay");
  assertClose(lr(999), 5e-5 * 0.5 * (1 + Math.cos(Math.PI * 899 / 900)), 1e-18, "last step");
  assert.equal(lr(1000), 0);
  assert.equal(lr(5000), 0);
});

Deno.test("no warm-up starts at the peak; bad arguments are refused", () => {
  assertClose(cosineWithWarmup(0, 1, 10, 0), 1, 0);
  assert.throws(() => cosineWithWarmup(0, 1, 0, 0), /totalSteps/);
  assert.throws(() => cosineWithWarmup(0, 1, 10, 11), /warmupSteps/);
  assert.throws(() => scheduleSteps(5, 6, 10), /warmupEpochs/);
});
