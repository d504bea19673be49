import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { erf64, gelu64, type Ref64Tensor, referenceForward } from "../testing/reference64.ts";
import { FusionHead, geluErf, type StateDict } from "./fusion_head.ts";
import {
  BLIP_BASE_PARAMS,
  type FusionConfig,
  fusionConfig,
  type FusionVariant,
  hasExperts,
  hasGate,
  parameterCount,
  parameterShare,
  parameterTable,
  stateDictSpec,
} from "./config.ts";
import { Rng } from "../runtime/rng.ts";
import { randomUnitRows as unitRows } from "../runtime/rows.ts";

await initBackend("wasm");

const SMALL: Partial<FusionConfig> = { dim: 6, proj: 5, hidden: 8, experts: 3, dropout: 0.3 };
const VARIANTS: FusionVariant[] = ["full", "gate_only", "moe_only", "proj_only"];
/** Every variant with the default text weight, and the gateless ones with another. */
const CASES: { variant: FusionVariant; fixedTextWeight?: number }[] = [
  ...VARIANTS.map((variant) => ({ variant })),
  { variant: "moe_only", fixedTextWeight: 0.8 },
  { variant: "proj_only", fixedTextWeight: 0.2 },
];

/** Unit-length random rows. */
/** A small head with weights scaled up so GELU's curvature and the router matter. */
async function _head(variant: FusionVariant, seed = 1, extra: Partial<FusionConfig> = {}) {
  const base = FusionHead.create({ ...SMALL, variant, ...extra }, seed);
  const sd = await base.toStateDict();
  for (const [k, v] of Object.entries(sd)) {
    if (k !== "logit_scale") v.data.forEach((x, i, a) => a[i] = 2.5 * x);
  }
  base.loadStateDict(sd);
  return { head: base, sd };
}

function _sd64(sd: StateDict): Record<string, Ref64Tensor & { data: Float64Array }> {
  const out: Record<string, Ref64Tensor & { data: Float64Array }> = {};
  for (const [k, v] of Object.entries(sd)) {
    out[k] = { shape: v.shape, data: Float64Array.from(v.data) };
  }
  return out;
}

Deno.test("parameter count with the defaults is 11,812,614 (+5.29% of BLIP-base)", () => {
  assert.equal(parameterCount(), 11_812_614);
  assert.equal(BLIP_BASE_PARAMS, 223_453_954);
  assert.equal((100 * parameterShare()).toFixed(2), "5.29");
  const table = parameterTable();
  assert.deepEqual(table.map((r) => [r.block, r.count]), [
    ["text projection", 131_584],
    ["image projection", 131_584],
    ["gate", 2_101_249],
    ["logit scale", 1],
    ["experts", 8_396_800],
    ["router", 526_852],
    ["output layer", 524_544],
  ]);
  assert.equal(table.reduce((s, r) => s + r.count, 0), 11_812_614);
  assert.deepEqual(table[4].tensors[0], {
    name: "experts.0.0.weight",
    shape: [2048, 1024],
    count: 2_097_152,
  });
  // ablations drop whole blocks
  assert.equal(
    parameterCount({ variant: "gate_only" }),
    11_812_614 - 8_396_800 - 526_852 - 524_544,
  );
  assert.equal(parameterCount({ variant: "moe_only" }), 11_812_614 - 2_101_249);
  // proj_only: both projections, the logit scale, and an output layer 2P = 1024 → d = 256
  assert.equal(
    parameterCount({ variant: "proj_only" }),
    2 * (256 * 512 + 512) + 1 + 1024 * 256 + 256,
  );
  assert.equal(parameterCount({ variant: "proj_only" }), 525_569);
  assert.deepEqual(parameterTable({ variant: "proj_only" }).map((r) => [r.block, r.count]), [
    ["text projection", 131_584],
    ["image projection", 131_584],
    ["logit scale", 1],
    ["output layer", 262_400],
  ]);
  assert.equal(
    parameterCount({ variant: "moe_only", fixedTextWeight: 0.8 }),
    11_812_614 - 2_101_249,
  );
  assert.equal(parameterCount({ experts: 2 }), 11_812_614 - 2 * 2_099_200 - 2 * 512 - 2);
});

