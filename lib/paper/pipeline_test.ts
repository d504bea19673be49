import { assert } from "../testing/assert.ts";
import { applyTrainOverrides, TRAIN_PRESETS, trainConfigHash } from "../train/config.ts";
import { reproTrainingConfig } from "./pipeline.ts";

Deno.test("reproTrainingConfig: preset, training seed, then overrides, as the old --set argv built it", async () => {
  const c = reproTrainingConfig({
    trainSeeds: [2],
    overrides: { epochs: 3, model: { hidden: 32 } },
  });
  // what reproTrain used to build: --preset repro --set seed=2 --set epochs=3 --set model.hidden=32
  const old = applyTrainOverrides(TRAIN_PRESETS.repro, ["seed=2", "epochs=3", "model.hidden=32"]);
  assert.equal(await trainConfigHash(c), await trainConfigHash(old));
  assert.equal(reproTrainingConfig({ trainSeeds: [4, 5] }, 5).seed, 5);
  assert.equal(reproTrainingConfig({ trainSeeds: [4, 5] }).seed, 4, "the first training seed");
});
