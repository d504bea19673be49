import { assert } from "../testing/assert.ts";
import {
  applyTrainOverrides,
  fullTrainConfig,
  loadTrainConfig,
  modelConfigOf,
  reproTrainConfig,
  TRAIN_PRESETS,
  trainConfig,
  trainConfigHash,
  trainOverridesFromSets,
  validateTrainConfig,
} from "./config.ts";
import { parameterCount } from "../model/config.ts";

Deno.test("fullTrainConfig is the reference recipe (docs/method.md)", () => {
  const c = fullTrainConfig;
  assert.deepEqual(
    [c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, c.epochs, c.warmupEpochs, c.clipNorm],
    [5e-5, 0.9, 0.999, 1e-8, 0.05, 50, 5, 3.0],
  );
  assert.deepEqual([c.batchSize, c.accumulate, c.temperature, c.learnableScale], [
    128,
    16,
    0.07,
    false,
  ]);
  assert.equal(c.trainSplit, "train");
  assert.equal(c.valSplit, "val");
  const m = modelConfigOf(c);
  assert.equal(m.logitScaleInit, 1 / 0.07);
  assert.equal(parameterCount(m), 11_812_614);
  assert.equal(modelConfigOf({ ...c, learnableScale: true }).logitScaleInit, 50);
  validateTrainConfig(structuredClone(c));
  validateTrainConfig(structuredClone(reproTrainConfig));
});

Deno.test("key=value overrides: nested keys, JSON values, strings, errors", () => {
  const c = applyTrainOverrides(fullTrainConfig, [
    "epochs=3",
    "warmupEpochs=1",
    "lr=1e-3",
    "model.hidden=64",
    "learnableScale=true",
    "valSplit=val2",
    "maxTrainDialogues=100",
  ]);
  assert.equal(c.epochs, 3);
  assert.equal(c.lr, 1e-3);
  assert.equal(c.model.hidden, 64);
  assert.equal(c.model.proj, 512, "sibling model keys kept");
  assert.equal(c.learnableScale, true);
  assert.equal(c.valSplit, "val2");
  assert.equal(c.maxTrainDialogues, 100);
  assert.equal(fullTrainConfig.epochs, 50, "the preset is not modified");
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["epoch=3"]), /unknown key 'epoch'/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["model.hiden=3"]), /model\.hiden/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["epochs"]), /key=value/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["epochs=abc"]), /takes a number/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["epochs=0"]), /positive integer/);
  assert.throws(
    () => applyTrainOverrides(fullTrainConfig, ["model.learnableScale=true"]),
    /unknown/,
  );
});

Deno.test("selection on a benchmark split is refused", () => {
  for (const s of ["visdial", "chatgpt_blip2", "human_blip2", "flan_alpaca_xxl_blip2", "test"]) {
    assert.throws(() => applyTrainOverrides(fullTrainConfig, [`valSplit=${s}`]), /benchmark/);
  }
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["valSplit=train"]), /held-out/);
});

Deno.test("config files merge over a preset; unknown keys name the key; hash is stable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a.json`,
      JSON.stringify({ preset: "repro", epochs: 7, model: { hidden: 128 } }),
    );
    const c = await loadTrainConfig(`${dir}/a.json`);
    assert.equal(c.epochs, 7);
    assert.equal(c.accumulate, reproTrainConfig.accumulate);
    assert.equal(c.model.hidden, 128);
    await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify({ batchsize: 3 }));
    await assert.rejects(
      () => loadTrainConfig(`${dir}/b.json`),
      /unknown key 'batchsize'.*b\.json/,
    );
    const h1 = await trainConfigHash(c);
    const h2 = await trainConfigHash(structuredClone(c));
    assert.equal(h1, h2);
    assert.notEqual(h1, await trainConfigHash({ ...c, seed: 1 }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine and workers: defaults, overrides, errors, and what the hash keeps", async () => {
  assert.equal(fullTrainConfig.engine, "parallel");
  assert.equal(fullTrainConfig.workers, "auto");
  assert.equal(reproTrainConfig.engine, "parallel");
  const c = applyTrainOverrides(fullTrainConfig, ["engine=autodiff", "workers=3"]);
  assert.deepEqual([c.engine, c.workers], ["autodiff", 3]);
  assert.equal(applyTrainOverrides(c, ["workers=auto"]).workers, "auto");
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["engine=fast"]), /engine 'fast'/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["workers=-1"]), /workers must/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["workers=2.5"]), /workers must/);
  assert.throws(() => applyTrainOverrides(fullTrainConfig, ["workers=many"]), /workers must/);
  const base = structuredClone(fullTrainConfig);
  const h = await trainConfigHash(base);
  assert.equal(await trainConfigHash({ ...base, workers: 0 }), h, "workers is not hashed");
  const auto = await trainConfigHash({ ...base, engine: "autodiff" });
  assert.notEqual(auto, h, "the engine is hashed");
  assert.equal(await trainConfigHash({ ...base, engine: "autodiff", workers: 2 }), auto);
});

