import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { countRanks } from "./_rank_chunk.ts";
import { combineParts, prepareCorpus, rankTargets } from "./ranking.ts";
import { Rng } from "../runtime/rng.ts";

await initBackend("wasm");

/** Float64 reference: rank = #{s_j > s_t} + #{j < t: s_j == s_t}. */
function refRanks(
  corpus: Float32Array,
  parts: { q: Float32Array; w: number | Float32Array }[],
  targets: Int32Array,
  d: number,
): number[] {
  const n = corpus.length / d;
  return Array.from(targets, (t, i) => {
    const s = new Float64Array(n);
    for (const p of parts) {
      const w = typeof p.w === "number" ? p.w : p.w[i];
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += p.q[i * d + k] * corpus[j * d + k];
        s[j] += w * dot;
      }
    }
    let r = 0;
    for (let j = 0; j < n; j++) if (s[j] > s[t] || (j < t && s[j] === s[t])) r++;
    return r;
  });
}

Deno.test("ranks: hand-worked ties are broken by corpus index ascending", async () => {
  // scores for q = (1, 0): [1, 0, 1, 0.5, 1]
  const corpus = new Float32Array([1, 0, 0, 1, 1, 0, 0.5, 0.5, 1, 0]);
  const idx = prepareCorpus(corpus, 2, { workers: 0 });
  try {
    const q = new Float32Array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    const ranks = await rankTargets(idx, [{ queries: q }], new Int32Array([0, 1, 2, 3, 4]));
    // target 2 ties with 0 (before: counts) and 4 (after: does not); target 4 ties with 0 and 2.
    assert.deepEqual(Array.from(ranks), [0, 4, 1, 3, 2]);
  } finally {
    idx.dispose();
  }
});

Deno.test("countRanks: ties before count, ties after do not", () => {
  const s = new Float32Array([0.5, 0.9, 0.5, 0.5, 0.1]);
  const r = countRanks(s, new Int32Array([2]), 5);
  assert.deepEqual(Array.from(r), [2]); // 0.9 above, index 0 tied before; index 3 tied after
  assert.throws(() => countRanks(new Float32Array([NaN, 1]), new Int32Array([0]), 2), /NaN/);
});

Deno.test("ranks match a float64 reference on random data, with per-query weights", async () => {
  const rng = new Rng(7);
  const n = 300, d = 64, q = 50;
  const corpus = rng.fillNormal(new Float32Array(n * d)) as Float32Array;
  const q1 = rng.fillNormal(new Float32Array(q * d)) as Float32Array;
  const q2 = rng.fillNormal(new Float32Array(q * d)) as Float32Array;
  const w = new Float32Array(q).map(() => rng.uniform());
  const targets = new Int32Array(q).map(() => rng.int(n));
  // Make some targets easy (query near the target) so that small ranks are exercised too.
  for (let i = 0; i < 10; i++) {
    for (let k = 0; k < d; k++) q1[i * d + k] = corpus[targets[i] * d + k] + 0.1 * q1[i * d + k];
  }
  const idx = prepareCorpus(corpus, d, { workers: 0, chunk: 16 });
  try {
    const one = await rankTargets(idx, [{ queries: q1 }], targets);
    assert.deepEqual(Array.from(one), refRanks(corpus, [{ q: q1, w: 1 }], targets, d));
    assert.ok(one.slice(0, 10).every((r) => r < 5), "near-target queries rank high");
    const two = await rankTargets(
      idx,
      [{ queries: q1, weights: w }, { queries: q2, weights: 0.3 }],
      targets,
    );
    assert.deepEqual(
      Array.from(two),
      refRanks(corpus, [{ q: q1, w }, { q: q2, w: 0.3 }], targets, d),
    );
  } finally {
    idx.dispose();
  }
});

Deno.test("worker threads give the same ranks as the main thread", async () => {
  const rng = new Rng(3);
  const n = 500, d = 32, q = 40;
  const corpus = rng.fillNormal(new Float32Array(n * d)) as Float32Array;
  const qs = rng.fillNormal(new Float32Array(q * d)) as Float32Array;
  const targets = new Int32Array(q).map(() => rng.int(n));
  const main = prepareCorpus(corpus, d, { workers: 0 });
  const pooled = prepareCorpus(corpus, d, { workers: 2, chunk: 7 });
  try {
    const a = await rankTargets(main, [{ queries: qs }], targets);
    // Two jobs at once are served one after the other.
    const [b, b2] = await Promise.all([
      rankTargets(pooled, [{ queries: qs }], targets),
      rankTargets(pooled, [{ queries: qs, weights: 2 }], targets),
    ]);
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.deepEqual(Array.from(b2), Array.from(a));
  } finally {
    main.dispose();
    pooled.dispose();
  }
});

Deno.test("rankTargets refuses bad input with clear errors", async () => {
  const idx = prepareCorpus(new Float32Array([1, 0, 0, 1]), 2, { workers: 0 });
  try {
    const q = new Float32Array([1, 0]);
    await assert.rejects(
      () => rankTargets(idx, [{ queries: q }], new Int32Array([2])),
      /target 0 is 2, outside the corpus \[0, 2\)/,
    );
    await assert.rejects(
      () => rankTargets(idx, [{ queries: new Float32Array(3) }], new Int32Array([0])),
      /part 0 has 3 values, expected 1 queries × 2/,
    );
    await assert.rejects(
      () => rankTargets(idx, [{ queries: new Float32Array([NaN, 0]) }], new Int32Array([0])),
      /query 0 has NaN at dimension 0/,
    );
    assert.throws(() => prepareCorpus(new Float32Array(5), 2), /not \[N, 2\]/);
    assert.throws(() => combineParts([], 1, 2), /no score parts/);
  } finally {
    idx.dispose();
  }
});
