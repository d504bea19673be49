import { assert } from "../testing/assert.ts";
import { statsFromRanks } from "./measure.ts";
import { type BenchmarkName, BENCHMARKS } from "../data/benchmarks.ts";

Deno.test("calibration: statistics from a hand-made rank array", () => {
  // Two dialogues, three rounds. ChatIR ranks and DAR ranks, the same on all four benchmarks.
  const R = 3;
  const c = Int32Array.from([20, 5, 3, 100, 50, 12]);
  const d = Int32Array.from([30, 9, 1, 100, 5000, 11]);
  const rec = (a: Int32Array) =>
    Object.fromEntries(BENCHMARKS.map((b) => [b, a])) as Record<BenchmarkName, Int32Array>;
  const s = statsFromRanks(rec(c), rec(d), 2, R, 1000);
  // Cumulative Hits@10: ChatIR: round 0 none, round 1 dialogue 0 (5), round 2 still one.
  assert.deepEqual(s.chatir.visdial, [0, 50, 50]);
  assert.deepEqual(s.dar.visdial, [0, 50, 50]);
  // Degradation: round 0 dialogue 0 (30 > 20); round 1 dialogue 0 (9 > 5) and 1 (5000 > 50);
  // round 2 none (1 < 3, 11 < 12).
  assert.deepEqual(s.degradation, [50, 100, 0]);
  assert.equal(s.rankDrop[0], 10);
  assert.equal(s.rankDrop[1], (4 + 4950) / 2);
  assert.ok(Number.isNaN(s.rankDrop[2]));
  assert.equal(s.dialogues, 2);
});
