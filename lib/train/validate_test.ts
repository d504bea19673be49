import { assert, assertClose } from "../testing/assert.ts";
import { gateStats, heldOutGallery } from "./validate.ts";
import type { TrainData, TrainSplit } from "./loop.ts";

Deno.test("gateStats: image weight, its slope against cos(t, g), R² and off-scene AUC by hand", () => {
  // cos(t, g) = 0, 0.5, 1 (t = e0, g at 90°, 60°, 0°); w = 0.8, 0.6, 0.4 → 1 − w = 0.2, 0.4, 0.6
  const t = Float32Array.from([1, 0, 1, 0, 1, 0]);
  const g = Float32Array.from([0, 1, 0.5, Math.sqrt(0.75), 1, 0]);
  const w = Float32Array.from([0.8, 0.6, 0.4]);
  const s = gateStats(w, t, g, 2, [1, 0, 0]);
  assertClose(s.mean, 0.4, 1e-6);
  assertClose(s.sd, Math.sqrt(0.08 / 3), 1e-6); // population sd of 0.2, 0.4, 0.6
  assertClose(s.slope, 0.4, 1e-6);
  assertClose(s.r2, 1, 1e-6);
  assert.equal(s.auc, 1); // the off-scene pair has the lowest image weight
  assert.equal(gateStats(w, t, g, 2).auc, null); // no latent truths: no AUC
  assert.equal(gateStats(w, t, g, 2, [0, 0, 0]).auc, null); // one class only
  // a constant gate: no spread, no slope
  const flat = gateStats(Float32Array.from([0.5, 0.5, 0.5]), t, g, 2, [1, 0, 0]);
  assert.deepEqual([flat.sd, flat.slope, flat.r2, flat.auc], [0, 0, 0, 0.5]);
});

Deno.test("heldOutGallery: the val pool, then corpus images up to the corpus's size", () => {
  const corpus = Float32Array.from([1, 2, 3, 4, 5]); // d = 1, 5 images
  const val: TrainSplit = {
    count: 2,
    text: new Float32Array(2),
    gen: new Float32Array(2),
    target: Int32Array.from([0, 1]),
    images: Float32Array.from([10, 11]),
    imageCount: 2,
  };
  const data: TrainData = { dim: 1, rounds: 1, corpusSize: 5, corpus, splits: { val } };
  assert.deepEqual(Array.from(heldOutGallery(data, val)!), [10, 11, 1, 2, 3]);
  assert.equal(heldOutGallery(data, { ...val, images: undefined, imageCount: undefined }), null);
});
