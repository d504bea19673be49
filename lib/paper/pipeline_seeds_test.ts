/**
 * The reproduction pipeline with several training seeds, on the small synthetic preset and a
 * tiny head (seconds): one cached run per seed, per-seed evaluations, single-seed callers
 * unchanged.
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
    const base = { preset: "small", seed: 1, trainSet: TINY };
    assert.deepEqual(p.reproSeeds(base), [1], "without seeds: the one training seed is `seed`");
    assert.deepEqual(p.reproSeeds({}), [0]);
    assert.ok(!("seeds" in p.REPRO_DEFAULTS), "one rule for the seeds: [seed] unless given");
    assert.throws(() => p.reproSeeds({ seeds: [] }), /non-empty/);
    assert.throws(() => p.reproSeeds({ seeds: [2, 2] }), /repeat/);

    const config = { ...base, seeds: [0, 1] };
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
    // a single-seed caller: reproTrain/reproEval without a seed take the first of `seeds`,
    // and a config without `seeds` trains with `seed`, which is run 1 here
    assert.deepEqual(await p.reproTrain(config), runs[0]);
    assert.deepEqual(await p.reproTrain(base), runs[1]);
    assert.deepEqual((await p.reproEval(base, "visdial", "adafuse")).ranks, evals[1].eval.ranks);
    const chatir = await p.reproEvalSeeds(config, "visdial", "chatir");
    assert.deepEqual(chatir[0].eval.ranks, chatir[1].eval.ranks, "baselines do not train");
  } finally {
    if (old === undefined) Deno.env.delete("ADAFUSE_CACHE_DIR");
    else Deno.env.set("ADAFUSE_CACHE_DIR", old);
    await Deno.remove(tmp, { recursive: true });
  }
});