Deno.test("the allocated default head has exactly the counted parameters", async () => {
  const head = FusionHead.create({}, 0);
  try {
    const n = head.names().reduce((s, k) => s + head.get(k).size, 0);
    assert.equal(n, 11_812_614);
    assert.deepEqual(head.get("experts.U").shape, [1024, 8192]);
    assert.deepEqual(head.get("text.W").shape, [256, 512]);
    assert.equal(
      head.variables.length,
      head.names().length - 1,
      "frozen logit_scale is not trainable",
    );
    assertClose((await head.scale().data())[0], 1 / 0.07, 1e-4, "frozen scale");
  } finally {
    head.dispose();
  }
  const proj = FusionHead.create({ variant: "proj_only" }, 0);
  try {
    assert.deepEqual(proj.names(), [
      "text.W",
      "text.b",
      "image.W",
      "image.b",
      "output.W",
      "output.b",
      "logit_scale",
    ]);
    assert.equal(proj.names().reduce((s, k) => s + proj.get(k).size, 0), 525_569);
    assert.deepEqual(proj.get("output.W").shape, [1024, 256]);
    assert.throws(() => proj.get("gate.W1"), /'proj_only' variant has no such parameter/);
    assert.throws(() => proj.get("experts.U"), /'proj_only' variant has no such parameter/);
  } finally {
    proj.dispose();
  }
  const learn = FusionHead.create({ ...SMALL, learnableScale: true }, 0);
  assert.ok(learn.variables.includes(learn.get("logit_scale")));
  assertClose((await learn.get("logit_scale").data())[0], Math.log(50), 1e-6, "learnable init");
  learn.dispose();
});

Deno.test("initialisation is seeded and within PyTorch's Linear bounds", async () => {
  const a = await FusionHead.create(SMALL, 7).toStateDict();
  const b = await FusionHead.create(SMALL, 7).toStateDict();
  const c = await FusionHead.create(SMALL, 8).toStateDict();
  for (
    const s of stateDictSpec(
      {
        ...SMALL,
        learnableScale: false,
        logitScaleInit: 1 / 0.07,
        variant: "full",
      } as FusionConfig,
    )
  ) {
    assert.deepEqual(a[s.name].shape, s.shape);
    assert.deepEqual(Array.from(a[s.name].data), Array.from(b[s.name].data), s.name);
    if (s.fanIn) {
      const bound = 1 / Math.sqrt(s.fanIn);
      assert.ok(a[s.name].data.every((v) => Math.abs(v) <= bound), `${s.name} within ±${bound}`);
      assert.ok(
        a[s.name].data.some((v, i) => v !== c[s.name].data[i]),
        `${s.name} differs by seed`,
      );
    }
  }
});

Deno.test("float64 erf and GELU references are accurate", () => {
  assertClose(erf64(0.5), 0.5204998778130465, 1e-15, "erf(0.5)");
  assertClose(erf64(1), 0.8427007929497149, 1e-15, "erf(1)");
  assertClose(erf64(-2), -0.9953222650189527, 1e-15, "erf(-2)");
  assertClose(erf64(2.9), 0.9999589021219005, 1e-14, "erf(2.9)");
  assertClose(erf64(3.5), 0.9999992569016276, 1e-15, "erf(3.5)");
  assertClose(gelu64(1), 0.8413447460685429, 1e-15, "gelu(1)");
});

Deno.test("geluErf matches the float64 GELU and its gradient matches finite differences", async () => {
  const xs = [-4, -2.5, -1, -0.3, 0, 0.2, 0.7, 1.5, 3, 5];
  const x = tf.tensor1d(xs);
  const y = geluErf(x);
  const dy = tf.grad((v: tf.Tensor) => tf.sum(geluErf(v)))(x);
  assertClose(await y.data(), xs.map(gelu64), 2e-6, "gelu");
  const h = 1e-6;
  const fd = xs.map((v) => (gelu64(v + h) - gelu64(v - h)) / (2 * h));
  assertClose(await dy.data(), fd, 2e-6, "gelu'");
  tf.dispose([x, y, dy]);
});

