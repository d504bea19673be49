import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import {
  readTrainLog,
  readWeights,
  tinyPooledTrainData,
  tinyTrainConfig,
  tinyTrainData,
} from "../testing/tiny_train_data.ts";
import { GradAccumulator, train, type TrainProgress, validate } from "./loop.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { prepareCorpus } from "../model/ranking.ts";
import type { TrainConfig } from "./config.ts";

await initBackend("wasm");

function _tinyConfig(extra: string[] = []): TrainConfig {
  return tinyTrainConfig(["engine=autodiff", ...extra]);
}

const _quiet = () => {};
const _weights = readWeights;
const _log = readTrainLog;

Deno.test("train: resume after 2 epochs ends with the weights of a straight 4-epoch run", async () => {
  const data = tinyTrainData(1);
  const cfg = _tinyConfig();
  const root = await Deno.makeTempDir();
  try {
    const straight = await train(data, cfg, { outDir: `${root}/a`, log: _quiet });
    assert.equal(straight.finished, true);
    assert.equal(straight.epochsDone, 4);

    const half = await train(data, cfg, { outDir: `${root}/b`, log: _quiet, stopAfterEpochs: 2 });
    assert.equal(half.finished, false);
    await assert.rejects(() => train(data, cfg, { outDir: `${root}/b`, log: _quiet }), /resume/);
    const rest = await train(data, cfg, { outDir: `${root}/b`, log: _quiet, resume: true });
    assert.equal(rest.finished, true);

    const wa = await _weights(`${root}/a/last.safetensors`);
    const wb = await _weights(`${root}/b/last.safetensors`);
    assert.deepEqual(Object.keys(wa).sort(), Object.keys(wb).sort());
    for (const k of Object.keys(wa)) {
      assert.deepEqual(wb[k], wa[k], `tensor ${k} differs after resume`);
    }
    assert.deepEqual(rest.history, straight.history);
    const la = (await _log(`${root}/a`)).map(({ samplesPerSec: _s, ...x }) => x);
    const lb = (await _log(`${root}/b`)).map(({ samplesPerSec: _s, ...x }) => x);
    assert.deepEqual(lb, la);

    // a finished run is cached; another config in the same directory is refused
    const again = await train(data, cfg, { outDir: `${root}/a`, log: _quiet });
    assert.equal(again.cached, true);
    assert.equal(again.bestEpoch, straight.bestEpoch);
    await assert.rejects(
      () => train(data, _tinyConfig(["seed=5"]), { outDir: `${root}/a`, log: _quiet }),
      /another config/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: same seed gives identical numbers, another seed differs; no tensor leaks", async () => {
  const data = tinyTrainData(2);
  const root = await Deno.makeTempDir();
  try {
    const counts: number[] = [];
    const onProgress = (_p: TrainProgress) => counts.push(tf.memory().numTensors);
    const before = tf.memory().numTensors;
    await train(data, _tinyConfig(["epochs=3"]), { outDir: `${root}/a`, log: _quiet, onProgress });
    assert.equal(tf.memory().numTensors, before, "tensors left after training");
    assert.equal(counts.length, 3 * 3); // 6 batches / accumulate 2 = 3 updates per epoch
    // flat from epoch 2 on; epoch 1's first evaluation adds the one cached corpus tensor
    assert.ok(counts.slice(3).every((n) => n === counts[3]), `tensor count moves: ${counts}`);
    assert.ok(counts[3] - counts[0] <= 1, `tensor count moves: ${counts}`);
    await train(data, _tinyConfig(["epochs=3"]), { outDir: `${root}/b`, log: _quiet });
    await train(data, _tinyConfig(["epochs=3", "seed=1"]), { outDir: `${root}/c`, log: _quiet });
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map((x) => _weights(`${root}/${x}/last.safetensors`)),
    );
    for (const k of Object.keys(a)) {
      assert.deepEqual(b[k], a[k], `${k} differs between equal seeds`);
    }
    assert.notDeepEqual(c["output_layer.weight"], a["output_layer.weight"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: a tiny run learns (loss falls, val Hits rise) and logs what it should", async () => {
  const data = tinyTrainData(3);
  const root = await Deno.makeTempDir();
  try {
    const res = await train(data, _tinyConfig(["epochs=12", "evalEvery=3", "model.dropout=0.1"]), {
      outDir: root,
      log: _quiet,
    });
    const steps = (await _log(root)).filter((l) => l.type === "step");
    const evals = (await _log(root)).filter((l) => l.type === "eval");
    assert.equal(steps.length, 12 * 3);
    assert.equal(evals.length, 4);
    const first = steps.slice(0, 3).reduce((a, l) => a + l.loss, 0) / 3;
    const last = steps.slice(-3).reduce((a, l) => a + l.loss, 0) / 3;
    assert.ok(last < first - 0.5, `loss fell only from ${first} to ${last}`);
    assert.ok(
      res.history.at(-1)!.valMetric > res.history[0].valMetric + 0.05,
      `val Hits did not rise: ${res.history.map((h) => h.valMetric)}`,
    );
    for (const s of steps) {
      assert.ok(s.gateMean > 0 && s.gateMean < 1 && s.gateStd >= 0);
      assert.equal(s.expertLoad.length, 2);
      assert.ok(Math.abs(s.expertLoad[0] + s.expertLoad[1] - 1) < 1e-4);
      assert.ok(s.gradNorm > 0 && s.lr >= 0 && s.samplesPerSec > 0);
    }
    assert.equal(steps[0].lr, 0); // warm-up starts at 0
    assert.ok(res.bestCheckpoint && (await Deno.stat(res.bestCheckpoint)).isFile);
    const best = res.history.reduce((x, h) => h.valMetric > x.valMetric ? h : x);
    assert.equal(res.bestEpoch, best.epoch);
    assert.equal(res.bestMetric, best.valMetric);
    const cfg = JSON.parse(await Deno.readTextFile(`${root}/config.json`));
    assert.equal(cfg.config.epochs, 12);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train: refuses a missing split and batches larger than the data", async () => {
  const data = tinyTrainData(4);
  await assert.rejects(
    () => train(data, _tinyConfig(["valSplit=val2"]), { outDir: "/tmp/unused", log: _quiet }),
    /no validation split 'val2'/,
  );
  await assert.rejects(
    () => train(data, _tinyConfig(["batchSize=512"]), { outDir: "/tmp/unused", log: _quiet }),
    /no full batch/,
  );
});

Deno.test("GradAccumulator averages micro-batch gradients and frees them", async () => {
  const before = tf.memory().numTensors;
  const acc = new GradAccumulator();
  acc.add([tf.tensor1d([1, 2]), tf.scalar(3)]);
  acc.add([tf.tensor1d([3, -2]), tf.scalar(0)]);
  acc.add([tf.tensor1d([2, 3]), tf.scalar(6)]);
  assert.equal(acc.count, 3);
  const m = acc.mean();
  assert.deepEqual(Array.from(await m[0].data()), [2, 1]);
  assert.deepEqual(Array.from(await m[1].data()), [3]);
  assert.equal(acc.count, 0);
  tf.dispose(m);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => acc.mean(), /nothing/);
});

Deno.test("train: targets and validation come from the split's image pools, never the corpus (both engines)", async () => {
  // Same dialogues and target embeddings; the pooled copy moves the targets into pools and
  // replaces the corpus by one constant row. Training must not notice (identical weights), and
  // validation ranks against the val pool of 64 (a corpus read would fail or score nonsense).
  const plain = tinyTrainData(3), pooled = tinyPooledTrainData(3);
  const root = await Deno.makeTempDir();
  try {
    for (const engine of ["autodiff", "parallel"]) {
      const cfg = tinyTrainConfig([`engine=${engine}`, "workers=0", "epochs=6", "evalEvery=3"]);
      const logs: string[] = [];
      const a = await train(plain, cfg, { outDir: `${root}/${engine}-plain`, log: _quiet });
      const b = await train(pooled, cfg, {
        outDir: `${root}/${engine}-pool`,
        log: (l) => logs.push(l),
      });
      assert.equal(b.engine, engine);
      assert.ok(!logs.some((l) => /no image pool/.test(l)), logs.join("\n"));
      const wa = await _weights(`${root}/${engine}-plain/last.safetensors`);
      const wb = await _weights(`${root}/${engine}-pool/last.safetensors`);
      for (const k of Object.keys(wa)) {
        assert.deepEqual(wb[k], wa[k], `${engine}: tensor ${k} differs with pools`);
      }
      const steps = (await _log(`${root}/${engine}-pool`)).filter((l) => l.type === "step");
      assert.ok(steps.at(-1).loss < steps[0].loss - 0.3, `${engine}: loss did not fall`);
      // Hits@5 among 64 val images: chance is 5/64; the corpus gallery (300) would differ
      const hv = b.history.at(-1)!.valMetric;
      assert.ok(hv > 0.3, `${engine}: val Hits@5 ${hv}`);
      assert.notEqual(hv, a.history.at(-1)!.valMetric);
      // the selection metric of the best checkpoint is recomputed on the val pool followed by
      // the train pool (64 + 192 images), and differs on the val pool alone
      const head = await loadCheckpoint(b.bestCheckpoint!);
      const vs = pooled.splits.val, ts = pooled.splits.train;
      const both = new Float32Array([...vs.images!, ...ts.images!]);
      for (const [gallery, same] of [[both, true], [vs.images!, false]] as const) {
        const index = prepareCorpus(gallery, 16, { workers: 0 });
        try {
          const ev = await validate(head, index, vs, 3, 5);
          if (same) assert.ok(Math.abs(ev.metric - b.bestMetric) < 1e-12, `${engine}: gallery`);
          else assert.ok(ev.metric > b.bestMetric, `${engine}: the val pool alone is easier`);
        } finally {
          index.dispose();
        }
      }
      head.dispose();
      // the data signature includes the pools: the pooled run is another data set
      await assert.rejects(
        () => train(plain, cfg, { outDir: `${root}/${engine}-pool`, log: _quiet }),
        /another data set/,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
