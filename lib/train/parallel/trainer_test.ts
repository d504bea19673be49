import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../../testing/assert.ts";
import { initBackend } from "../../runtime/backend.ts";
import { AdamW } from "../adamw.ts";
import { clipByGlobalNorm } from "../clip.ts";
import { infoNceLoss } from "../loss.ts";
import { FusionHead, type StateDict } from "../../model/fusion_head.ts";
import type { FusionConfig, FusionVariant } from "../../model/config.ts";
import { DataParallelTrainer, type MicroBatch } from "./trainer.ts";
import { Rng } from "../../runtime/rng.ts";
import { randomUnitRows as unitRows } from "../../runtime/rows.ts";
import { HEAD_CASES } from "../../testing/head_cases.ts";

const SMALL: Partial<FusionConfig> = { dim: 8, proj: 6, hidden: 12, experts: 3 };

/** Every variant and the gateless ones with a text weight other than 0.5 (no learned scale). */
const CASES = HEAD_CASES.filter((c) => !c.learnableScale) as {
  variant: FusionVariant;
  fixedTextWeight?: number;
}[];

function _label(c: { variant: FusionVariant; fixedTextWeight?: number }): string {
  return c.fixedTextWeight === undefined ? c.variant : `${c.variant} w=${c.fixedTextWeight}`;
}

function _batch(seed: number, rows: number, d: number, dropSeed: number | null): MicroBatch {
  const rng = new Rng(seed);
  return {
    t: unitRows(rng, rows, d),
    g: unitRows(rng, rows, d),
    y: unitRows(rng, rows, d),
    rows,
    seed: dropSeed,
  };
}

