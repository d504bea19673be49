import { assert, assertClose } from "../testing/assert.ts";
import {
  benchmarkSplits,
  type BundleInput,
  hasSplit,
  loadBundle,
  targetPool,
  writeBundle,
} from "./bundle.ts";
import { encodeNpy } from "./npy.ts";
import { encodeSafetensors } from "./safetensors.ts";
import { Rng } from "../runtime/rng.ts";

const TINY = new URL("../testing/testdata/bundle_tiny", import.meta.url).pathname;

function unitRows(rng: Rng, rows: number, dim: number): Float32Array {
  const a = rng.fillNormal(new Float32Array(rows * dim)) as Float32Array;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += a[r * dim + k] ** 2;
    for (let k = 0; k < dim; k++) a[r * dim + k] /= Math.sqrt(s);
  }
  return a;
}

function input(): BundleInput {
  const rng = new Rng(5);
  const dim = 8, rounds = 3, n = 20;
  const split = (q: number) => ({
    text: unitRows(rng, q * rounds, dim),
    gen: unitRows(rng, q * rounds, dim),
    target: new Int32Array(q).map(() => rng.int(n)),
  });
  return {
    dim,
    rounds,
    corpus: unitRows(rng, n, dim),
    splits: { train: split(6), visdial: split(4), human_blip2: split(4) },
    extra: { source: "test", config: { seed: 5 } },
  };
}

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "bundle_test_" });
}

Deno.test("loadBundle reads a numpy-written bundle (f16 corpus, f64 gen, i64 targets)", async () => {
  const b = await loadBundle(TINY);
  assert.equal(b.dim, 4);
  assert.equal(b.rounds, 2);
  assert.equal(b.corpusSize, 5);
  assert.equal(b.manifest.source, "numpy fixture");
  const s = b.splits.visdial;
  assert.equal(s.count, 3);
  assert.deepEqual(Array.from(s.target), [4, 0, 2]);
  assertClose(
    b.corpus.slice(0, 4),
    [0.1865234375, -0.1959228515625, 0.9501953125, 0.1556396484375],
    0,
    "corpus row 0",
  );
  assertClose(
    s.text.slice((1 * 2 + 1) * 4, (1 * 2 + 2) * 4),
    [-0.22740980982780457, 0.7724514603614807, 0.30658242106437683, 0.5075536966323853],
    1e-7,
    "text[1,1]",
  );
  assertClose(
    s.gen.slice(2 * 2 * 4, 2 * 2 * 4 + 4),
    [-0.19857996702194214, -0.5322650671005249, 0.7914201021194458, -0.22564157843589783],
    1e-7,
    "gen[2,0]",
  );
  assert.ok(s.gen instanceof Float32Array);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(benchmarkSplits(b), ["visdial"]);
});

