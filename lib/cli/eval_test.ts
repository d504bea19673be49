import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { roundSlice } from "../eval/baselines.ts";
import { normalizeRows } from "../runtime/rows.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { writeBundle } from "../data/bundle.ts";
import { Rng } from "../runtime/rng.ts";
import { runEval } from "../eval/evaluate.ts";
import { parseEvalArgs } from "./eval.ts";

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

Deno.test("runEval --method adafuse ranks the head's fused queries and records gate, cos, router", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eval_ada_" });
  try {
    const rng = new Rng(4);
    const dim = 8, rounds = 2, n = 40, q = 6;
    const unit = (rows: number) =>
      normalizeRows(rng.fillNormal(new Float32Array(rows * dim)) as Float32Array, dim);
    const corpus = unit(n), text = unit(q * rounds), gen = unit(q * rounds);
    const target = new Int32Array(q).map((_, i) => i * 3);
    await writeBundle(`${dir}/b`, {
      dim,
      rounds,
      corpus,
      splits: { visdial: { text, gen, target } },
    });
    await initBackend("wasm");
    const head = FusionHead.create({ dim, proj: 4, hidden: 8, experts: 2 }, 1);
    await saveCheckpoint(head, `${dir}/head.safetensors`);
    // the expected ranks: fuse each round with the head, rank by brute force
    const want: number[][] = Array.from({ length: q }, () => []);
    for (let r = 0; r < rounds; r++) {
      const t = roundSlice(text, q, rounds, dim, r), g = roundSlice(gen, q, rounds, dim, r);
      const f = await head.fuse(t, g, q);
      for (let i = 0; i < q; i++) {
        const s = (j: number) => {
          let v = 0;
          for (let k = 0; k < dim; k++) v += f.q[i * dim + k] * corpus[j * dim + k];
          return v;
        };
        const st = s(target[i]);
        let rank = 0;
        for (let j = 0; j < n; j++) if (s(j) > st || (s(j) === st && j < target[i])) rank++;
        want[i][r] = rank;
      }
    }
    head.dispose();
    const res = await runEval({
      data: `${dir}/b`,
      benchmark: "visdial",
      method: "adafuse",
      checkpoint: `${dir}/head.safetensors`,
      out: `${dir}/ada.json`,
      print: false,
    });
    assert.deepEqual(res.ranks, want);
    assert.equal(res.gate!.length, q);
    assert.ok(res.gate!.flat().every((w) => w > 0 && w < 1));
    assert.ok(res.cos!.flat().every((c) => c >= -1 - 1e-6 && c <= 1 + 1e-6));
    assert.ok(res.router!.flat().every((p) => p.length === 2 && Math.abs(p[0] + p[1] - 1) < 1e-5));
    assert.throws(
      () => parseEvalArgs(["--data", "d", "--benchmark", "v", "--method", "adafuse", "--out", "o"]),
      /needs --checkpoint/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