for (const { variant, fixedTextWeight } of CASES) {
  const label = fixedTextWeight === undefined
    ? variant
    : `${variant}, fixedTextWeight ${fixedTextWeight}`;
  const extra: Partial<FusionConfig> = fixedTextWeight === undefined ? {} : { fixedTextWeight };
  const wFixed = fixedTextWeight ?? 0.5;
  Deno.test(`forward (${label}) matches the float64 reference to 1e-5`, async () => {
    const { head, sd } = await _head(variant, 1, extra);
    const rng = new Rng(3);
    const rows = 9, d = 6;
    const t = unitRows(rng, rows, d), g = unitRows(rng, rows, d);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() =>
      head.apply(tf.tensor2d(t, [rows, d]), tf.tensor2d(g, [rows, d]), { training: false })
    );
    const ref = referenceForward(sd, variant, t, g, rows, wFixed);
    const k = hasExperts(variant) ? 3 : 0;
    assert.deepEqual(out.q.shape, [rows, d]);
    assert.deepEqual(out.w.shape, [rows, 1]);
    assert.deepEqual(out.p.shape, [rows, k]);
    assertClose(await out.q.data(), ref.q, 1e-5, "q");
    assertClose(await out.w.data(), ref.w, 1e-5, "w");
    assertClose(await out.p.data(), ref.p, 1e-5, "p");
    if (!hasGate(variant)) assert.ok(ref.w.every((v) => v === wFixed));
    if (variant === "proj_only") {
      // the output layer matters: with it zeroed, r = 0 and q = normalize(w·t + (1−w)·g)
      const zero = (shape: number[]) => ({
        shape,
        data: new Float32Array(shape.reduce((a, x) => a * x, 1)),
      });
      const noR = referenceForward(
        { ...sd, "output_layer.weight": zero([6, 10]), "output_layer.bias": zero([6]) },
        variant,
        t,
        g,
        rows,
        wFixed,
      );
      for (let b = 0; b < rows; b++) {
        const x = Array.from(
          { length: d },
          (_, i) => wFixed * t[b * d + i] + (1 - wFixed) * g[b * d + i],
        );
        const nrm = Math.hypot(...x);
        assertClose(noR.q.subarray(b * d, (b + 1) * d), x.map((v) => v / nrm), 1e-12, "r = 0");
      }
      assert.ok(noR.q.some((v, i) => Math.abs(v - ref.q[i]) > 1e-3), "r contributes");
    }
    tf.dispose([out.q, out.w, out.p]);
    assert.equal(tf.memory().numTensors, before, "apply leaks no tensors");
    // fuse in chunks gives the same numbers and leaks nothing
    const f = await head.fuse(t, g, rows, 4);
    assertClose(f.q, ref.q, 1e-5, "fuse q");
    assertClose(f.w, ref.w, 1e-5, "fuse w");
    assertClose(f.p, ref.p, 1e-5, "fuse p");
    assert.equal(tf.memory().numTensors, before, "fuse leaks no tensors");
    // the gate alone gives the same text weight
    assertClose(await head.gate(t, g, rows, 3), ref.w, 1e-5, "gate w");
    assert.equal(tf.memory().numTensors, before, "gate leaks no tensors");
    head.dispose();
  });

  Deno.test(`gradients (${label}) of every parameter match float64 finite differences`, async () => {
    const { head, sd } = await _head(variant, 11, { learnableScale: false, ...extra });
    const rng = new Rng(5);
    const rows = 4, d = 6;
    const t = unitRows(rng, rows, d), g = unitRows(rng, rows, d);
    const wts = rng.fillNormal(new Float32Array(rows * d)) as Float32Array;
    const tt = tf.tensor2d(t, [rows, d]), gg = tf.tensor2d(g, [rows, d]);
    const wt = tf.tensor2d(wts, [rows, d]);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(head.apply(tt, gg, { training: false }).q, wt)) as tf.Scalar,
      head.variables,
    );
    // map the gradients to the state_dict layout through a second head
    const gh = FusionHead.fromStateDict(sd, head.config);
    for (const name of head.names()) {
      const gr = grads[head.get(name).name];
      if (gr) gh.get(name).assign(gr);
      else gh.get(name).assign(tf.zerosLike(gh.get(name)));
    }
    const gsd = await gh.toStateDict();
    const sd64 = _sd64(sd);
    const loss = () => {
      const q = referenceForward(sd64, variant, t, g, rows, wFixed).q;
      return q.reduce((s, v, i) => s + v * wts[i], 0);
    };
    assertClose((await value.data())[0], loss(), 1e-5, "loss");
    const h = 1e-6;
    let worst = 0;
    for (const s of stateDictSpec(head.config)) {
      if (s.name === "logit_scale") continue;
      const n = s.count, a = sd64[s.name].data;
      const picks = n <= 12 ? [...Array(n).keys()] : Array.from({ length: 12 }, () => rng.int(n));
      let scale = 0;
      for (const v of gsd[s.name].data) scale = Math.max(scale, Math.abs(v));
      for (const i of picks) {
        const keep = a[i];
        a[i] = keep + h;
        const up = loss();
        a[i] = keep - h;
        const down = loss();
        a[i] = keep;
        const fd = (up - down) / (2 * h);
        const got = gsd[s.name].data[i];
        const err = Math.abs(got - fd) / Math.max(Math.abs(fd), 1e-2 * scale, 1e-6);
        worst = Math.max(worst, err);
        assert.ok(
          Math.abs(got - fd) <= 1e-4 + 2e-3 * Math.abs(fd),
          `${label} ${s.name}[${i}]: tfjs ${got} vs finite difference ${fd}`,
        );
      }
    }
    console.log(`  ${label}: max relative gradient error ${worst.toExponential(2)}`);
    tf.dispose([tt, gg, wt, value, ...Object.values(grads)]);
    gh.dispose();
    head.dispose();
  });
}

