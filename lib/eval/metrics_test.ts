import { assert, assertClose } from "../testing/assert.ts";
import { averageRankDrop, degradationRate, hitsCumulative, hitsPerRound } from "./metrics.ts";

// 4 dialogues × 3 rounds.
const ranks = new Int32Array([
  0,
  20,
  30, // hit@1 at round 0, then lost: cumulative keeps it
  15,
  5,
  12, // hit@10 only at round 1
  100,
  200,
  9, // hit@10 at round 2
  50,
  60,
  70, // never
]);

Deno.test("hitsCumulative counts a dialogue from its first hit on", () => {
  assertClose(hitsCumulative(ranks, 4, 3, 10), [25, 50, 75], 1e-12, "H@10 cum");
  assertClose(hitsCumulative(ranks, 4, 3, 1), [25, 25, 25], 1e-12, "H@1 cum");
  assertClose(hitsCumulative(ranks, 4, 3, 51), [75, 75, 100], 1e-12, "H@51 cum");
});

Deno.test("hitsPerRound counts each round on its own", () => {
  assertClose(hitsPerRound(ranks, 4, 3, 10), [25, 25, 25], 1e-12, "H@10 per round");
  assertClose(hitsPerRound(ranks, 4, 3, 16), [50, 25, 50], 1e-12, "H@16 per round");
  assert.throws(() => hitsPerRound(ranks, 3, 3, 10), /12 values, expected Q × rounds = 3 × 3/);
});

Deno.test("degradation rate and average rank drop", () => {
  const text = new Int32Array([10, 10, 0, 0, 5, 100]); // 2 dialogues × 3 rounds
  const fused = new Int32Array([12, 10, 0, 30, 1, 100]);
  // round 0: both degraded (+2, +30); round 1: none; round 2: none.
  assertClose(degradationRate(fused, text, 2, 3), [100, 0, 0], 1e-12, "degradation");
  const drop = averageRankDrop(fused, text, 2, 3);
  assert.equal(drop[0], 16);
  assert.ok(Number.isNaN(drop[1]) && Number.isNaN(drop[2]));
  assert.throws(() => degradationRate(fused, new Int32Array(5), 2, 3), /text/);
});
