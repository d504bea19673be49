/**
 * The reproduction pipeline with several training seeds, on the small synthetic preset and a
 * tiny head (seconds): one cached run per seed, per-seed evaluations, single-seed callers
 * unchanged. The seed rules themselves are experiment_test.ts's.
 */
import { assert } from "../testing/assert.ts";

const TINY = {
  epochs: 1,
  warmupEpochs: 0,
  batchSize: 64,
  accumulate: 2,
  model: { proj: 16, hidden: 32, experts: 2 },
  workers: 0,
  maxValDialogues: 32,
};

Deno.test("pipeline: one cached run per training seed, per-seed results, single-seed callers unchanged", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pipeline_seeds_" });
  const old = Deno.env.get("ADAFUSE_CACHE_DIR");
  Deno.env.set("ADAFUSE_CACHE_DIR", tmp); // read by lib/runtime/paths.ts when the pipeline is imported
  try {
    const p = await import("./pipeline.ts");
    const base = { dataPreset: "small", dataSeed: 1, overrides: TINY };
    const config = { ...base, trainSeeds: [0, 1] };
    const runs = await p.reproSeedRuns(config);
    assert.deepEqual(runs.map((r) => r.seed), [0, 1]);
    assert.ok(runs[0].dir !== runs[1].dir);
    assert.match(runs[0].dir, /\/runs\/synthetic-small-1-[0-9a-f]+--repro-seed0-[0-9a-f]{8}$/);
    assert.match(runs[1].dir, /--repro-seed1-/);
    for (const r of runs) {
      const cfg = JSON.parse(await Deno.readTextFile(`${r.dir}/config.json`)).config;
      assert.equal(cfg.seed, r.seed, "each run trains with its own seed");
    }
    // cached: the second call trains nothing (the checkpoints are not rewritten)
    const mtime = (await Deno.stat(runs[0].checkpoint)).mtime?.getTime();
    const again = await p.reproSeedRuns(config);
    assert.deepEqual(again, runs);
    assert.equal((await Deno.stat(runs[0].checkpoint)).mtime?.getTime(), mtime);

    const evals = await p.reproEvalSeeds(config, "visdial", "adafuse");
    assert.deepEqual(evals.map((e) => e.seed), [0, 1]);
    assert.notDeepEqual(evals[0].eval.ranks, evals[1].eval.ranks, "seeds give other heads");
    // a single-seed caller: reproTrain/reproEval without a seed take the first of `trainSeeds`
    // (the default's first is 0); the data seed does not pick the training seed
    assert.deepEqual(await p.reproTrain(config), runs[0]);
    assert.deepEqual(await p.reproTrain(base), runs[0]);
    const one = { ...base, trainSeeds: [1] };
    assert.deepEqual(await p.reproTrain(one), runs[1]);
    assert.deepEqual((await p.reproEval(one, "visdial", "adafuse")).ranks, evals[1].eval.ranks);
    const chatir = await p.reproEvalSeeds(config, "visdial", "chatir");
    assert.deepEqual(chatir[0].eval.ranks, chatir[1].eval.ranks, "baselines do not train");
  } finally {
    if (old === undefined) Deno.env.delete("ADAFUSE_CACHE_DIR");
    else Deno.env.set("ADAFUSE_CACHE_DIR", old);
    await Deno.remove(tmp, { recursive: true });
  }
});
