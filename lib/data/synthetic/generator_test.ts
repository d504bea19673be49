import { BENCHMARKS } from "../benchmarks.ts";
import { stableJson } from "../../runtime/hash.ts";
import { assert, assertClose } from "../../testing/assert.ts";
import {
  configHash,
  ensureSyntheticBundle,
  generateSynthetic,
  syntheticConfig,
} from "./generator.ts";
import { loadBundle } from "../bundle.ts";

const small = generateSynthetic(syntheticConfig("small", 7));

function _bytes(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function _equalBytes(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  const x = _bytes(a);
  const y = _bytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Mean over dialogues of cos(text or gen at round r, target image). */
function _meanCos(name: string, kind: "text" | "gen", r: number): number {
  const { dim: d, rounds: R, corpus } = small;
  const s = small.splits[name];
  let acc = 0;
  for (let q = 0; q < s.target.length; q++) {
    let c = 0;
    for (let i = 0; i < d; i++) c += s[kind][(q * R + r) * d + i] * corpus[s.target[q] * d + i];
    acc += c;
  }
  return acc / s.target.length;
}

Deno.test("synthetic: same seed gives the same bytes, another seed other bytes", () => {
  const again = generateSynthetic(syntheticConfig("small", 7));
  assert.ok(_equalBytes(small.corpus, again.corpus), "corpus differs for the same seed");
  for (const name of Object.keys(small.splits)) {
    for (const k of ["text", "gen", "target"] as const) {
      assert.ok(_equalBytes(small.splits[name][k], again.splits[name][k]), `${name}.${k} differs`);
    }
    const [p, p2] = [small.splits[name].images, again.splits[name].images];
    assert.ok(p === p2 || (p && p2 && _equalBytes(p, p2)), `${name}.images differs`);
  }
  const other = generateSynthetic(syntheticConfig("small", 8));
  assert.ok(!_equalBytes(small.corpus, other.corpus), "corpus equal across seeds");
  assert.ok(!_equalBytes(small.splits.visdial.text, other.splits.visdial.text));
});

Deno.test("synthetic: shapes, unit norms, splits and targets", () => {
  const cfg = syntheticConfig("small", 7);
  const { dim: d, rounds: R } = small;
  assert.equal(d, 256);
  assert.equal(R, 11);
  assert.equal(small.corpus.length, cfg.corpusSize * d);
  const sizes: Record<string, number> = { train: cfg.trainSize, val: cfg.valSize };
  for (const b of BENCHMARKS) sizes[b] = cfg.benchSize;
  assert.deepEqual(Object.keys(small.splits).sort(), Object.keys(sizes).sort());
  const norms = (a: Float32Array, what: string) => {
    for (let o = 0; o < a.length; o += d) {
      let s = 0;
      for (let i = 0; i < d; i++) s += a[o + i] * a[o + i];
      assertClose(Math.sqrt(s), 1, 1e-5, `${what} row ${o / d} norm`);
    }
  };
  norms(small.corpus, "corpus");
  for (const [name, s] of Object.entries(small.splits)) {
    assert.equal(s.target.length, sizes[name], `${name} size`);
    assert.equal(s.text.length, sizes[name] * R * d);
    assert.equal(s.gen.length, sizes[name] * R * d);
    norms(s.text, `${name}.text`);
    norms(s.gen, `${name}.gen`);
    const nT: number = s.images ? s.images.length / d : cfg.corpusSize;
    for (const t of s.target) assert.ok(t >= 0 && t < nT, `${name} target ${t}`);
  }
  // The benchmarks share targets (same order) and round 0; train, val and benchmarks are disjoint.
  const ref = small.splits.visdial;
  for (const b of BENCHMARKS) {
    assert.ok(_equalBytes(small.splits[b].target, ref.target), `${b} targets differ from visdial`);
    assert.ok(_equalBytes(small.splits[b].text.subarray(0, d), ref.text.subarray(0, d)));
  }
  // train and val target their own pools; the benchmarks target the corpus.
  for (const b of BENCHMARKS) assert.equal(small.splits[b].images, undefined);
  for (const name of ["train", "val"]) {
    const s = small.splits[name];
    assert.equal(s.images?.length, sizes[name] * d, `${name} pool size`);
    norms(s.images!, `${name}.images`);
  }
});

Deno.test("synthetic: training pools are images of the world that are not in the corpus", () => {
  const { dim: d, corpus } = small;
  const rows = new Set<string>();
  for (let o = 0; o < corpus.length; o += d) rows.add(corpus.subarray(o, o + d).join(","));
  for (const name of ["train", "val"]) {
    const pool = small.splits[name].images!;
    for (let o = 0; o < pool.length; o += d) {
      assert.ok(
        !rows.has(pool.subarray(o, o + d).join(",")),
        `${name} pool row ${o / d} in corpus`,
      );
    }
  }
  // Same world: a train dialogue's round-10 text is closer to its pool image than to the corpus
  // image with the same index, on average.
  const s = small.splits.train;
  const R = small.rounds;
  let own = 0;
  let other = 0;
  for (let q = 0; q < s.target.length; q++) {
    for (let i = 0; i < d; i++) {
      const t = s.text[(q * R + R - 1) * d + i];
      own += t * s.images![s.target[q] * d + i];
      other += t * corpus[s.target[q] * d + i];
    }
  }
  assert.ok(own > other + 0.05 * s.target.length, `own ${own} vs other ${other}`);
});

Deno.test("synthetic: the pools change no corpus or benchmark byte", () => {
  const only = generateSynthetic(syntheticConfig("small", 7), { benchmarksOnly: true });
  assert.ok(_equalBytes(only.corpus, small.corpus), "corpus differs without the pools");
  assert.deepEqual(Object.keys(only.splits).sort(), [...BENCHMARKS].sort());
  for (const b of BENCHMARKS) {
    for (const k of ["text", "gen", "target"] as const) {
      assert.ok(_equalBytes(only.splits[b][k], small.splits[b][k]), `${b}.${k} differs`);
    }
  }
});

Deno.test("synthetic: the training split's size changes no corpus or benchmark byte", () => {
  const twice = generateSynthetic(syntheticConfig("small", 7, { trainSize: 1_024 }));
  assert.equal(twice.splits.train.target.length, 1_024);
  assert.ok(_equalBytes(twice.corpus, small.corpus), "corpus differs with another train size");
  for (const b of BENCHMARKS) {
    for (const k of ["text", "gen", "target"] as const) {
      assert.ok(_equalBytes(twice.splits[b][k], small.splits[b][k]), `${b}.${k} differs`);
    }
  }
});

Deno.test("synthetic: text gets more informative with rounds, Flan's least", () => {
  const gain = (b: string) => _meanCos(b, "text", 10) - _meanCos(b, "text", 0);
  assert.ok(gain("chatgpt_blip2") > 0, `chatgpt text gain ${gain("chatgpt_blip2")} <= 0`);
  assert.ok(gain("visdial") > 0, `visdial text gain ${gain("visdial")} <= 0`);
  assert.ok(
    gain("flan_alpaca_xxl_blip2") < gain("chatgpt_blip2"),
    `flan gain ${gain("flan_alpaca_xxl_blip2")} >= chatgpt gain ${gain("chatgpt_blip2")}`,
  );
  // Generated images carry information about the target too.
  assert.ok(_meanCos("chatgpt_blip2", "gen", 10) > 0.05);
});

Deno.test("synthetic: off-scene generations have low cos(t, g)", () => {
  const { dim: d, rounds: R } = small;
  const s = small.splits.train;
  const off = small.latent.train.offScene;
  let on = 0, nOn = 0, offSum = 0, nOff = 0;
  for (let i = 0; i < off.length; i++) {
    let c = 0;
    for (let j = 0; j < d; j++) c += s.text[i * d + j] * s.gen[i * d + j];
    if (off[i]) (offSum += c, nOff++);
    else (on += c, nOn++);
  }
  assert.ok(nOff > 0 && nOn > 0, "expected both kinds of generations");
  assert.ok(offSum / nOff < on / nOn, `off-scene cos ${offSum / nOff} >= on-scene ${on / nOn}`);
  assert.equal(off.length, s.target.length * R);
});

Deno.test("synthetic: persistent off-scene draws keep failing once they fail", () => {
  const off = (persist: number) =>
    generateSynthetic(syntheticConfig("small", 7, { genOffScenePersist: persist }), {
      benchmarksOnly: true,
    });
  const fresh = off(0);
  const kept = off(1);
  const R = kept.rounds;
  for (const b of BENCHMARKS) {
    // the knob is the generator's: the text side and the targets keep every byte
    assert.ok(_equalBytes(kept.splits[b].text, fresh.splits[b].text), `${b}.text differs`);
    const o = kept.latent[b].offScene;
    let failed = 0;
    for (let q = 0; q < kept.splits[b].target.length; q++) {
      for (let r = 1; r < R; r++) {
        assert.ok(o[q * R + r] >= o[q * R + r - 1], `${b} dialogue ${q}: recovered at round ${r}`);
      }
      failed += o[q * R + R - 1];
    }
    assert.ok(failed > 0, `${b}: no dialogue failed`);
  }
  // independent draws do recover: some dialogue is off-scene at one round and on-scene later
  const o = fresh.latent.visdial.offScene;
  let recovered = 0;
  for (let i = 1; i < o.length; i++) if (i % R !== 0 && o[i - 1] > o[i]) recovered++;
  assert.ok(recovered > 0, "expected recoveries with genOffScenePersist 0");
});

Deno.test("synthetic: config hash is stable and sees every knob", async () => {
  const a = syntheticConfig("small", 3);
  const b = syntheticConfig("small", 3);
  assert.equal(await configHash(a), await configHash(b));
  assert.notEqual(await configHash(a), await configHash(syntheticConfig("small", 4)));
  assert.notEqual(await configHash(a), await configHash({ ...a, genNoise: a.genNoise + 0.1 }));
  assert.equal(stableJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  assert.throws(() => syntheticConfig("nope"), /unknown preset 'nope'/);
  assert.throws(() => syntheticConfig("small", 0, { benchSize: 10_000 }), /exceed corpusSize/);
  // Training pools are extra images: a large train split is fine.
  syntheticConfig("small", 0, { trainSize: 10_000 });
});

Deno.test("synthetic: ensureSyntheticBundle writes a loadable bundle, then uses the cache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "synthetic_test_" });
  try {
    const overrides = { corpusSize: 300, benchSize: 8, trainSize: 16, valSize: 8 };
    const first = await ensureSyntheticBundle({ preset: "small", seed: 1, dir, overrides });
    assert.equal(first.cached, false);
    const second = await ensureSyntheticBundle({ preset: "small", seed: 1, dir, overrides });
    assert.equal(second.cached, true);
    assert.equal(second.hash, first.hash);
    const b = await loadBundle(dir);
    assert.equal(b.corpusSize, 300);
    assert.equal(b.splits.flan_alpaca_xxl_blip2.count, 8);
    assert.equal(b.manifest.config_hash, first.hash);
    assert.equal(b.manifest.splits.train.images, "train_images.npy");
    assert.equal(b.manifest.splits.val.images, "val_images.npy");
    assert.equal(b.manifest.splits.visdial.images, undefined);
    assert.deepEqual(b.warnings, []);
    // the training split is float16 on disk (read back as float32), and the manifest says so
    const head = await Deno.readTextFile(`${dir}/train_text.npy`).then((t) => t.slice(0, 80));
    assert.match(head, /'descr': '<f2'/);
    assert.equal(b.manifest.storage, "train:float16");
    // a bundle of the same config written before that (no storage entry) is regenerated
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    delete m.storage;
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(m));
    const older = await ensureSyntheticBundle({ preset: "small", seed: 1, dir, overrides });
    assert.equal(older.cached, false, "an fp32-era bundle must regenerate");
    const third = await ensureSyntheticBundle({ preset: "small", seed: 2, dir, overrides });
    assert.equal(third.cached, false, "another seed must regenerate");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
