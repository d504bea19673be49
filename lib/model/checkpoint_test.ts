import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { referenceForward } from "../testing/reference64.ts";
import {
  checkpointConfigPath,
  decodeCheckpoint,
  inferConfig,
  loadCheckpoint,
  loadStateDict,
  saveCheckpoint,
  stateDict,
} from "./checkpoint.ts";
import { FusionHead, type StateDict } from "./fusion_head.ts";
import { encodeSafetensors, readSafetensorsMetadata } from "../data/safetensors.ts";

await initBackend("wasm");

const SMALL = { dim: 6, proj: 5, hidden: 8, experts: 3 };

/** The tiny reference head of the hand-built file: d=2, P=2, H=4, K=2, router hidden 1. */
const TINY: [string, number[]][] = [
  ["text_projection_layer.weight", [2, 2]],
  ["text_projection_layer.bias", [2]],
  ["image_projection_layer.weight", [2, 2]],
  ["image_projection_layer.bias", [2]],
  ["dynamic_scalar.0.weight", [4, 4]],
  ["dynamic_scalar.0.bias", [4]],
  ["dynamic_scalar.3.weight", [1, 4]],
  ["dynamic_scalar.3.bias", [1]],
  ["logit_scale", []],
  ["experts.0.0.weight", [4, 4]],
  ["experts.0.0.bias", [4]],
  ["experts.1.0.weight", [4, 4]],
  ["experts.1.0.bias", [4]],
  ["moe_router.0.weight", [1, 4]],
  ["moe_router.0.bias", [1]],
  ["moe_router.2.weight", [2, 1]],
  ["moe_router.2.bias", [2]],
  ["output_layer.weight", [2, 4]],
  ["output_layer.bias", [2]],
];

/** Multiples of 1/16 in [-0.875, 0.875]: exact in fp32, fp16 and bf16. */
function _value(i: number): number {
  return (((i * 37) % 29) - 14) / 16;
}

/** fp16 bits of a normal number or zero (enough for the exact values above). */
function _f16(v: number): number {
  if (v === 0) return 0;
  const s = v < 0 ? 0x8000 : 0, a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  return s | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/**
 * A safetensors file written byte by byte the way PyTorch's `save_file` would (header JSON,
 * little-endian values), with `shapes` overriding a tensor's shape (and size) when given.
 */
function _handFile(dtype: "F32" | "F16" | "BF16", shapes: Record<string, number[]> = {}) {
  const size = dtype === "F32" ? 4 : 2;
  const values: Record<string, { shape: number[]; data: number[] }> = {};
  let counter = 0, offset = 0;
  const parts: string[] = [];
  for (const [name, shape0] of TINY) {
    const shape = shapes[name] ?? shape0;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: n }, () => _value(counter++));
    values[name] = { shape, data };
    parts.push(
      `"${name}":{"dtype":"${dtype}","shape":[${shape.join(",")}],` +
        `"data_offsets":[${offset},${offset + n * size}]}`,
    );
    offset += n * size;
  }
  const header = new TextEncoder().encode(`{${parts.join(",")}}`);
  const bytes = new Uint8Array(8 + header.length + offset);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, header.length, true);
  bytes.set(header, 8);
  let p = 8 + header.length;
  const f32 = new DataView(new ArrayBuffer(4));
  for (const [name] of TINY) {
    for (const v of values[name].data) {
      if (dtype === "F32") dv.setFloat32(p, v, true);
      else if (dtype === "F16") dv.setUint16(p, _f16(v), true);
      else {
        f32.setFloat32(0, v);
        dv.setUint16(p, f32.getUint16(0), true); // bf16 = the high half of the fp32 bits
      }
      p += size;
    }
  }
  return { bytes, values };
}

const T_IN = [0.6, -0.8, 0.28, 0.96, -1, 0];
const G_IN = [0.8, 0.6, -0.6, 0.8, 0, 1];

async function _tmpDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "adafuse_ckpt_" });
}

