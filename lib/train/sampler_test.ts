import { assert } from "../testing/assert.ts";
import { Rng } from "../runtime/rng.ts";
import { clusterTargets, neighbourOrder } from "./sampler.ts";
import { trainConfig, trainConfigHash } from "./config.ts";

Deno.test("clusterTargets: each target joins the anchor it is most similar to", () => {
  // d = 2: targets near e0 or near e1; two anchors, drawn among the targets
  const pool = Float32Array.from([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9, 0.95, 0.05, 0.05, 0.95]);
  const target = Int32Array.from([0, 1, 2, 3, 4, 5]);
  for (let seed = 0; seed < 8; seed++) {
    const c = clusterTargets(pool, target, 6, 2, 2, seed);
    // the e0-like targets (0, 1, 4) share a group, the e1-like (2, 3, 5) share one, unless both
    // anchors were drawn on the same side (then everything joins the nearer one)
    assert.equal(c[0], c[1]);
    assert.equal(c[0], c[4]);
    assert.equal(c[2], c[3]);
    assert.equal(c[2], c[5]);
  }
  assert.throws(() => clusterTargets(pool, target, 6, 2, 7, 0), /clusters must lie in \[1, 6\]/);
});

Deno.test("neighbourOrder lays the groups out one after another, members in shuffled order", () => {
  const cluster = Int32Array.from([0, 1, 0, 2, 1, 2, 0]);
  const perm = Int32Array.from([6, 5, 4, 3, 2, 1, 0]);
  neighbourOrder(perm, cluster, new Rng(3));
  assert.deepEqual([...perm].sort(), [0, 1, 2, 3, 4, 5, 6]);
  const groups = Array.from(perm, (i) => cluster[i]);
  const runs = groups.filter((g, j) => j === 0 || g !== groups[j - 1]).length;
  assert.equal(runs, 3, `each group contiguous: ${groups}`);
  // members keep their shuffled order: group 0's are 6, 2, 0 in perm order
  assert.deepEqual(Array.from(perm).filter((i) => cluster[i] === 0), [6, 2, 0]);
});

Deno.test("negatives: random by default; neighbours is its own run; bad values fail", async () => {
  const base = await trainConfigHash(trainConfig("repro"));
  assert.equal(trainConfig("repro").negatives, "random", "every preset says random");
  assert.equal(await trainConfigHash(trainConfig("repro", { negatives: "random" })), base);
  assert.notEqual(await trainConfigHash(trainConfig("repro", { negatives: "neighbours" })), base);
  assert.throws(
    () => trainConfig("repro", { negatives: "hard" as "random" }),
    /negatives 'hard' is unknown/,
  );
});
