/**
 * The same model code on tfjs's WebGPU backend: forward pass, loss and gradients (tfjs
 * autodiff, as lib/train/loop.ts computes them, and the hand-written backward of the data-parallel
 * engine) at small shapes, against the wasm backend within 1e-4. Runs on any WebGPU adapter,
 * e.g. Mesa's lavapipe (a CPU Vulkan driver, `mesa-vulkan-drivers`); skipped when Deno finds
 * none. Shapes stay small: Deno's wgpu times out on lavapipe with large products.
 *
 * tfjs has one global backend per process (initBackend switches it, and back): the wasm
 * reference is computed first, then the backend switches to webgpu. The last test runs the
 * training loop (autodiff engine, the one used off wasm) and the exact ranking on both.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { infoNceLoss } from "../train/loss.ts";
import { FusionHead, type StateDict } from "../model/fusion_head.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows as unitRows } from "../runtime/rows.ts";
import { readWeights, tinyTrainConfig, tinyTrainData } from "../testing/tiny_train_data.ts";
import { prepareCorpus, rankTargets } from "../model/ranking.ts";
import { train } from "../train/loop.ts";
import { modelConfigOf } from "../train/config.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());

async function _hasAdapter(): Promise<boolean> {
  // deno-lint-ignore no-explicit-any
  const gpu = (navigator as any).gpu as GPU | undefined;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

const HAS_GPU = await _hasAdapter();
const CFG = { dim: 16, proj: 8, hidden: 16, experts: 2 };
const B = 6;

interface _Values {
  q: Float32Array;
  w: Float32Array;
  loss: number;
  grads: Float32Array[];
}

/** Forward, loss and gradients (both ways) of the head `sd` on the current backend. */
async function _compute(sd: StateDict, data: Float32Array[]): Promise<_Values> {
  const head = FusionHead.fromStateDict(sd, CFG);
  const [t, g, y] = data.map((a) => tf.tensor2d(a, [B, CFG.dim]));
  try {
    const out = head.apply(t, g, { training: false });
    const { value, grads } = tf.variableGrads(
      () => infoNceLoss(head.apply(t, g, { training: false }).q, y, head.scale()),
      head.variables,
    );
    const res: _Values = {
      q: (await out.q.data()) as Float32Array,
      w: (await out.w.data()) as Float32Array,
      loss: (await value.data())[0],
      grads: await Promise.all(
        head.variables.map((v) => grads[v.name].data() as Promise<Float32Array>),
      ),
    };
    tf.dispose([out.q, out.w, out.p, value, ...Object.values(grads)]);
    return res;
  } finally {
    tf.dispose([t, g, y]);
    head.dispose();
  }
}

Deno.test({
  name: "webgpu: forward, loss and gradients match wasm within 1e-4",
  ignore: !HAS_GPU,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await initBackend("wasm");
    const h = FusionHead.create(CFG, 3);
    const sd = await h.toStateDict();
    h.dispose();
    const rng = new Rng(5);
    const data = [0, 1, 2].map(() => unitRows(rng, B, CFG.dim));
    const ref = await _compute(sd, data);
    const info = await initBackend("webgpu");
    console.log(`webgpu adapter: ${info.device}`);
    const got = await _compute(sd, data);
    assertClose(got.q, ref.q, 1e-4, "q");
    assertClose(got.w, ref.w, 1e-4, "w");
    assertClose(got.loss, ref.loss, 1e-4, "loss");
    got.grads.forEach((gr, i) => assertClose(gr, ref.grads[i], 1e-4, `autodiff grad ${i}`));
  },
});

Deno.test({
  name: "webgpu: the training loop and exact ranking give wasm's numbers (1e-4, ranks equal)",
  ignore: !HAS_GPU,
  fn: async () => {
    const data = tinyTrainData(3);
    // a small learning rate: Adam turns float-level gradient differences of near-zero gradients into
    // steps of up to lr, so the two backends are compared where a step is below the tolerance
    const config = tinyTrainConfig([
      "engine=autodiff",
      "epochs=2",
      "warmupEpochs=0",
      "accumulate=1",
      "lr=1e-4",
    ]);
    const rng = new Rng(9);
    const corpus = unitRows(rng, 300, 16), queries = unitRows(rng, 40, 16);
    const targets = Int32Array.from({ length: 40 }, (_, i) => (i * 7) % 300);
    const run = async (backend: "wasm" | "webgpu") => {
      await initBackend(backend);
      const dir = await Deno.makeTempDir({ prefix: `webgpu_train_${backend}_` });
      try {
        const res = await train(data, config, { outDir: dir, log: () => {} });
        const weights = await readWeights(`${dir}/last.safetensors`);
        const index = prepareCorpus(corpus, 16, { workers: 0 });
        const ranks = await rankTargets(index, [{ queries }], targets);
        index.dispose();
        return { res, weights, ranks };
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    };
    const cpu = await run("wasm");
    const gpu = await run("webgpu");
    await initBackend("wasm");
    const init = await FusionHead.create(modelConfigOf(config), config.seed).toStateDict();
    let moved = 0;
    for (const [name, w] of Object.entries(cpu.weights)) {
      assertClose(gpu.weights[name], w, 1e-4, `trained ${name}`);
      for (let i = 0; i < w.length; i++) {
        moved = Math.max(moved, Math.abs(w[i] - init[name].data[i]));
      }
    }
    assert.ok(
      moved > 4e-4,
      `training moved the weights by ${moved}, too little to compare at 1e-4`,
    );
    assertClose(
      gpu.res.history.at(-1)!.trainLoss,
      cpu.res.history.at(-1)!.trainLoss,
      1e-4,
      "train loss",
    );
    assertClose(gpu.res.history.at(-1)!.valHits, cpu.res.history.at(-1)!.valHits, 1e-9, "val hits");
    assertClose(gpu.ranks, cpu.ranks, 0, "ranks");
  },
});

// Tear the WebGPU device down before the process exits: left to process teardown, Deno's wgpu
// has been seen to abort ("double free or corruption") after every test had passed.
globalThis.addEventListener("unload", () => {
  // deno-lint-ignore no-explicit-any
  const b = tf.findBackend("webgpu") as any;
  if (!b) return;
  try {
    if (tf.getBackend() === "webgpu") tf.setBackend("wasm");
    tf.removeBackend("webgpu");
    b.device?.destroy?.();
  } catch {
    // nothing more to free
  }
});