Deno.test("dropout is off in evaluation, on and seeded in training", async () => {
  const { head, sd } = await _head("full", 2);
  const rng = new Rng(9);
  const rows = 16, d = 6;
  const t = tf.tensor2d(unitRows(rng, rows, d), [rows, d]);
  const g = tf.tensor2d(unitRows(rng, rows, d), [rows, d]);
  const q = async (opts: { training: boolean; seed?: number }) => {
    const o = head.apply(t, g, opts);
    const v = await o.q.data();
    tf.dispose([o.q, o.w, o.p]);
    return Array.from(v);
  };
  const ev = await q({ training: false });
  assert.deepEqual(await q({ training: false, seed: 4 }), ev, "eval ignores the seed");
  assertClose(ev, referenceForward(sd, "full", await t.data(), await g.data(), rows).q, 1e-5);
  const a = await q({ training: true, seed: 4 });
  assert.deepEqual(await q({ training: true, seed: 4 }), a, "same seed, same masks");
  const b = await q({ training: true, seed: 5 });
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-4), "another seed, other masks");
  assert.ok(a.some((v, i) => Math.abs(v - ev[i]) > 1e-4), "training differs from eval");
  head.dispose();
  // with dropout 0, training is evaluation
  const z = FusionHead.create({ ...SMALL, dropout: 0 }, 2);
  const o1 = z.apply(t, g, { training: true, seed: 1 }), o2 = z.apply(t, g, { training: false });
  assertClose(await o1.q.data(), await o2.q.data(), 0, "dropout 0");
  tf.dispose([o1.q, o1.w, o1.p, o2.q, o2.w, o2.p, t, g]);
  z.dispose();
});

Deno.test("dropout scales kept units by 1/(1-rate) and drops about rate of them", async () => {
  // a head whose only nonzero path is text → projection → ... is hard to isolate; test the op
  const x = tf.ones([200, 100]);
  const y = tf.dropout(x, 0.2, undefined, "7:0");
  const v = await y.data();
  const zeros = v.filter((e) => e === 0).length / v.length;
  assertClose(zeros, 0.2, 0.01, "drop share");
  assert.ok(v.every((e) => e === 0 || Math.abs(e - 1.25) < 1e-6));
  tf.dispose([x, y]);
});

