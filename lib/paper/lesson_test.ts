import { assert, assertClose } from "../testing/assert.ts";
import {
  fuseAngle,
  gateWeight,
  staticSweep,
  toyCos,
  toyHits,
  toyLoss,
  toyRanks,
  toyWorld,
  trainToyGate,
} from "./lesson.ts";

Deno.test("toy fusion and ranks, by hand", () => {
  assertClose(fuseAngle(0, Math.PI / 2, 0.5), Math.PI / 4, 1e-12); // halfway between
  assertClose(fuseAngle(1, 2, 1), 1, 1e-12); // the text alone
  // three images at 0, 1, 2 rad; a query whose text is at 0.9 and render at 2
  const w = {
    config: {} as never,
    images: Float64Array.from([0, 1, 2]),
    target: Int32Array.from([1]),
    text: Float64Array.from([0.9]),
    gen: Float64Array.from([2]),
    offScene: Uint8Array.from([1]),
  };
  assert.deepEqual(Array.from(toyRanks(w, () => 1)), [0]); // 0.9 is nearest 1
  assert.deepEqual(Array.from(toyRanks(w, () => 0)), [1]); // the render at 2 is its own image
  assertClose(toyCos(w)[0], Math.cos(1.1), 1e-12);
  assert.equal(toyHits(Int32Array.from([0, 3, 1]), 2), (100 * 2) / 3);
  assert.ok(Number.isNaN(toyHits(Int32Array.from([0]), 1, () => false)));
  assertClose(gateWeight(0, 0, 0.3), 0.5, 1e-12);
});

Deno.test("on the toy world, renders help when right and hurt when off-scene; the gate learns", () => {
  const w = toyWorld({ queries: 300 });
  const [img, mid, txt] = staticSweep(w, [0, 0.5, 1], 3);
  assert.ok(img.right > txt.right + 30, "a right render beats the vague text");
  assert.ok(img.offScene < txt.offScene - 20, "an off-scene render loses the target");
  const gate = trainToyGate(w, { steps: 60 });
  assert.ok(gate.losses.at(-1)! < gate.losses[0] - 0.5, "the loss falls");
  assert.ok(gate.a < 0, "the text weight falls as the render agrees with the text");
  assert.ok(toyLoss(w, gate.a, gate.b) < toyLoss(w, 0, 0), "better than the 0.5/0.5 fusion");
  const test = toyWorld({ queries: 300, seed: 1 });
  const c = toyCos(test);
  const gated = toyHits(toyRanks(test, (q) => gateWeight(gate.a, gate.b, c[q])), 3);
  const best = Math.max(...staticSweep(test, [0, 0.25, 0.5, 0.75, 1], 3).map((r) => r.all));
  assert.ok(
    gated > best + 3,
    `the gate (${gated}) beats every static weight (${best}) on new queries`,
  );
  assert.ok(mid.all < Math.max(img.all, txt.all), "a blind 0.5/0.5 is not the best of both");
});
