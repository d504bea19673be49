import { assert } from "../../testing/assert.ts";
import { ensureSyntheticBundle, generateSynthetic, syntheticConfig } from "./generator.ts";
import { syntheticLatent } from "./latent.ts";
import { writeBundle } from "../bundle.ts";

Deno.test("latent truths: written with the bundle, read back, regenerated when missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "latent_test_" });
  try {
    await ensureSyntheticBundle({ preset: "small", seed: 5, dir });
    const want = generateSynthetic(syntheticConfig("small", 5)).latent.visdial;
    const got = await syntheticLatent(dir, "visdial");
    assert.deepEqual(got.offScene, want.offScene);
    assert.deepEqual(got.hard, want.hard);
    assert.ok(got.offScene.some((v) => v === 1), "some generations go off-scene");
    // an older bundle without latent/: regenerated from the manifest's config, and written
    await Deno.remove(`${dir}/latent`, { recursive: true });
    const again = await syntheticLatent(dir, "train");
    assert.deepEqual(
      again.offScene,
      generateSynthetic(syntheticConfig("small", 5)).latent.train.offScene,
    );
    await Deno.stat(`${dir}/latent/visdial_offscene.npy`);
    // a benchmark alone is regenerated without the training splits, with the same truths
    await Deno.remove(`${dir}/latent`, { recursive: true });
    assert.deepEqual((await syntheticLatent(dir, "visdial")).offScene, want.offScene);
    await assert.rejects(() => syntheticLatent(dir, "nope"), /has no split 'nope'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("latent truths: a bundle of real embeddings has none, and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "latent_real_" });
  try {
    await writeBundle(dir, {
      dim: 2,
      rounds: 1,
      corpus: Float32Array.from([1, 0, 0, 1]),
      splits: {
        visdial: {
          text: Float32Array.from([1, 0]),
          gen: Float32Array.from([0, 1]),
          target: Int32Array.from([0]),
        },
      },
    });
    await assert.rejects(() => syntheticLatent(dir, "visdial"), /not a synthetic bundle/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
