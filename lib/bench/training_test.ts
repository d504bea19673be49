import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { benchFullRecipe, benchOptimizer } from "./training.ts";
import { tinyTrainConfig } from "../testing/tiny_train_data.ts";

await initBackend("wasm");

Deno.test("benchFullRecipe trains the given recipe end to end (here: tiny) and times it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_full_test_" });
  try {
    const r = await benchFullRecipe(() => {}, {
      preset: "small",
      dataDir: dir,
      runDir: `${dir}/run`,
      dataOverrides: { corpusSize: 300, benchSize: 8, trainSize: 32, valSize: 8 },
      config: tinyTrainConfig(["epochs=1", "warmupEpochs=0", "model.dim=256"]),
    });
    assert.equal(r.epochs, 1);
    assert.equal(r.dialogues, 32);
    assert.ok(r.sec > 0);
    assert.ok(r.eta.every((c) => c.predictedSec >= 0 && c.actualSec >= 0), "ETA checks");
    assert.equal(await Deno.stat(`${dir}/run`).then(() => true, () => false), false, "run kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("benchOptimizer: times the AdamW kernel against its scalar definition, same bits", () => {
  const r = benchOptimizer({ warmup: 1, runs: 2 }, 10_001);
  assert.equal(r.params, 10_001);
  assert.ok(r.identical, "kernel and scalar loop disagree");
  assert.ok(r.kernelMs > 0 && r.scalarMs > 0);
});
