import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import type { Bundle } from "../data/bundle.ts";
import { darWeights, evaluateMethod, fusionMethod, roundSlice, rowCosines } from "./baselines.ts";
import { prepareCorpus } from "../model/ranking.ts";
import { Rng } from "../runtime/rng.ts";
import { normalizeRows, randomUnitRows } from "../runtime/rows.ts";

await initBackend("wasm");

const dim = 16, rounds = 4, n = 120, q = 12;

function makeBundle(): Bundle {
  const rng = new Rng(11);
  const unit = (rows: number) =>
    normalizeRows(rng.fillNormal(new Float32Array(rows * dim)) as Float32Array, dim);
  const corpus = unit(n);
  const target = new Int32Array(q).map(() => rng.int(n));
  const text = unit(q * rounds);
  const gen = unit(q * rounds);
  // Pull queries towards their targets so that ranks span small and large values.
  for (let i = 0; i < q; i++) {
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < dim; k++) {
        text[(i * rounds + r) * dim + k] += (r / rounds) * corpus[target[i] * dim + k];
      }
    }
  }
  const split = { name: "visdial", count: q, text: normalizeRows(text, dim), gen, target };
  return {
    dir: "(memory)",
    dim,
    rounds,
    corpusSize: n,
    corpus,
    splits: { visdial: split },
    manifest: { dim, rounds, corpus: "", splits: {} },
    warnings: [],
  };
}

/** Float64 reference ranks [Q, R] for a query function q(i, r) → number[dim]. */
function ref(b: Bundle, query: (i: number, r: number) => number[]): number[] {
  const s = b.splits.visdial;
  const out: number[] = [];
  for (let i = 0; i < q; i++) {
    for (let r = 0; r < rounds; r++) {
      const qv = query(i, r);
      const sc = Array.from({ length: n }, (_, j) => {
        let d = 0;
        for (let k = 0; k < dim; k++) d += qv[k] * b.corpus[j * dim + k];
        return d;
      });
      const t = s.target[i];
      out.push(sc.filter((v, j) => v > sc[t] || (j < t && v === sc[t])).length);
    }
  }
  return out;
}

const vec = (a: Float32Array, i: number, r: number) =>
  Array.from(a.subarray((i * rounds + r) * dim, (i * rounds + r + 1) * dim));

Deno.test("DAR's schedule: (0.8, 0.2) for rounds 0-1, (0.5, 0.5) from round 2", () => {
  assert.deepEqual([0, 1, 2, 10].map((r) => darWeights(r)), [[0.8, 0.2], [0.8, 0.2], [0.5, 0.5], [
    0.5,
    0.5,
  ]]);
  const s = {
    early: [1, 0] as [number, number],
    late: [0.3, 0.7] as [number, number],
    switchRound: 3,
  };
  assert.deepEqual(darWeights(2, s), [1, 0]);
  assert.deepEqual(darWeights(3, s), [0.3, 0.7]);
});

Deno.test("chatir, dar and add ranks match float64 references", async () => {
  const b = makeBundle();
  const s = b.splits.visdial;
  const index = prepareCorpus(b.corpus, dim, { workers: 0 });
  try {
    const chatir = await evaluateMethod(b, "visdial", "chatir", { index });
    assert.equal(chatir.count, q);
    assert.equal(chatir.rounds, rounds);
    assert.deepEqual(Array.from(chatir.ranks), ref(b, (i, r) => vec(s.text, i, r)));
    const dar = await evaluateMethod(b, "visdial", "dar", { index });
    assert.deepEqual(
      Array.from(dar.ranks),
      ref(b, (i, r) => {
        const [wt, wg] = r < 2 ? [0.8, 0.2] : [0.5, 0.5];
        const t = vec(s.text, i, r), g = vec(s.gen, i, r);
        return t.map((x, k) => wt * x + wg * g[k]);
      }),
    );
    const add = await evaluateMethod(b, "visdial", "add", { index });
    assert.deepEqual(
      Array.from(add.ranks),
      ref(b, (i, r) => {
        const t = vec(s.text, i, r), g = vec(s.gen, i, r);
        return t.map((x, k) => x + g[k]); // the norm does not change a ranking
      }),
    );
    // A fusion function that returns the text gives ChatIR's ranks; so does DAR weighted (1, 0).
    const fused = await evaluateMethod(b, "visdial", fusionMethod((t) => Promise.resolve(t)), {
      index,
    });
    assert.deepEqual(fused.ranks, chatir.ranks);
    const textOnly = await evaluateMethod(b, "visdial", "dar", {
      index,
      dar: { early: [1, 0], late: [1, 0], switchRound: 2 },
    });
    assert.deepEqual(textOnly.ranks, chatir.ranks);
    // The later rounds pull towards the target: ranks improve on average.
    const mean = (r: number) =>
      Array.from({ length: q }, (_, i) => chatir.ranks[i * rounds + r]).reduce((a, x) => a + x) / q;
    assert.ok(mean(rounds - 1) < mean(0));
  } finally {
    index.dispose();
  }
});

Deno.test("roundSlice picks one round; evaluateMethod names a missing split", async () => {
  const a = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]); // [2, 2, 2]
  assert.deepEqual(Array.from(roundSlice(a, 2, 2, 2, 1)), [3, 4, 7, 8]);
  await assert.rejects(
    () => evaluateMethod(makeBundle(), "val", "chatir"),
    /no loaded split 'val' \(loaded: visdial\)/,
  );
});

Deno.test("rowCosines: hand-worked rows, unnormalised inputs, a zero row", () => {
  const a = Float32Array.from([1, 0, 3, 4, 0, 0]);
  const b = Float32Array.from([0, 2, 6, 8, 1, 1]);
  assertClose(rowCosines(a, b, 3, 2), [0, 1, 0], 1e-7, "cos");
  const u = randomUnitRows(new Rng(1), 4, 8);
  assertClose(rowCosines(u, u, 4, 8), [1, 1, 1, 1], 1e-6, "self-cosine of unit rows");
});

Deno.test("evaluateMethod on a split with an image pool ranks against the pool, not the corpus", async () => {
  const b = makeBundle();
  const s = b.splits.visdial;
  const plain = await evaluateMethod(b, "visdial", "chatir");
  // the same images as a pool of the split, the corpus replaced by one constant row
  const pooled: Bundle = {
    ...b,
    corpus: new Float32Array(dim).fill(1 / 4),
    corpusSize: 1,
    splits: { visdial: { ...s, images: b.corpus, imageCount: n } },
  };
  const viaPool = await evaluateMethod(pooled, "visdial", "chatir");
  assert.deepEqual(viaPool.ranks, plain.ranks);
  const index = prepareCorpus(pooled.corpus, dim, { workers: 0 });
  try {
    await assert.rejects(
      () => evaluateMethod(pooled, "visdial", "chatir", { index }),
      /holds 1 images, but split 'visdial' targets its own image pool of 120/,
    );
  } finally {
    index.dispose();
  }
});
