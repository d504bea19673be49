import { assert, assertClose } from "../testing/assert.ts";
import { embeddingGeometry, kOccurrence, skewness } from "./geometry.ts";
import type { Bundle } from "../data/bundle.ts";

Deno.test("skewness: 0 for a symmetric sample, positive for one long right tail", () => {
  assertClose(skewness([1, 2, 3]), 0, 1e-12);
  // [0, 0, 0, 4]: mean 1, m2 = 3, m3 = (3·(−1)³ + 3³)/4 = 6 → 6 / 3^1.5
  assertClose(skewness([0, 0, 0, 4]), 6 / 3 ** 1.5, 1e-12);
});

Deno.test("kOccurrence counts each corpus row's appearances in the queries' top k", async () => {
  const corpus = Float32Array.from([1, 0, 0, 1, -1, 0]); // e0, e1, −e0 (d = 2)
  const queries = Float32Array.from([1, 0.1, 0.9, 0.5, 0, 1]);
  // top 1: q0 → e0, q1 → e0, q2 → e1; top 2 adds e1, e1, then e0 or −e0 tie (0 each) for q2
  assert.deepEqual(Array.from(await kOccurrence(queries, corpus, 2, 1)), [2, 1, 0]);
  const two = await kOccurrence(queries, corpus, 2, 2);
  assert.equal(two[0] + two[1] + two[2], 6);
  assert.deepEqual([two[0] >= 2, two[1]], [true, 3]);
});

Deno.test("embeddingGeometry: hand-made bundle with orthogonal images and a known gap", async () => {
  // d = 4, corpus e0..e3; two dialogues of 2 rounds whose text is their target, gen its target
  const e = (i: number) => Array.from({ length: 4 }, (_, x) => (x === i ? 1 : 0));
  const corpus = Float32Array.from([0, 1, 2, 3].flatMap(e));
  const text = Float32Array.from([e(0), e(0), e(1), e(1)].flat());
  const split = {
    name: "visdial",
    count: 2,
    text,
    gen: text.slice(),
    target: Int32Array.from([0, 1]),
  };
  const bundle = {
    dir: "mem",
    dim: 4,
    rounds: 2,
    corpusSize: 4,
    corpus,
    splits: { visdial: split },
    manifest: { dim: 4, rounds: 2, corpus: "", splits: {} },
    warnings: [],
  } as Bundle;
  const g = await embeddingGeometry(bundle, "visdial", { pairs: 200, k: 1 });
  assertClose(g.imageImage.mean, 0, 1e-12); // distinct basis vectors
  assertClose(g.textText.mean, 0, 1e-12);
  assertClose(g.matched0.mean, 1, 1e-12);
  assertClose(g.genMatched.mean, 1, 1e-12);
  assertClose(g.genText.mean, 1, 1e-12);
  assertClose(g.imageMeanNorm, 0.5, 1e-12); // mean of e0..e3 is (¼,¼,¼,¼)
  assertClose(g.textMeanNorm, Math.SQRT1_2, 1e-12); // (½, ½, 0, 0)
  assertClose(g.gap, Math.sqrt(4 * 0.0625), 1e-12); // (−¼, −¼, ¼, ¼)
  assert.equal(g.hubness.queries, 4);
  assertClose(g.hubness.neverShare, 0.5, 1e-12); // e2, e3 are nobody's nearest
  await assert.rejects(() => embeddingGeometry(bundle, "nope"), /no split 'nope'/);
});
