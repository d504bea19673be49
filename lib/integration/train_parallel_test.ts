import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import {
  readTrainLog,
  readWeights,
  tinyTrainConfig,
  tinyTrainData,
} from "../testing/tiny_train_data.ts";
import { train, type TrainResult } from "../train/loop.ts";
import { fullTrainConfig, type TrainConfig } from "../train/config.ts";

await initBackend("wasm");

// Each worker start type-checks worker.ts under `deno test` (seconds each), so only the
// tests about workers start them; the others run the same engine on the main thread.

// The tiny run of train_test.ts with the parallel engine (the default) on the main thread.
function _tinyConfig(extra: string[] = []): TrainConfig {
  return tinyTrainConfig(["workers=0", ...extra]);
}

const _quiet = () => {};
const _weights = readWeights;
const _log = readTrainLog;

function _maxDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let m = 0;
  for (const k of Object.keys(a)) {
    for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]));
  }
  return m;
}

Deno.test("train (parallel): resume after 2 epochs ends with the weights of a straight 4-epoch run", async () => {
  const data = tinyTrainData(1);
  // learnable scale: its value and its AdamW moments must survive the resume too
  const cfg = _tinyConfig(["learnableScale=true"]);
  const root = await Deno.makeTempDir();
  try {
    const straight = await train(data, cfg, { outDir: `${root}/a`, log: _quiet });
    assert.equal(straight.finished, true);
    const half = await train(data, cfg, { outDir: `${root}/b`, log: _quiet, stopAfterEpochs: 2 });
    assert.equal(half.finished, false);
    const rest = await train(data, cfg, { outDir: `${root}/b`, log: _quiet, resume: true });
    assert.equal(rest.finished, true);
    const wa = await _weights(`${root}/a/last.safetensors`);
    const wb = await _weights(`${root}/b/last.safetensors`);
    assert.deepEqual(Object.keys(wa).sort(), Object.keys(wb).sort());
    for (const k of Object.keys(wa)) {
      assert.deepEqual(wb[k], wa[k], `tensor ${k} differs after resume`);
    }
    assert.ok(Math.abs(wa["logit_scale"][0] - Math.log(50)) > 1e-6, "the scale was trained");
    assert.deepEqual(rest.history, straight.history);
    const la = (await _log(`${root}/a`)).map(({ samplesPerSec: _s, ...x }) => x);
    const lb = (await _log(`${root}/b`)).map(({ samplesPerSec: _s, ...x }) => x);
    assert.deepEqual(lb, la);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train (parallel): a tiny run learns (loss falls, val Hits rise)", async () => {
  const data = tinyTrainData(3);
  const root = await Deno.makeTempDir();
  try {
    const res = await train(data, _tinyConfig(["epochs=12", "evalEvery=3", "model.dropout=0.1"]), {
      outDir: root,
      log: _quiet,
    });
    const steps = (await _log(root)).filter((l) => l.type === "step");
    assert.equal(steps.length, 12 * 3);
    assert.equal(res.history.length, 4);
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
    assert.ok(res.bestCheckpoint && (await Deno.stat(res.bestCheckpoint)).isFile);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train (parallel): the default engine; same seed and workers give identical weights, 1, 2 workers and the main thread agree to 1e-6, another seed differs", async () => {
  assert.equal(fullTrainConfig.engine, "parallel");
  assert.equal(fullTrainConfig.workers, "auto");
  const data = tinyTrainData(2);
  const root = await Deno.makeTempDir();
  try {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const runs: Record<string, TrainResult> = {};
    for (
      const [name, extra] of [["2a", "workers=2"], ["2b", "workers=2"], ["1", "workers=1"], [
        "0",
        "workers=0",
      ], ["seed1", "seed=1"]]
    ) {
      runs[name] = await train(data, _tinyConfig(["epochs=2", extra]), {
        outDir: `${root}/${name}`,
        log: (l) => lines.push(l),
      });
      assert.equal(runs[name].engine, "parallel");
    }
    assert.equal(tf.memory().numTensors, before, "tensors left after training");
    assert.deepEqual([runs["2a"].workers, runs["1"].workers, runs["0"].workers], [2, 1, 0]);
    assert.ok(lines.some((l) => /engine parallel, 2 worker/.test(l)), lines.join("\n"));
    assert.equal(runs["1"].configHash, runs["2a"].configHash, "workers is not in the hash");
    const w: Record<string, Record<string, Float32Array>> = {};
    for (const name of Object.keys(runs)) {
      w[name] = await _weights(`${root}/${name}/last.safetensors`);
    }
    for (const k of Object.keys(w["2a"])) {
      assert.deepEqual(w["2b"][k], w["2a"][k], `${k} differs between equal runs`);
    }
    for (const name of ["1", "0"]) {
      const diff = _maxDiff(w[name], w["2a"]);
      assert.ok(diff < 1e-6, `${name} worker(s) differ from 2 workers by ${diff}`);
    }
    assert.notDeepEqual(w["seed1"]["output_layer.weight"], w["2a"]["output_layer.weight"]);
    const st = JSON.parse(await Deno.readTextFile(`${root}/2a/state.json`));
    assert.equal(st.engine, "parallel");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train (parallel): the ablation variants train; an error mid-run stops the workers", async () => {
  const data = tinyTrainData(7);
  const root = await Deno.makeTempDir();
  try {
    // [variant, its text weight in the log (null: learned by the gate), extra overrides]
    const cases: [string, number | null, string[]][] = [
      ["gate_only", null, []],
      ["moe_only", 0.5, []],
      ["proj_only", 0.5, []],
      ["proj_only", 0.8, ["model.fixedTextWeight=0.8"]],
    ];
    for (const [variant, w, sets] of cases) {
      const out = `${root}/${variant}${sets.length ? "_w" : ""}`;
      const res = await train(
        data,
        _tinyConfig(["epochs=1", `model.variant="${variant}"`, ...sets]),
        {
          outDir: out,
          log: _quiet,
        },
      );
      assert.equal(res.engine, "parallel");
      const steps = (await _log(out)).filter((l) => l.type === "step");
      assert.ok(steps.every((s) => Number.isFinite(s.loss)));
      assert.equal(steps[0].expertLoad.length, variant === "moe_only" ? 2 : 0);
      if (w !== null) assert.ok(steps.every((s) => Math.abs(s.gateMean - w) < 1e-6), variant);
      if (variant === "proj_only") {
        const wt = await _weights(`${out}/last.safetensors`);
        assert.deepEqual(Object.keys(wt).sort(), [
          "image_projection_layer.bias",
          "image_projection_layer.weight",
          "logit_scale",
          "output_layer.bias",
          "output_layer.weight",
          "text_projection_layer.bias",
          "text_projection_layer.weight",
        ]);
      }
    }
    const before = tf.memory().numTensors;
    await assert.rejects(
      () =>
        train(data, _tinyConfig(["epochs=1", "workers=1"]), {
          outDir: `${root}/err`,
          log: _quiet,
          onProgress: () => {
            throw new Error("stop here");
          },
        }),
      /stop here/,
    );
    assert.equal(tf.memory().numTensors, before, "tensors left after a failed run");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("train (parallel): on a backend other than wasm it trains with autodiff and says so", async () => {
  const data = tinyTrainData(8);
  const root = await Deno.makeTempDir();
  await tf.setBackend("cpu");
  try {
    const lines: string[] = [];
    const res = await train(data, _tinyConfig(["epochs=1"]), {
      outDir: root,
      log: (l) => lines.push(l),
    });
    assert.equal(res.engine, "autodiff");
    assert.ok(lines.some((l) => /wasm backend only.*'cpu'/.test(l)), lines.join("\n"));
  } finally {
    await tf.setBackend("wasm");
    await Deno.remove(root, { recursive: true });
  }
});