function _maxDiff(a: StateDict, b: StateDict): number {
  let m = 0;
  for (const k of Object.keys(a)) {
    const x = a[k].data, y = b[k].data;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

/** The single-process step as lib/train/loop.ts does it: autodiff, clip, AdamW (no dropout). */
async function _referenceStep(
  sd: StateDict,
  cfg: Partial<FusionConfig>,
  batches: MicroBatch[],
  lr: number,
): Promise<{ sd: StateDict; losses: number[]; norm: number }> {
  const head = FusionHead.fromStateDict(sd, { ...cfg, dropout: 0 });
  const vars = head.variables;
  const opt = new AdamW(vars);
  const d = head.config.dim;
  let sum: tf.Tensor[] | null = null;
  const losses: number[] = [];
  for (const b of batches) {
    const t = tf.tensor2d(b.t, [b.rows, d]), g = tf.tensor2d(b.g, [b.rows, d]);
    const y = tf.tensor2d(b.y, [b.rows, d]);
    const { value, grads } = tf.variableGrads(
      () => infoNceLoss(head.apply(t, g, { training: false }).q, y, head.scale()),
      vars,
    );
    losses.push((await value.data())[0]);
    const gl = vars.map((v) => grads[v.name]);
    if (sum === null) sum = gl;
    else {
      const prev: tf.Tensor[] = sum;
      sum = prev.map((a, i) => tf.add(a, gl[i]));
      tf.dispose([...prev, ...gl]);
    }
    tf.dispose([t, g, y, value]);
  }
  const mean = tf.tidy(() => sum!.map((a) => tf.div(a, batches.length)));
  tf.dispose(sum!);
  const { grads: clipped, norm } = await clipByGlobalNorm(mean, 3.0);
  opt.step(clipped, lr);
  tf.dispose([...mean, ...clipped]);
  const out = await head.toStateDict();
  opt.dispose();
  head.dispose();
  return { sd: out, losses, norm };
}

Deno.test("one data-parallel update equals the single-process step (2 workers, accumulation 2)", async () => {
  await initBackend("wasm");
  const cfg = { ...SMALL, dropout: 0 };
  const h = FusionHead.create(cfg, 1);
  const sd = await h.toStateDict();
  h.dispose();
  const batches = [_batch(1, 7, 8, null), _batch(2, 7, 8, null)];
  const ref = await _referenceStep(sd, cfg, batches, 1e-2);
  for (const workers of [0, 2]) {
    const dp = await DataParallelTrainer.create({ workers, model: cfg, stateDict: sd });
    try {
      const l0 = await dp.microBatch(batches[0]);
      const l1 = await dp.microBatch(batches[1]);
      assertClose([l0.loss, l1.loss], ref.losses, 1e-5, `losses (${workers} workers)`);
      const u = await dp.update(1e-2);
      assertClose(u.gradNorm, ref.norm, 1e-5 * Math.max(1, ref.norm), "grad norm");
      const diff = _maxDiff(await dp.stateDict(), ref.sd);
      assert.ok(diff < 1e-6, `${workers} workers: weights differ from the reference by ${diff}`);
    } finally {
      dp.dispose();
    }
  }
  // the gateless variants on the main thread (no worker start): the same agreement
  for (const c of CASES.filter((x) => x.variant === "moe_only" || x.variant === "proj_only")) {
    const vcfg = { ...cfg, ...c };
    const vh = FusionHead.create(vcfg, 1);
    const vsd = await vh.toStateDict();
    vh.dispose();
    const vref = await _referenceStep(vsd, vcfg, batches, 1e-2);
    const dp = await DataParallelTrainer.create({ workers: 0, model: vcfg, stateDict: vsd });
    try {
      const l0 = await dp.microBatch(batches[0]);
      const l1 = await dp.microBatch(batches[1]);
      assertClose([l0.loss, l1.loss], vref.losses, 1e-5, `${_label(c)}: losses`);
      const u = await dp.update(1e-2);
      assertClose(u.gradNorm, vref.norm, 1e-5 * Math.max(1, vref.norm), `${_label(c)}: norm`);
      const diff = _maxDiff(await dp.stateDict(), vref.sd);
      assert.ok(diff < 1e-6, `${_label(c)}: weights differ from the reference by ${diff}`);
    } finally {
      dp.dispose();
    }
  }
});

Deno.test("1, 2 and 3 workers give the same weights after two steps with dropout and clipping", async () => {
  await initBackend("wasm");
  const cfg = { ...SMALL, dropout: 0.2, learnableScale: true };
  const results: StateDict[] = [];
  for (const workers of [1, 2, 3]) {
    const dp = await DataParallelTrainer.create({ workers, model: cfg, seed: 4, clipNorm: 0.05 });
    try {
      for (let s = 0; s < 2; s++) {
        const r = await dp.step(_batch(10 + s, 9, 8, 100 + s), 1e-2);
        assert.ok(r.gradNorm > 0.05, "the clip is exercised");
        assert.ok(Number.isFinite(r.loss) && r.pSum.length === 3);
      }
      results.push(await dp.stateDict());
    } finally {
      dp.dispose();
    }
  }
  // the scale starts at log(50) (in float32); two AdamW steps at lr 1e-2 move it by about 0.02
  const moved = Math.abs(results[0]["logit_scale"].data[0] - Math.log(50));
  assert.ok(moved > 1e-3, `the learnable scale moved by only ${moved} from log(50)`);
  for (const r of results.slice(1)) {
    const diff = _maxDiff(r, results[0]);
    assert.ok(diff < 1e-6, `weights differ across worker counts by ${diff}`);
  }
});

Deno.test("weight decay as the reference's optimizer factory: after a zero-gradient step, weights shrink by lr·wd, biases, 1-D tensors and the logit scale stay; both engines agree", async () => {
  await initBackend("wasm");
  // Two identical rows: every logit is equal, so the InfoNCE gradient (softmax − one-hot, summed
  // against identical rows) is exactly 0 and the step is the decoupled decay alone (Adam's
  // m = v = 0 moves nothing).
  const cfg = { ...SMALL, learnableScale: true, dropout: 0 };
  const sd = await (async () => {
    const h = FusionHead.create(cfg, 6);
    const s = await h.toStateDict();
    h.dispose();
    return s;
  })();
  const lr = 0.1, wd = 0.05;
  const one = _batch(21, 1, 8, null);
  const twice = (a: Float32Array) => Float32Array.from([...a, ...a]);
  const batch: MicroBatch = {
    t: twice(one.t),
    g: twice(one.g),
    y: twice(one.y),
    rows: 2,
    seed: null,
  };
  const ref = await _referenceStep(sd, cfg, [batch], lr);
  assert.equal(ref.norm, 0);
  const dp = await DataParallelTrainer.create({ workers: 0, model: cfg, stateDict: sd });
  let par: StateDict;
  try {
    const u = await dp.step(batch, lr);
    assert.equal(u.gradNorm, 0);
    par = await dp.stateDict();
  } finally {
    dp.dispose();
  }
  let decayed = 0, kept = 0;
  for (const [k, t0] of Object.entries(sd)) {
    for (const [engine, after] of [["autodiff", ref.sd], ["parallel", par]] as const) {
      const t1 = after[k];
      if (t0.shape.length >= 2) {
        const want = Array.from(t0.data, (x) => Math.fround(x * (1 - lr * wd)));
        assertClose(t1.data, want, 1e-7, `${engine}: ${k} ${JSON.stringify(t0.shape)} decays`);
      } else {
        assert.deepEqual(t1.data, t0.data, `${engine}: ${k} [${t0.shape}] must not decay`);
      }
    }
    if (t0.shape.length >= 2) decayed++;
    else kept++;
  }
  assert.ok("logit_scale" in sd && sd["logit_scale"].shape.length === 0);
  assert.ok(decayed >= 8 && kept >= 9, `${decayed} decayed, ${kept} kept`);
});
