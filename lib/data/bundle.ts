/**
 * Long because loading and writing are the two halves of one on-disk format.
 *
 * Embedding bundles: the precomputed embeddings every evaluation and training run reads.
 *
 * A bundle is a folder with `manifest.json`:
 *
 * ```json
 * { "dim": 256, "rounds": 11, "corpus": "corpus.npy",
 *   "splits": { "visdial": { "text": "visdial_text.npy", "gen": "visdial_gen.npy",
 *                            "target": "visdial_target.npy" } },
 *   "source": "…", "config": { … } }
 * ```
 *
 * plus any extra keys. The corpus is `[N, dim]`; each split's `text` and `gen` are
 * `[Q, rounds, dim]` (text embedding of the dialogue up to round r, embedding of the image
 * generated from it) and `target` is `[Q]`, 0-based corpus row indices. Array files are NumPy
 * `.npy` (float16/32/64 embeddings, int32/int64 targets) or `.safetensors` (one tensor, or a
 * tensor named like the key: `corpus`, `text`, `gen`, `target`, `images`). Split names: `train`,
 * `val`, and the benchmarks {@linkcode BENCHMARKS}; others are allowed.
 *
 * **Training image pools.** A split may name its own images, `"images": "train_images.npy"`
 * (`[P, dim]`); its `target` then indexes that pool instead of the corpus. This is how the
 * reference trains: on VisDial-train images, which are not in the search corpus. Benchmarks keep
 * indexing the corpus. A bundle whose `train`/`val` have no pool still loads, with a warning
 * that their targets are search-corpus images. {@linkcode targetPool} gives the images a split's
 * targets index, pool or corpus.
 *
 * {@linkcode loadBundle} validates everything before returning. Embeddings are expected to be
 * L2-normalised; rows that are not (within 1e-2) are reported in `warnings`, not changed.
 *
 * @module
 */
import { encodeNpy, readNpy } from "./npy.ts";
import { writeFileAtomic } from "../runtime/paths.ts";
import { readSafetensors } from "./safetensors.ts";
import { BENCHMARKS } from "./benchmarks.ts";

/** File names of one split in a manifest. */
export interface ManifestSplit {
  /** Text embeddings `[Q, rounds, dim]`. */
  text: string;
  /** Generated-image embeddings `[Q, rounds, dim]`. */
  gen: string;
  /** Target indices `[Q]`: rows of `images` when given, else of the corpus. */
  target: string;
  /** Optional image pool `[P, dim]` of this split (e.g. training images outside the corpus). */
  images?: string;
}

/** The parsed `manifest.json`; extra keys (e.g. `source`, `config`) are kept. */
export interface Manifest {
  /** Embedding dimension. */
  dim: number;
  /** Rounds per dialogue. */
  rounds: number;
  /** Corpus file, relative to the bundle folder. */
  corpus: string;
  /** Split name → files. */
  splits: Record<string, ManifestSplit>;
  /** Anything else the producer recorded. */
  [extra: string]: unknown;
}

/** One loaded split. */
export interface Split {
  /** Split name. */
  name: string;
  /** Number of dialogues Q. */
  count: number;
  /** Text embeddings, row-major `[count, rounds, dim]`. */
  text: Float32Array;
  /** Generated-image embeddings, row-major `[count, rounds, dim]`. */
  gen: Float32Array;
  /** Target row per dialogue: into {@linkcode Split.images} when present, else the corpus. */
  target: Int32Array;
  /** This split's own image pool, row-major `[imageCount, dim]`, when the manifest names one. */
  images?: Float32Array;
  /** Rows of {@linkcode Split.images} (absent when the split has no pool). */
  imageCount?: number;
}

/** A loaded, validated bundle. */
export interface Bundle {
  /** The folder it was loaded from. */
  dir: string;
  /** Embedding dimension d. */
  dim: number;
  /** Rounds per dialogue. */
  rounds: number;
  /** Corpus rows N. */
  corpusSize: number;
  /** Corpus embeddings, row-major `[corpusSize, dim]`. */
  corpus: Float32Array;
  /** The loaded splits by name. */
  splits: Record<string, Split>;
  /** The manifest as read. */
  manifest: Manifest;
  /** Non-fatal findings, e.g. embeddings that are not unit length. */
  warnings: string[];
}

