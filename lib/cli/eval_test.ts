import { assert } from "../_testing.ts";
import { normalizeRows } from "../baselines.ts";
import { writeBundle } from "../bundle.ts";
import { Rng } from "../rng.ts";
import { parseEvalArgs, runEval } from "./eval.ts";

Deno.test("parseEvalArgs checks the method and names unknown flags", () => {
  const a = parseEvalArgs([
    "--data",
    "d",
    "--benchmark",
    "visdial",
    "--method",
    "dar",
    "--out",
    "o.json",
  ]);
  assert.deepEqual([a.data, a.benchmark, a.method, a.out], ["d", "visdial", "dar", "o.json"]);
  assert.throws(
    () => parseEvalArgs(["--data", "d", "--benchmark", "v", "--method", "x", "--out", "o"]),
    /--method 'x' is unknown/,
  );
  assert.throws(() => parseEvalArgs(["--data", "d", "--bench", "v"]), /unknown option --bench/);
  assert.throws(() => parseEvalArgs(["--data", "d"]), /missing --benchmark, --method, --out/);
});

Deno.test("runEval writes ranks and hits; a bad bundle fails before any work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eval_test_" });
  try {
    const rng = new Rng(2);
    const dim = 8, rounds = 3, n = 60, q = 10;
    const unit = (rows: number) =>
      normalizeRows(rng.fillNormal(new Float32Array(rows * dim)) as Float32Array, dim);
    const corpus = unit(n);
    const target = new Int32Array(q).map((_, i) => i * 5);
    const text = new Float32Array(q * rounds * dim);
    for (let i = 0; i < q; i++) {
      for (let r = 0; r < rounds; r++) {
        text.set(corpus.subarray(target[i] * dim, (target[i] + 1) * dim), (i * rounds + r) * dim);
      }
    }
    await writeBundle(`${dir}/b`, {
      dim,
      rounds,
      corpus,
      splits: { visdial: { text, gen: unit(q * rounds), target } },
    });
    const out = `${dir}/out/chatir.json`;
    const res = await runEval({
      data: `${dir}/b`,
      benchmark: "visdial",
      method: "chatir",
      out,
      backend: "wasm",
      print: false,
    });
    // The text query is the target itself: rank 0 everywhere.
    assert.deepEqual(res.ranks, Array.from({ length: q }, () => [0, 0, 0]));
    const file = JSON.parse(await Deno.readTextFile(out));
    assert.deepEqual(Object.keys(file.hits), ["1", "5", "10", "50"]);
    assert.deepEqual(file.hits["1"].cumulative, [100, 100, 100]);
    assert.equal(file.method, "chatir");
    assert.equal(file.backend, "wasm");
    assert.equal(file.ranks.length, q);
    await assert.rejects(
      () =>
        runEval({
          data: `${dir}/b`,
          benchmark: "human_blip2",
          method: "dar",
          out: `${dir}/x.json`,
          print: false,
        }),
      /no split 'human_blip2'/,
    );
    await assert.rejects(() => Deno.stat(`${dir}/x.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