Deno.test("save → load round trip is identical (weights, config, fused queries)", async () => {
  const dir = await _tmpDir();
  const path = `${dir}/head.safetensors`;
  const head = FusionHead.create({ ...SMALL, dropout: 0.1, learnableScale: true }, 3);
  await saveCheckpoint(head, path, { epoch: "7" });
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["head.config.json", "head.safetensors"], "no temporary files left");
  const cfg = JSON.parse(await Deno.readTextFile(checkpointConfigPath(path)));
  assert.equal(cfg.hidden, 8);
  assert.equal(cfg.meta.epoch, "7");
  const meta = readSafetensorsMetadata(await Deno.readFile(path));
  assert.equal(meta.epoch, "7");
  assert.equal(meta.format, "pt");
  const back = await loadCheckpoint(path);
  assert.deepEqual(back.config, head.config);
  const a = await stateDict(head), b = await stateDict(back);
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const k of Object.keys(a)) {
    assert.deepEqual(b[k].shape, a[k].shape, k);
    assert.deepEqual(Array.from(b[k].data), Array.from(a[k].data), k);
  }
  assert.deepEqual(a["logit_scale"].shape, []);
  assert.ok(back.variables.includes(back.get("logit_scale")), "learnable scale stays learnable");
  const t = new Float32Array(12).map((_, i) => Math.sin(i)), g = t.map((v) => v * v - 0.3);
  const qa = await head.fuse(t, g, 2), qb = await back.fuse(t, g, 2);
  assert.deepEqual(Array.from(qb.q), Array.from(qa.q));
  // stateDict / loadStateDict into another head of the same config
  const other = FusionHead.create(head.config, 99);
  loadStateDict(other, a);
  assert.deepEqual(
    Array.from((await stateDict(other))["experts.2.0.weight"].data),
    Array.from(a["experts.2.0.weight"].data),
  );
  // saving again over the same path replaces it atomically
  await saveCheckpoint(other, path);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), names);
  tf.dispose([]);
  head.dispose();
  back.dispose();
  other.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a safetensors file built byte by byte in PyTorch layout fuses as the float64 reference", async () => {
  const { bytes, values } = _handFile("F32");
  const dir = await _tmpDir();
  const path = `${dir}/torch_head.safetensors`;
  await Deno.writeFile(path, bytes);
  const head = await loadCheckpoint(path); // no config file, no metadata: sizes from shapes
  assert.equal(head.config.dim, 2);
  assert.equal(head.config.proj, 2);
  assert.equal(head.config.hidden, 4);
  assert.equal(head.config.experts, 2);
  assert.equal(head.config.variant, "full");
  // the layout conversion: PyTorch [out, in] → internal [in, out]
  const w = await head.get("text.W").array() as number[][];
  const tw = values["text_projection_layer.weight"].data;
  assert.deepEqual(w, [[tw[0], tw[2]], [tw[1], tw[3]]]);
  const ref = referenceForward(values, "full", T_IN, G_IN, 3);
  const got = await head.fuse(Float32Array.from(T_IN), Float32Array.from(G_IN), 3);
  assertClose(got.q, ref.q, 1e-6, "q");
  assertClose(got.w, ref.w, 1e-6, "w");
  assertClose(got.p, ref.p, 1e-6, "p");
  assert.ok(ref.w.some((v) => Math.abs(v - 0.5) > 0.01), "the gate does something");
  head.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fp16 and bf16 checkpoints load to the same head", async () => {
  const f32 = decodeCheckpoint(_handFile("F32").bytes, "f32");
  const q32 = await f32.fuse(Float32Array.from(T_IN), Float32Array.from(G_IN), 3);
  for (const dtype of ["F16", "BF16"] as const) {
    const { bytes, values } = _handFile(dtype);
    const head = decodeCheckpoint(bytes, dtype);
    const sd = await stateDict(head);
    for (const [k, v] of Object.entries(values)) {
      assertClose(sd[k].data, v.data, 0, `${dtype} ${k}`);
    }
    const q = await head.fuse(Float32Array.from(T_IN), Float32Array.from(G_IN), 3);
    assertClose(q.q, q32.q, 0, `${dtype} q`);
    head.dispose();
  }
  f32.dispose();
});