Deno.test("trainConfig: preset plus typed overrides equals the same --set strings", async () => {
  const typed = trainConfig("repro", { seed: 3, lr: 1e-4, model: { hidden: 64 } });
  const sets = applyTrainOverrides(TRAIN_PRESETS.repro, ["seed=3", "lr=1e-4", "model.hidden=64"]);
  assert.deepEqual(typed, sets);
  assert.equal(await trainConfigHash(typed), await trainConfigHash(sets));
  assert.equal(typed.model.proj, TRAIN_PRESETS.repro.model.proj); // model merged field by field
  assert.deepEqual(trainConfig(), structuredClone(fullTrainConfig));
  assert.throws(
    () => trainConfig("fast"),
    /preset 'fast' is unknown; use one of full, repro/,
  );
  // `default` was a second name of `full`: the error says which name to use
  assert.throws(() => trainConfig("default"), /now one preset: use full/);
  assert.deepEqual(Object.keys(TRAIN_PRESETS), ["full", "repro"]);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => trainConfig("full", { epoch: 3 } as any), /epoch/);
  assert.deepEqual(trainOverridesFromSets(["epochs=2", "model.experts=3"]), {
    epochs: 2,
    model: { experts: 3 },
  });
});

Deno.test("the full preset is the paper's recipe exactly; repro shortens it and keeps the rest", () => {
  const f = TRAIN_PRESETS.full;
  assert.equal(f.epochs, 50);
  assert.equal(f.warmupEpochs, 5);
  assert.equal(f.batchSize, 128);
  assert.equal(f.accumulate, 16);
  assert.equal(f.evalEvery, 1);
  assert.equal(f.maxValDialogues, null);
  assert.equal(f.maxTrainDialogues, null);
  assert.equal(f, fullTrainConfig);
  const r = TRAIN_PRESETS.repro;
  const changed = Object.keys(f).filter((k) =>
    JSON.stringify(f[k as keyof typeof f]) !== JSON.stringify(r[k as keyof typeof r])
  ).sort();
  assert.deepEqual(changed, ["accumulate", "epochs", "maxValDialogues", "warmupEpochs"]);
  assert.ok(
    Math.abs(r.warmupEpochs / r.epochs - f.warmupEpochs / f.epochs) < 1e-12,
    "warm-up share",
  );
});

Deno.test("model.fixedTextWeight: optional, typed, checked; absent, it is not hashed", async () => {
  // Pinned (the reference recipe's, cache revision 2, the head_math engine revision): cached runs
  // are named by these hashes, so a change here renames every run
  assert.equal(
    await trainConfigHash(trainConfig("full", { seed: 0 })),
    "f49ca4d96bf4e0caba1ee7d31fafa3037e52f8b451f8f476fb79a447e035eeb2",
  );
  const moe = trainConfig("full", { model: { variant: "moe_only" } });
  const moeHash = "624e38804c09a22662a871b56e54da202e6b97acbf768fd539a36670d3ed3dd4";
  assert.equal(await trainConfigHash(moe), moeHash);
  assert.ok(!("fixedTextWeight" in fullTrainConfig.model), "not in the presets");
  // given as undefined, it is absent (and hashes as absent)
  const undef = trainConfig("full", {
    model: { variant: "moe_only", fixedTextWeight: undefined },
  });
  assert.ok(!("fixedTextWeight" in undef.model));
  assert.equal(await trainConfigHash(undef), moeHash);
  assert.equal(
    await trainConfigHash({ ...moe, model: { ...moe.model, fixedTextWeight: undefined } }),
    moeHash,
  );
  // set, it is hashed; typed and --set overrides agree
  const typed = trainConfig("full", { model: { variant: "moe_only", fixedTextWeight: 0.8 } });
  const sets = applyTrainOverrides(TRAIN_PRESETS.full, [
    "model.variant=moe_only",
    "model.fixedTextWeight=0.8",
  ]);
  assert.deepEqual(typed, sets);
  assert.equal(modelConfigOf(typed).fixedTextWeight, 0.8);
  const h8 = await trainConfigHash(typed);
  assert.notEqual(h8, moeHash);
  assert.equal(await trainConfigHash(sets), h8);
  assert.notEqual(
    await trainConfigHash(applyTrainOverrides(typed, ["model.fixedTextWeight=0.7"])),
    h8,
  );
  assert.equal(
    applyTrainOverrides(TRAIN_PRESETS.repro, ["model.variant=proj_only"]).model.variant,
    "proj_only",
  );
  // errors: type, range, a variant with a gate
  assert.throws(
    () => applyTrainOverrides(moe, ["model.fixedTextWeight=high"]),
    /model\.fixedTextWeight takes a number/,
  );
  assert.throws(
    () => applyTrainOverrides(moe, ["model.fixedTextWeight=1.5"]),
    /fixedTextWeight must be a finite number in \[0, 1\]/,
  );
  assert.throws(
    () => applyTrainOverrides(fullTrainConfig, ["model.fixedTextWeight=0.8"]),
    /'full' variant learns the text weight.*remove fixedTextWeight/,
  );
  assert.throws(() => applyTrainOverrides(moe, ["fixedTextWeight=0.8"]), /unknown key/);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/w.json`;
    const json = { preset: "repro", model: { variant: "proj_only", fixedTextWeight: 0.25 } };
    await Deno.writeTextFile(file, JSON.stringify(json));
    const c = await loadTrainConfig(file);
    assert.deepEqual([c.model.variant, c.model.fixedTextWeight], ["proj_only", 0.25]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
