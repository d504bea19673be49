import { assert } from "../testing/assert.ts";
import { applyTrainOverrides, TRAIN_PRESETS, trainConfigHash } from "../train/config.ts";
import { provenanceLabel, reproTrainingConfig } from "./pipeline.ts";

Deno.test("reproTrainingConfig: preset, seed, then trainSet, as the old --set argv built it", async () => {
  const c = reproTrainingConfig({ seed: 2, trainSet: { epochs: 3, model: { hidden: 32 } } });
  // what reproTrain used to build: --preset repro --set seed=2 --set epochs=3 --set model.hidden=32
  const old = applyTrainOverrides(TRAIN_PRESETS.repro, ["seed=2", "epochs=3", "model.hidden=32"]);
  assert.equal(await trainConfigHash(c), await trainConfigHash(old));
  assert.equal(reproTrainingConfig({ trainSet: { seed: 9 } }).seed, 9); // trainSet comes last
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => reproTrainingConfig({ trainSet: ["lr=1e-4"] as any }),
    /trainSet is a typed partial training config now/,
  );
});

Deno.test("provenanceLabel: data and training seeds for a figure's subtitle", () => {
  assert.equal(
    provenanceLabel({ seed: 0, seeds: [0, 1, 2] }),
    "synthetic stand-in, data seed 0, training seeds 0, 1, 2",
  );
  assert.equal(
    provenanceLabel({ seed: 3, seeds: [1], data: "/x/my_bundle/" }),
    "real data (my_bundle), training seed 1",
  );
});
