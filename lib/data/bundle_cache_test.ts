import { assert } from "../testing/assert.ts";
import { writeBundle } from "./bundle.ts";
import { BundleCache } from "./bundle_cache.ts";
import { Rng } from "../runtime/rng.ts";
import { normalizeRows } from "../runtime/rows.ts";

function _rows(rng: Rng, rows: number, dim: number): Float32Array {
  return normalizeRows(rng.fillNormal(new Float32Array(rows * dim)) as Float32Array, dim);
}

async function _bundle(dir: string, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const dim = 4, rounds = 2, n = 10;
  const split = (q: number) => ({
    text: _rows(rng, q * rounds, dim),
    gen: _rows(rng, q * rounds, dim),
    target: new Int32Array(q).map(() => rng.int(n)),
  });
  await writeBundle(dir, {
    dim,
    rounds,
    corpus: _rows(rng, n, dim),
    splits: { train: split(5), val: split(3), visdial: split(3) },
  });
}

Deno.test("BundleCache: keeps the last bundle for requests it covers, reloads what it does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle_cache_test_" });
  try {
    await _bundle(dir, 1);
    const cache = new BundleCache();
    const a = await cache.load(dir, ["train", "val"]);
    assert.equal(
      await cache.load(dir, ["train"]),
      a,
      "a subset of the kept splits is the kept bundle",
    );
    assert.equal(await cache.load(dir, ["val", "train"]), a);
    const b = await cache.load(dir, ["visdial"]);
    assert.notEqual(b, a);
    assert.deepEqual(
      Object.keys(b.splits).sort(),
      ["train", "val", "visdial"],
      "the union is kept",
    );
    assert.deepEqual(b.splits.train.text, a.splits.train.text);
    // a bundle written anew in the folder is read anew
    await new Promise((r) => setTimeout(r, 20));
    await _bundle(dir, 2);
    const c = await cache.load(dir, ["train"]);
    assert.notEqual(c, b);
    assert.notDeepEqual(c.splits.train.text, b.splits.train.text);
    cache.clear();
    assert.notEqual(await cache.load(dir, ["train"]), c);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("BundleCache: a missing folder is loadBundle's error", async () => {
  const cache = new BundleCache();
  await assert.rejects(() => cache.load("/nonexistent/bundle", ["train"]), /manifest/);
});