Deno.test("truncated files and mismatched shapes give errors naming the tensor and shapes", async () => {
  const { bytes } = _handFile("F32");
  assert.throws(
    () => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), "cut.safetensors"),
    /cut\.safetensors: tensor 'output_layer\.bias': data_offsets \[\d+, \d+\] run past the end/,
  );
  assert.throws(
    () => decodeCheckpoint(bytes.subarray(0, 4), "tiny.safetensors"),
    /tiny\.safetensors: truncated/,
  );
  // router hidden 2 instead of hidden/4 = 1: sizes are inferred, this one disagrees
  const bad = _handFile("F32", { "moe_router.0.weight": [2, 4] }).bytes;
  assert.throws(
    () => decodeCheckpoint(bad, "bad.safetensors"),
    /bad\.safetensors: tensor 'moe_router\.0\.weight' has shape \[2,4\], expected \[1,4\]/,
  );
  // an explicit config that disagrees with the file
  assert.throws(
    () => decodeCheckpoint(bytes, "x.safetensors", { config: { hidden: 8 } }),
    /x\.safetensors: tensor 'dynamic_scalar\.0\.weight' has shape \[4,4\], expected \[8,4\]/,
  );
  // missing and unexpected tensors
  const head = decodeCheckpoint(bytes, "ok");
  const sd: StateDict = await stateDict(head);
  const noBias = { ...sd };
  delete noBias["output_layer.bias"];
  assert.throws(
    () => FusionHead.fromStateDict(noBias, head.config, { file: "m.safetensors" }),
    /m\.safetensors: missing tensor\(s\) 'output_layer\.bias'/,
  );
  const extra = { ...sd, "extra.weight": { shape: [1], data: new Float32Array(1) } };
  assert.throws(
    () => FusionHead.fromStateDict(extra, head.config, { file: "u.safetensors" }),
    /u\.safetensors: unexpected tensor\(s\) 'extra\.weight'/,
  );
  FusionHead.fromStateDict(extra, head.config, { strict: false }).dispose();
  const ints = encodeSafetensors({
    "text_projection_layer.weight": { dtype: "I32", shape: [1], data: new Int32Array(1) },
  });
  assert.throws(
    () => decodeCheckpoint(ints, "i.safetensors"),
    /tensor 'text_projection_layer\.weight' has integer dtype I32/,
  );
  await assert.rejects(
    () => loadCheckpoint("/nonexistent/h.safetensors"),
    /cannot read checkpoint \/nonexistent\/h\.safetensors/,
  );
  head.dispose();
});