Deno.test("writeBundle then loadBundle round-trips, subsets of splits load alone", async () => {
  const dir = await tmp();
  try {
    const inp = input();
    await writeBundle(dir, inp);
    const b = await loadBundle(dir);
    assert.deepEqual(b.corpus, inp.corpus);
    for (const [name, s] of Object.entries(inp.splits)) {
      assert.deepEqual(b.splits[name].text, s.text);
      assert.deepEqual(b.splits[name].gen, s.gen);
      assert.deepEqual(b.splits[name].target, s.target);
      assert.equal(b.splits[name].count, s.target.length);
    }
    assert.deepEqual(b.manifest.config, { seed: 5 });
    assert.deepEqual(benchmarkSplits(b), ["visdial", "human_blip2"]);
    assert.ok(hasSplit(b, "train") && !hasSplit(b, "val"));
    const only = await loadBundle(dir, { splits: ["visdial"] });
    assert.deepEqual(Object.keys(only.splits), ["visdial"]);
    await assert.rejects(
      () => loadBundle(dir, { splits: ["val"] }),
      /no split 'val' \(it has: train, visdial, human_blip2\)/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.includes(".tmp-")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors array files load (one tensor, or named like the key)", async () => {
  const dir = await tmp();
  try {
    const inp = input();
    await writeBundle(dir, inp);
    const s = inp.splits.visdial;
    await Deno.writeFile(
      `${dir}/v.safetensors`,
      encodeSafetensors({
        text: { dtype: "F32", shape: [4, 3, 8], data: s.text },
        gen: { dtype: "F32", shape: [4, 3, 8], data: s.gen },
        target: { dtype: "I64", shape: [4], data: s.target },
      }),
    );
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    m.splits.visdial = { text: "v.safetensors", gen: "v.safetensors", target: "v.safetensors" };
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(m));
    const b = await loadBundle(dir, { splits: ["visdial"] });
    assert.deepEqual(b.splits.visdial.gen, s.gen);
    assert.deepEqual(b.splits.visdial.target, s.target);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadBundle reports every kind of bad bundle, naming the file", async () => {
  const dir = await tmp();
  try {
    await assert.rejects(() => loadBundle(dir), /manifest\.json: missing/);
    const inp = input();
    await writeBundle(dir, inp);
    const m0 = await Deno.readTextFile(`${dir}/manifest.json`);
    const npy = (name: string, a: Parameters<typeof encodeNpy>[0]) =>
      Deno.writeFile(`${dir}/${name}`, encodeNpy(a));
    const check = async (re: RegExp) => {
      await assert.rejects(() => loadBundle(dir), re);
      await writeBundle(dir, inp); // restore
      await Deno.writeTextFile(`${dir}/manifest.json`, m0);
    };
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({ ...JSON.parse(m0), dim: 0 }));
    await check(/manifest\.json: 'dim' must be a positive integer/);
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ ...JSON.parse(m0), dim: 16 }),
    );
    await check(/corpus\.npy: shape \[20,8\] but the corpus must be \[N, 16\]/);
    await Deno.remove(`${dir}/visdial_gen.npy`);
    await check(/visdial_gen\.npy: missing/);
    await npy("visdial_text.npy", { dtype: "float32", shape: [4, 3], data: new Float32Array(12) });
    await check(/visdial_text\.npy: shape \[4,3\] but split 'visdial' text must be \[Q, 3, 8\]/);
    await npy("visdial_gen.npy", {
      dtype: "float32",
      shape: [5, 3, 8],
      data: new Float32Array(120),
    });
    await check(/counts disagree: .*visdial_text\.npy has 4 dialogues, .*visdial_gen\.npy has 5/);
    await npy("train_target.npy", { dtype: "float32", shape: [6], data: new Float32Array(6) });
    await check(/train_target\.npy: targets must be integers, got float32/);
    await npy("train_target.npy", {
      dtype: "int32",
      shape: [6],
      data: new Int32Array([0, 1, 2, 20, 0, 0]),
    });
    await check(/train_target\.npy: target 3 is 20, outside the corpus \[0, 20\)/);
    await npy("visdial_gen.npy", { dtype: "int32", shape: [4, 3, 8], data: new Int32Array(96) });
    await check(/visdial_gen\.npy: embeddings must be floating point, got int32/);
    const bad = inp.splits.visdial.gen.slice();
    bad[1 * 24 + 2 * 8 + 5] = NaN;
    await npy("visdial_gen.npy", { dtype: "float32", shape: [4, 3, 8], data: bad });
    await check(/visdial_gen\.npy: value NaN at index 1, 2, 5/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("non-unit rows are reported as warnings and left unchanged", async () => {
  const dir = await tmp();
  try {
    const inp = input();
    inp.corpus = inp.corpus.map((v, i) => (i >= 16 && i < 24 ? v * 2 : v));
    await writeBundle(dir, inp);
    const b = await loadBundle(dir);
    const norms = b.warnings.filter((w) => w.includes("unit length"));
    assert.equal(norms.length, 1);
    assert.match(
      norms[0],
      /corpus\.npy: 1 of 20 rows are not unit length \(first: row 2, norm 2\.0000\)/,
    );
    assert.deepEqual(b.corpus, inp.corpus);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeBundle checks its input before writing", async () => {
  const inp = input();
  inp.splits.visdial.target[0] = 99;
  await assert.rejects(() => writeBundle("/nonexistent/never", inp), /target 0 is 99/);
  const inp2 = input();
  inp2.extra = { dim: 3 };
  await assert.rejects(() => writeBundle("/nonexistent/never", inp2), /extra key 'dim'/);
});

/** {@linkcode input} with image pools for `train` (7 images) and `val` (5), targets into them. */
function pooled(): BundleInput {
  const inp = input();
  const rng = new Rng(9);
  const { dim, rounds } = inp;
  const split = (q: number, p: number) => ({
    text: unitRows(rng, q * rounds, dim),
    gen: unitRows(rng, q * rounds, dim),
    target: new Int32Array(q).map((_, i) => i % p),
    images: unitRows(rng, p, dim),
  });
  inp.splits.train = split(6, 7);
  inp.splits.val = split(5, 5);
  return inp;
}

Deno.test("training image pools: written, loaded, targets index the pool, no warning", async () => {
  const dir = await tmp();
  try {
    const inp = pooled();
    inp.splits.train.target[0] = 6; // in the pool of 7, and the corpus has 20: both valid
    await writeBundle(dir, inp);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    assert.equal(m.splits.train.images, "train_images.npy");
    assert.equal(m.splits.val.images, "val_images.npy");
    assert.equal(m.splits.visdial.images, undefined);
    const b = await loadBundle(dir);
    assert.deepEqual(b.warnings, []);
    const tr = b.splits.train;
    assert.equal(tr.imageCount, 7);
    assert.deepEqual(tr.images, inp.splits.train.images);
    assert.deepEqual(tr.target, inp.splits.train.target);
    assert.equal(b.splits.val.imageCount, 5);
    assert.equal(b.splits.visdial.images, undefined);
    const p = targetPool(b, tr);
    assert.equal(p.size, 7);
    assert.equal(p.fromCorpus, false);
    assert.deepEqual(p.images.subarray(6 * 8, 7 * 8), inp.splits.train.images!.subarray(48, 56));
    // a pool in a safetensors file holding several tensors: the one named 'images' is read
    await Deno.writeFile(
      `${dir}/val.safetensors`,
      encodeSafetensors({
        images: { dtype: "F32", shape: [5, 8], data: inp.splits.val.images! },
        other: { dtype: "F32", shape: [1], data: new Float32Array(1) },
      }),
    );
    m.splits.val.images = "val.safetensors";
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(m));
    assert.deepEqual((await loadBundle(dir)).splits.val.images, inp.splits.val.images);
    const c = targetPool(b, b.splits.visdial);
    assert.equal(c.fromCorpus, true);
    assert.equal(c.size, 20);
    // a target beyond the pool (but inside the corpus) is an error, before writing or loading
    const bad = pooled();
    bad.splits.train.target[2] = 7;
    await assert.rejects(
      () => writeBundle("/nonexistent/never", bad),
      /split 'train' target 2 is 7, not in \[0, 7\) of its image pool/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bundle whose train/val have no pool loads, with a warning", async () => {
  const dir = await tmp();
  try {
    const inp = input(); // train without a pool, no val
    await writeBundle(dir, inp);
    const b = await loadBundle(dir);
    assert.equal(b.warnings.length, 1);
    assert.match(
      b.warnings[0],
      /split 'train': no image pool, so its training targets are search-corpus images.*"images": "train_images\.npy"/,
    );
    assert.equal(b.splits.train.images, undefined);
    assert.equal(targetPool(b, b.splits.train).fromCorpus, true);
    // benchmarks alone never warn
    assert.deepEqual((await loadBundle(dir, { splits: ["visdial"] })).warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad image pools are errors naming the file and the fix", async () => {
  const dir = await tmp();
  try {
    const inp = pooled();
    await writeBundle(dir, inp);
    const m0 = await Deno.readTextFile(`${dir}/manifest.json`);
    const npy = (name: string, a: Parameters<typeof encodeNpy>[0]) =>
      Deno.writeFile(`${dir}/${name}`, encodeNpy(a));
    const check = async (re: RegExp) => {
      await assert.rejects(() => loadBundle(dir), re);
      await writeBundle(dir, inp); // restore
      await Deno.writeTextFile(`${dir}/manifest.json`, m0);
    };
    await Deno.remove(`${dir}/train_images.npy`);
    await check(/train_images\.npy: missing \(the manifest names it as 'images'\); restore/);
    await npy("val_images.npy", { dtype: "float32", shape: [5, 4], data: new Float32Array(20) });
    await check(
      /val_images\.npy: shape \[5,4\] but split 'val' images \(its image pool\) must be \[P, 8\]/,
    );
    await npy("train_images.npy", {
      dtype: "float32",
      shape: [3, 8],
      data: inp.splits.train.images!.slice(0, 24),
    });
    await check(
      /train_target\.npy: target 3 is 3, outside the image pool \[0, 3\) of .*train_images\.npy/,
    );
    const nan = inp.splits.val.images!.slice();
    nan[2 * 8 + 1] = NaN;
    await npy("val_images.npy", { dtype: "float32", shape: [5, 8], data: nan });
    await check(/val_images\.npy: value NaN at index 2, 1 of split 'val' images/);
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({
        ...JSON.parse(m0),
        splits: { ...JSON.parse(m0).splits, val: { ...JSON.parse(m0).splits.val, images: 3 } },
      }),
    );
    await check(/split 'val' has 'images' that is not a file name/);
    const short = pooled();
    short.splits.val.images = new Float32Array(12);
    await assert.rejects(
      () => writeBundle("/nonexistent/never", short),
      /split 'val' images has 12 values, not \[P, 8\]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The first python with numpy: `$ADAFUSE_PYTHON`, Debian's, then the one on PATH. */
function _numpyPython(): string | null {
  const env = Deno.env.get("ADAFUSE_PYTHON");
  for (const py of [...(env ? [env] : []), "/usr/bin/python3", "python3"]) {
    try {
      const ok =
        new Deno.Command(py, { args: ["-c", "import numpy"], stdout: "null", stderr: "null" })
          .outputSync().code === 0;
      if (ok) return py;
    } catch {
      // not installed: try the next one
    }
  }
  return null;
}

const PY = _numpyPython();

const _POOL_BUNDLE_PY = `
import json, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(3)
def unit(*shape):
    x = rng.standard_normal(shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)
np.save(f"{d}/corpus.npy", unit(10, 4).astype("<f4"))
splits = {}
for name, q, p in [("train", 6, 8), ("val", 3, 4), ("visdial", 2, 0)]:
    np.save(f"{d}/{name}_text.npy", unit(q, 2, 4).astype("<f4"))
    np.save(f"{d}/{name}_gen.npy", unit(q, 2, 4).astype("<f8"))
    files = {"text": f"{name}_text.npy", "gen": f"{name}_gen.npy", "target": f"{name}_target.npy"}
    if p:
        images = unit(p, 4)
        np.save(f"{d}/{name}_images.npy", images.astype("<f8"))
        files["images"] = f"{name}_images.npy"
        y = rng.integers(0, p, q)
    else:
        y = rng.integers(0, 10, q)
    np.save(f"{d}/{name}_target.npy", y.astype("<i8"))
    splits[name] = files
    if name == "train":
        want = {"target": y.tolist(), "row": images[y[0]].astype("<f4").tolist()}
json.dump({"dim": 4, "rounds": 2, "corpus": "corpus.npy", "splits": splits}, open(f"{d}/manifest.json", "w"))
print(json.dumps(want))
`;

Deno.test({
  name: "a numpy-written bundle with train/val image pools loads (f64 pools, i64 targets)",
  ignore: PY === null,
  fn: async () => {
    const dir = await tmp();
    try {
      const out = await new Deno.Command(PY!, { args: ["-c", _POOL_BUNDLE_PY, dir] }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const want = JSON.parse(new TextDecoder().decode(out.stdout));
      const b = await loadBundle(dir);
      assert.deepEqual(b.warnings, []);
      assert.equal(b.corpusSize, 10);
      const tr = b.splits.train;
      assert.equal(tr.imageCount, 8);
      assert.equal(b.splits.val.imageCount, 4);
      assert.equal(b.splits.visdial.images, undefined);
      assert.deepEqual(Array.from(tr.target), want.target);
      const y0 = tr.target[0];
      assertClose(tr.images!.slice(y0 * 4, y0 * 4 + 4), want.row, 0, "train pool row");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