/** Options of {@linkcode loadBundle}. */
export interface BundleLoadOptions {
  /** Load only these splits (default: all in the manifest). */
  splits?: string[];
  /** Tolerance of the unit-length check (default 1e-2). */
  normTolerance?: number;
}

interface _Arr {
  kind: "float" | "int" | "other";
  dtype: string;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

function _join(dir: string, file: string): string {
  return file.startsWith("/") ? file : `${dir.replace(/\/$/, "")}/${file}`;
}

async function _readArray(path: string, key: string): Promise<_Arr> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${path}: missing (the manifest names it as '${key}'); restore the file or fix ` +
          "manifest.json",
      );
    }
    throw e;
  }
  if (path.endsWith(".safetensors")) {
    const all = readSafetensors(bytes, path);
    const names = Object.keys(all);
    const name = names.length === 1 ? names[0] : names.includes(key) ? key : undefined;
    if (name === undefined) {
      throw new Error(
        `${path}: holds tensors [${names.join(", ")}], none named '${key}'; store one tensor ` +
          `per file or name it '${key}'`,
      );
    }
    const t = all[name];
    const kind = t.dtype.startsWith("F") || t.dtype === "BF16" ? "float" : "int";
    return { kind, dtype: t.dtype, shape: t.shape, data: t.data };
  }
  if (!path.endsWith(".npy")) {
    throw new Error(`${path}: unknown array format; use .npy (numpy.save) or .safetensors`);
  }
  const a = readNpy(bytes, path);
  const kind = a.dtype.startsWith("float") ? "float" : a.dtype === "bool" ? "other" : "int";
  return { kind, dtype: a.dtype, shape: a.shape, data: a.data };
}

function _float(a: _Arr, path: string, want: string): Float32Array {
  if (a.kind !== "float") {
    throw new Error(
      `${path}: embeddings must be floating point, got ${a.dtype}; save with ` +
        "numpy.save(path, x.astype('<f4'))",
    );
  }
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(
        `${path}: value ${data[i]} at index ${_multi(i, a.shape).join(", ")} of ${want}; ` +
          "embeddings must be finite, fix the export (e.g. a division by a zero norm)",
      );
    }
  }
  return data;
}

function _multi(flat: number, shape: number[]): number[] {
  const out = new Array(shape.length).fill(0);
  for (let k = shape.length - 1; k >= 0; k--) {
    out[k] = flat % shape[k];
    flat = Math.floor(flat / shape[k]);
  }
  return out;
}

function _shape(a: _Arr, path: string, want: (number | string)[], what: string): void {
  const ok = a.shape.length === want.length &&
    want.every((w, i) => typeof w === "string" || a.shape[i] === w);
  if (!ok) {
    throw new Error(
      `${path}: shape [${a.shape}] but ${what} must be [${want.join(", ")}]; re-export it ` +
        "with that shape or fix dim/rounds in manifest.json",
    );
  }
}

function _normCheck(
  data: Float32Array,
  dim: number,
  path: string,
  tol: number,
  warnings: string[],
): void {
  const rows = data.length / dim;
  let bad = 0, first = -1, firstNorm = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = r * dim, e = k + dim; k < e; k++) s += data[k] * data[k];
    const n = Math.sqrt(s);
    if (Math.abs(n - 1) > tol) {
      if (bad++ === 0) {
        first = r;
        firstNorm = n;
      }
    }
  }
  if (bad) {
    warnings.push(
      `${path}: ${bad} of ${rows} rows are not unit length (first: row ${first}, norm ` +
        `${firstNorm.toFixed(4)}); cosine scores assume L2-normalised embeddings, they were ` +
        "left as they are",
    );
  }
}

function _checkManifest(m: unknown, path: string): Manifest {
  const fail = (what: string): never => {
    throw new Error(
      `${path}: ${what}; a manifest is {"dim": 256, "rounds": 11, "corpus": "corpus.npy", ` +
        `"splits": {"<name>": {"text": "…", "gen": "…", "target": "…"}}} (see lib/data/bundle.ts)`,
    );
  };
  if (typeof m !== "object" || m === null || Array.isArray(m)) fail("not a JSON object");
  const o = m as Record<string, unknown>;
  for (const k of ["dim", "rounds"]) {
    if (!Number.isInteger(o[k]) || (o[k] as number) <= 0) {
      fail(`'${k}' must be a positive integer, got ${JSON.stringify(o[k])}`);
    }
  }
  if (typeof o.corpus !== "string") fail("'corpus' must be a file name");
  if (typeof o.splits !== "object" || o.splits === null || Array.isArray(o.splits)) {
    fail("'splits' must be an object of split name → files");
  }
  for (const [name, s] of Object.entries(o.splits as Record<string, unknown>)) {
    for (const k of ["text", "gen", "target"]) {
      if (typeof (s as Record<string, unknown>)?.[k] !== "string") {
        fail(`split '${name}' lacks the file name '${k}'`);
      }
    }
    const im = (s as Record<string, unknown>).images;
    if (im !== undefined && typeof im !== "string") {
      fail(`split '${name}' has 'images' that is not a file name (${JSON.stringify(im)})`);
    }
  }
  return o as Manifest;
}

/**
 * Loads and fully validates a bundle: manifest, files, ranks and shapes, dtypes (float
 * embeddings, integer targets), finite values, targets inside the corpus, counts that agree
 * within each split. Every error names the file, what is wrong and the fix.
 *
 * @param dir the bundle folder.
 * @param opts which splits to load.
 */
export async function loadBundle(dir: string, opts: BundleLoadOptions = {}): Promise<Bundle> {
  const mpath = _join(dir, "manifest.json");
  let text: string;
  try {
    text = await Deno.readTextFile(mpath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${mpath}: missing; --data must be a bundle folder with manifest.json (write one with ` +
          "writeBundle from lib/data/bundle.ts, or generate the synthetic bundle)",
      );
    }
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${mpath}: not valid JSON (${(e as Error).message}); fix or rewrite it`);
  }
  const manifest = _checkManifest(parsed, mpath);
  const { dim, rounds } = manifest;
  const tol = opts.normTolerance ?? 1e-2;
  const names = opts.splits ?? Object.keys(manifest.splits);
  for (const n of names) {
    if (!(n in manifest.splits)) {
      throw new Error(
        `${mpath}: no split '${n}' (it has: ${Object.keys(manifest.splits).join(", ")}); ` +
          "pick one of those or regenerate the bundle",
      );
    }
  }
  const warnings: string[] = [];
  const cpath = _join(dir, manifest.corpus);
  const ca = await _readArray(cpath, "corpus");
  _shape(ca, cpath, ["N", dim], "the corpus");
  const corpus = _float(ca, cpath, "the corpus");
  const corpusSize = ca.shape[0];
  if (corpusSize === 0) throw new Error(`${cpath}: the corpus is empty; export the images`);
  _normCheck(corpus, dim, cpath, tol, warnings);
  const splits: Record<string, Split> = {};
  for (const name of names) {
    const files = manifest.splits[name];
    const tp = _join(dir, files.text), gp = _join(dir, files.gen), yp = _join(dir, files.target);
    const ta = await _readArray(tp, "text");
    _shape(ta, tp, ["Q", rounds, dim], `split '${name}' text`);
    const ga = await _readArray(gp, "gen");
    _shape(ga, gp, ["Q", rounds, dim], `split '${name}' gen`);
    const ya = await _readArray(yp, "target");
    _shape(ya, yp, ["Q"], `split '${name}' target`);
    const count = ta.shape[0];
    if (ga.shape[0] !== count || ya.shape[0] !== count) {
      throw new Error(
        `split '${name}': counts disagree: ${tp} has ${count} dialogues, ${gp} has ` +
          `${ga.shape[0]}, ${yp} has ${ya.shape[0]}; all three must hold the same dialogues`,
      );
    }
    if (ya.kind !== "int") {
      throw new Error(
        `${yp}: targets must be integers, got ${ya.dtype}; save with ` +
          "numpy.save(path, y.astype('<i8'))",
      );
    }
    const target = ya.data instanceof Int32Array ? ya.data : Int32Array.from(ya.data);
    let images: Float32Array | undefined, imageCount: number | undefined;
    if (files.images !== undefined) {
      const ip = _join(dir, files.images);
      const ia = await _readArray(ip, "images");
      _shape(ia, ip, ["P", dim], `split '${name}' images (its image pool)`);
      imageCount = ia.shape[0];
      if (imageCount === 0) {
        throw new Error(
          `${ip}: split '${name}' names an empty image pool; export its images or drop ` +
            `'images' from the split in manifest.json`,
        );
      }
      images = _float(ia, ip, `split '${name}' images`);
      _normCheck(images, dim, ip, tol, warnings);
      for (let i = 0; i < count; i++) {
        if (target[i] < 0 || target[i] >= imageCount) {
          throw new Error(
            `${yp}: target ${i} is ${target[i]}, outside the image pool [0, ${imageCount}) of ` +
              `${ip}; split '${name}' names its own images, so its targets are 0-based rows ` +
              "of that pool (fix the targets or the pool)",
          );
        }
      }
    } else {
      for (let i = 0; i < count; i++) {
        if (target[i] < 0 || target[i] >= corpusSize) {
          throw new Error(
            `${yp}: target ${i} is ${target[i]}, outside the corpus [0, ${corpusSize}) of ` +
              `${cpath}; targets are 0-based corpus row indices`,
          );
        }
      }
      if (name === "train" || name === "val") {
        warnings.push(
          `split '${name}': no image pool, so its training targets are search-corpus images ` +
            `(the benchmarks search them too); add "images": "${name}_images.npy" ` +
            "([P, dim], images outside the corpus) to the split in manifest.json",
        );
      }
    }
    const t = _float(ta, tp, `split '${name}' text`);
    const g = _float(ga, gp, `split '${name}' gen`);
    _normCheck(t, dim, tp, tol, warnings);
    _normCheck(g, dim, gp, tol, warnings);
    splits[name] = images
      ? { name, count, text: t, gen: g, target, images, imageCount }
      : { name, count, text: t, gen: g, target };
  }
  return { dir, dim, rounds, corpusSize, corpus, splits, manifest, warnings };
}

/** The images a split's targets index: its own pool, or the search corpus. */
export interface TargetPool {
  /** Row-major `[size, dim]`. */
  images: Float32Array;
  /** Rows. */
  size: number;
  /** Whether these are the search corpus (the split has no pool of its own). */
  fromCorpus: boolean;
}

/**
 * The images that split `s`'s targets index: {@linkcode Split.images} when the split has a pool,
 * else the bundle's corpus.
 *
 * @param b the bundle (its corpus is the fallback).
 * @param s the split.
 */
export function targetPool(
  b: Pick<Bundle, "corpus" | "corpusSize">,
  s: Pick<Split, "images" | "imageCount">,
): TargetPool {
  if (s.images !== undefined) {
    return { images: s.images, size: s.imageCount ?? 0, fromCorpus: false };
  }
  return { images: b.corpus, size: b.corpusSize, fromCorpus: true };
}

/** Whether a loaded bundle (or manifest) has the split `name`. */
export function hasSplit(b: Bundle | Manifest, name: string): boolean {
  return name in b.splits;
}

/** The benchmark splits ({@linkcode BENCHMARKS}) a bundle or manifest has, in order. */
export function benchmarkSplits(b: Bundle | Manifest): string[] {
  return BENCHMARKS.filter((n) => n in b.splits);
}

/** What {@linkcode writeBundle} writes. */
export interface BundleInput {
  /** Embedding dimension. */
  dim: number;
  /** Rounds per dialogue. */
  rounds: number;
  /** Corpus `[N, dim]`, row-major. */
  corpus: Float32Array;
  /**
   * Split name → `text`/`gen` `[Q, rounds, dim]` and `target` `[Q]`; optional `images`
   * `[P, dim]`, the split's own image pool, which its targets then index.
   */
  splits: Record<
    string,
    { text: Float32Array; gen: Float32Array; target: Int32Array; images?: Float32Array }
  >;
  /** Extra manifest keys (JSON-able), e.g. `source`, `config`. */
  extra?: Record<string, unknown>;
  /**
   * Splits whose `text` and `gen` are stored as float16 (half the bytes; read back as float32,
   * rounded to about 3 significant digits): for large training splits. Default: none.
   */
  half?: readonly string[];
}

/**
 * Writes a bundle: fp32 `.npy` files (`corpus.npy`, `<split>_text.npy`, `<split>_gen.npy`,
 * int32 `<split>_target.npy`, and `<split>_images.npy` for a split with a pool; fp16 text and
 * gen for the splits in `half`), each atomically, and `manifest.json` last, so that a reader
 * never sees a manifest naming files not yet written.
 *
 * @param dir the folder (created if needed).
 * @param b the arrays; checked before anything is written.
 */
export async function writeBundle(dir: string, b: BundleInput): Promise<void> {
  const { dim, rounds, corpus } = b;
  const where = `writeBundle(${dir})`;
  if (!Number.isInteger(dim) || dim <= 0 || !Number.isInteger(rounds) || rounds <= 0) {
    throw new Error(`${where}: dim and rounds must be positive integers, got ${dim}, ${rounds}`);
  }
  if (corpus.length === 0 || corpus.length % dim !== 0) {
    throw new Error(`${where}: corpus length ${corpus.length} is not [N, ${dim}]`);
  }
  const n = corpus.length / dim;
  for (const [name, s] of Object.entries(b.splits)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new Error(`${where}: split name '${name}' must be letters, digits, _ . - only`);
    }
    const q = s.target.length;
    for (const k of ["text", "gen"] as const) {
      if (s[k].length !== q * rounds * dim) {
        throw new Error(
          `${where}: split '${name}' ${k} has ${s[k].length} values, expected ` +
            `${q} targets × ${rounds} rounds × ${dim}`,
        );
      }
    }
    let size = n, of = "the corpus";
    if (s.images !== undefined) {
      if (s.images.length === 0 || s.images.length % dim !== 0) {
        throw new Error(
          `${where}: split '${name}' images has ${s.images.length} values, not [P, ${dim}]`,
        );
      }
      size = s.images.length / dim;
      of = "its image pool";
    }
    for (let i = 0; i < q; i++) {
      if (!(s.target[i] >= 0 && s.target[i] < size)) {
        throw new Error(
          `${where}: split '${name}' target ${i} is ${s.target[i]}, not in [0, ${size}) of ${of}`,
        );
      }
    }
  }
  for (const name of b.half ?? []) {
    if (!b.splits[name]) {
      throw new Error(`${where}: half names split '${name}', which is not given`);
    }
  }
  for (const k of Object.keys(b.extra ?? {})) {
    if (["dim", "rounds", "corpus", "splits"].includes(k)) {
      throw new Error(`${where}: extra key '${k}' would overwrite the manifest's own field`);
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  const put = (file: string, shape: number[], data: Float32Array | Int32Array, half = false) =>
    writeFileAtomic(
      _join(dir, file),
      encodeNpy(
        half
          ? { dtype: "float16", shape, data: Float16Array.from(data as Float32Array) }
          : { dtype: data instanceof Float32Array ? "float32" : "int32", shape, data },
      ),
    );
  await put("corpus.npy", [n, dim], corpus);
  const splits: Record<string, ManifestSplit> = {};
  for (const [name, s] of Object.entries(b.splits)) {
    const q = s.target.length;
    const files: ManifestSplit = {
      text: `${name}_text.npy`,
      gen: `${name}_gen.npy`,
      target: `${name}_target.npy`,
    };
    const half = (b.half ?? []).includes(name);
    await put(files.text, [q, rounds, dim], s.text, half);
    await put(files.gen, [q, rounds, dim], s.gen, half);
    await put(files.target, [q], s.target);
    if (s.images !== undefined) {
      files.images = `${name}_images.npy`;
      await put(files.images, [s.images.length / dim, dim], s.images);
    }
    splits[name] = files;
  }
  const manifest = { dim, rounds, corpus: "corpus.npy", splits, ...(b.extra ?? {}) };
  await writeFileAtomic(_join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}