Deno.test("variant and sizes come from the config file, the metadata or the shapes", async () => {
  const dir = await _tmpDir();
  const path = `${dir}/gate.safetensors`;
  const gate = FusionHead.create({ ...SMALL, variant: "gate_only", dropout: 0.05 }, 1);
  await saveCheckpoint(gate, path);
  assert.equal((await loadCheckpoint(path)).config.dropout, 0.05, "from the config file");
  await Deno.remove(checkpointConfigPath(path));
  const fromMeta = await loadCheckpoint(path, { config: { dropout: 0.3 } });
  assert.equal(fromMeta.config.variant, "gate_only");
  assert.equal(fromMeta.config.dropout, 0.3, "options override");
  const sd = await stateDict(gate);
  assert.deepEqual(inferConfig(sd), {
    dim: 6,
    proj: 5,
    hidden: 8,
    variant: "gate_only",
    logitScaleInit: Math.exp(sd["logit_scale"].data[0]),
  });
  const moe = FusionHead.create({ ...SMALL, variant: "moe_only" }, 1);
  const msd = await stateDict(moe);
  const bare = encodeSafetensors(Object.fromEntries(
    Object.entries(msd).map((
      [k, v],
    ) => [k, { dtype: "F32" as const, shape: v.shape, data: v.data }]),
  ));
  const m2 = decodeCheckpoint(bare, "bare");
  assert.equal(m2.config.variant, "moe_only");
  assert.equal(m2.config.experts, 3);
  await Deno.writeTextFile(checkpointConfigPath(path), "{not json");
  await assert.rejects(() => loadCheckpoint(path), /gate\.config\.json: not valid JSON/);
  for (const h of [gate, fromMeta, moe, m2]) h.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("proj_only and fixedTextWeight: round trip through the config file and the metadata; proj_only from shapes", async () => {
  const dir = await _tmpDir();
  const t = new Float32Array(18).map((_, i) => Math.sin(i)), g = t.map((v) => v * v - 0.3);
  const bare = (sd: StateDict) =>
    encodeSafetensors(Object.fromEntries(
      Object.entries(sd).map((
        [k, v],
      ) => [k, { dtype: "F32" as const, shape: v.shape, data: v.data }]),
    ));
  // a moe_only head with w = 0.8 loads back with 0.8, from the config file and from the metadata
  const mpath = `${dir}/moe.safetensors`;
  const moe = FusionHead.create({ ...SMALL, variant: "moe_only", fixedTextWeight: 0.8 }, 2);
  await saveCheckpoint(moe, mpath);
  const cfg = JSON.parse(await Deno.readTextFile(checkpointConfigPath(mpath)));
  assert.equal(cfg.fixedTextWeight, 0.8);
  const m1 = await loadCheckpoint(mpath);
  assert.deepEqual(m1.config, moe.config);
  assert.equal(m1.config.fixedTextWeight, 0.8);
  await Deno.remove(checkpointConfigPath(mpath));
  const m2 = await loadCheckpoint(mpath);
  assert.equal(m2.config.fixedTextWeight, 0.8, "from the metadata");
  const fm = await m2.fuse(t, g, 3);
  assert.deepEqual(Array.from(fm.w), [0.8, 0.8, 0.8].map(Math.fround));
  assert.deepEqual(Array.from(fm.q), Array.from((await moe.fuse(t, g, 3)).q));
  // a head without fixedTextWeight saves no such key (its config file is as before)
  const plain = FusionHead.create({ ...SMALL, variant: "moe_only" }, 2);
  await saveCheckpoint(plain, `${dir}/plain.safetensors`);
  const pcfg = JSON.parse(await Deno.readTextFile(`${dir}/plain.config.json`));
  assert.ok(!("fixedTextWeight" in pcfg));
  assert.ok(!("fixedTextWeight" in (await loadCheckpoint(`${dir}/plain.safetensors`)).config));
  // proj_only: save → load is identical (weights, config, fused queries)
  const ppath = `${dir}/proj.safetensors`;
  const proj = FusionHead.create({ ...SMALL, variant: "proj_only", fixedTextWeight: 0.3 }, 5);
  await saveCheckpoint(proj, ppath);
  const p1 = await loadCheckpoint(ppath);
  assert.deepEqual(p1.config, proj.config);
  const a = await stateDict(proj), b = await stateDict(p1);
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  assert.deepEqual(a["output_layer.weight"].shape, [6, 10]);
  for (const k of Object.keys(a)) assert.deepEqual(Array.from(b[k].data), Array.from(a[k].data), k);
  const fa = await proj.fuse(t, g, 3), fb = await p1.fuse(t, g, 3);
  assert.deepEqual(Array.from(fb.q), Array.from(fa.q));
  assert.equal(fb.p.length, 0);
  const ref = referenceForward(a, "proj_only", t, g, 3, 0.3);
  assertClose(fb.q, ref.q, 1e-5, "proj_only q vs float64 reference");
  // from the shapes alone: proj_only (hidden and experts unused, so not inferred); w is 0.5
  assert.deepEqual(inferConfig(a), {
    dim: 6,
    proj: 5,
    variant: "proj_only",
    logitScaleInit: Math.exp(a["logit_scale"].data[0]),
  });
  const p2 = decodeCheckpoint(bare(a), "bare");
  assert.equal(p2.config.variant, "proj_only");
  assert.ok(!("fixedTextWeight" in p2.config));
  assert.deepEqual(Array.from((await p2.fuse(t, g, 3)).w), [0.5, 0.5, 0.5]);
  const p3 = decodeCheckpoint(bare(a), "bare", { config: { fixedTextWeight: 0.3 } });
  assert.deepEqual(Array.from((await p3.fuse(t, g, 3)).q), Array.from(fa.q));
  // without gate, experts and a [d, 2P] output layer the variant cannot be inferred
  const { "output_layer.weight": _w, "output_layer.bias": _b, ...noOut } = a;
  assert.throws(
    () => decodeCheckpoint(bare(noOut), "none.safetensors"),
    /none\.safetensors: none of 'dynamic_scalar\.0\.weight' \(gate\), 'experts\.0\.0\.weight' \(experts\) and 'output_layer\.weight' \(proj_only\)/,
  );
  const msd = await stateDict(moe);
  const noExperts = Object.fromEntries(
    Object.entries(msd).filter(([k]) => !k.startsWith("experts.") && !k.startsWith("moe_router")),
  );
  assert.throws(
    () => decodeCheckpoint(bare(noExperts), "lost.safetensors"),
    /lost\.safetensors: 'output_layer\.weight' has shape \[6,8\] but there is neither a gate nor experts: a proj_only head's output layer is \[d, 2P\] = \[6,10\]/,
  );
  // a proj_only file read as another variant: the shapes say so
  assert.throws(
    () => decodeCheckpoint(bare(a), "p.safetensors", { config: { variant: "moe_only" } }),
    /p\.safetensors: tensor 'output_layer\.weight' has shape \[6,10\], expected \[6,2048\].*variant=moe_only/,
  );
  for (const h of [moe, m1, m2, plain, proj, p1, p2, p3]) h.dispose();
  await Deno.remove(dir, { recursive: true });
});