Deno.test("state_dict round trip and layout: experts side by side, weights [out, in]", async () => {
  const head = FusionHead.create(SMALL, 4);
  const sd = await head.toStateDict();
  const u = await head.get("experts.U").array() as number[][];
  const e1 = sd["experts.1.0.weight"];
  assert.deepEqual(e1.shape, [8, 10]);
  for (let j = 0; j < 8; j++) {
    for (let i = 0; i < 10; i++) assert.equal(e1.data[j * 10 + i], u[i][8 + j]);
  }
  const tw = await head.get("text.W").array() as number[][];
  assert.equal(sd["text_projection_layer.weight"].data[2 * 6 + 3], tw[3][2]);
  const back = FusionHead.fromStateDict(sd, head.config);
  const sd2 = await back.toStateDict();
  for (const k of Object.keys(sd)) {
    assert.deepEqual(Array.from(sd2[k].data), Array.from(sd[k].data), k);
  }
  head.dispose();
  back.dispose();
  // proj_only: output_layer.weight is [d, 2P], the transpose of output.W [2P, d]
  const proj = FusionHead.create({ ...SMALL, variant: "proj_only", fixedTextWeight: 0.8 }, 4);
  const psd = await proj.toStateDict();
  assert.deepEqual(Object.keys(psd).sort(), [
    "image_projection_layer.bias",
    "image_projection_layer.weight",
    "logit_scale",
    "output_layer.bias",
    "output_layer.weight",
    "text_projection_layer.bias",
    "text_projection_layer.weight",
  ]);
  assert.deepEqual(psd["output_layer.weight"].shape, [6, 10]);
  const ow = await proj.get("output.W").array() as number[][];
  assert.equal(psd["output_layer.weight"].data[4 * 10 + 7], ow[7][4]);
  const pback = FusionHead.fromStateDict(psd, proj.config);
  assert.equal(pback.config.fixedTextWeight, 0.8);
  const psd2 = await pback.toStateDict();
  for (const k of Object.keys(psd)) {
    assert.deepEqual(Array.from(psd2[k].data), Array.from(psd[k].data), k);
  }
  // a full head's state_dict is not a proj_only one (output layer [d, H], extra tensors)
  assert.throws(
    () => FusionHead.fromStateDict(sd, { ...SMALL, variant: "proj_only" }),
    /tensor 'output_layer\.weight' has shape \[6,8\], expected \[6,10\].*variant=proj_only/,
  );
  proj.dispose();
  pback.dispose();
});

Deno.test("bad inputs and names give clear errors", () => {
  const head = FusionHead.create({ ...SMALL, variant: "gate_only" }, 0);
  const t = tf.zeros([2, 6]) as tf.Tensor2D, g5 = tf.zeros([2, 5]) as tf.Tensor2D;
  assert.throws(
    () => head.apply(t, g5, { training: false }),
    /image tensor g has shape \[2,5\], expected \[2, 6\]/,
  );
  assert.throws(() => head.get("experts.U"), /'gate_only' variant has no such parameter/);
  assert.throws(
    () => FusionHead.create({ variant: "x" as FusionVariant }),
    /variant 'x' is unknown/,
  );
  assert.throws(() => FusionHead.create({ dropout: 1 }), /dropout must be in \[0, 1\)/);
  tf.dispose([t, g5]);
  head.dispose();
});

Deno.test("fixedTextWeight: optional, in [0, 1], only for the variants without a gate", () => {
  // absent (or undefined) stays absent: configs serialize as before the field existed
  assert.ok(!("fixedTextWeight" in fusionConfig({ variant: "moe_only" })));
  assert.ok(
    !("fixedTextWeight" in fusionConfig({ variant: "proj_only", fixedTextWeight: undefined })),
  );
  assert.equal(
    JSON.stringify(fusionConfig()),
    JSON.stringify(fusionConfig({ fixedTextWeight: undefined })),
  );
  for (const w of [0, 0.25, 1]) {
    assert.equal(fusionConfig({ variant: "moe_only", fixedTextWeight: w }).fixedTextWeight, w);
    assert.equal(fusionConfig({ variant: "proj_only", fixedTextWeight: w }).fixedTextWeight, w);
  }
  for (const w of [-0.1, 1.5, NaN, Infinity, "0.5", null]) {
    assert.throws(
      () => fusionConfig({ variant: "moe_only", fixedTextWeight: w as number }),
      /fixedTextWeight must be a finite number in \[0, 1\].*omit it for the default 0\.5/,
      `fixedTextWeight ${w}`,
    );
  }
  for (const variant of ["full", "gate_only"] as const) {
    assert.throws(
      () => fusionConfig({ variant, fixedTextWeight: 0.5 }),
      new RegExp(
        `'${variant}' variant learns the text weight.*remove fixedTextWeight, or use variant moe_only or proj_only`,
      ),
    );
  }
  assert.throws(
    () => FusionHead.create({ variant: "x" as FusionVariant }),
    /use one of full, gate_only, moe_only, proj_only/,
  );
});
