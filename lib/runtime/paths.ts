/**
 * Where things live in the repository, resolved from this file so that notebooks (run from
 * `notebooks/`), tasks (run from the root) and tests agree.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
/**
 * Absolute path of `figures/`, where every figure is written (`ADAFUSE_FIGURES_DIR` moves it,
 * e.g. for tests).
 */
export const FIGURES_DIR: string = Deno.env.get("ADAFUSE_FIGURES_DIR") ?? `${ROOT}/figures`;
/** Absolute path of `data/`, holding the paper's reference numbers. */
export const DATA_DIR: string = `${ROOT}/data`;
/**
 * Where generated data, training runs and evaluation results are cached: `data/` unless
 * `ADAFUSE_CACHE_DIR` says otherwise (caches go to its `cache/` and `runs/` subfolders).
 */
export const CACHE_DIR: string = Deno.env.get("ADAFUSE_CACHE_DIR") ?? DATA_DIR;
/** Absolute path of `notebooks/`. */
export const NOTEBOOKS_DIR: string = `${ROOT}/notebooks`;

/**
 * The parsed JSON of `path`, or `undefined` when the file does not exist. A file that exists
 * but does not parse is an error naming it and the fix (it is a cache or state file: delete it).
 */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${path}: unreadable JSON file (${(e as Error).message}); delete it`);
  }
}

/**
 * Writes `bytes` (or text) to `path` atomically: a temporary file in the same folder, then a
 * rename, so that readers never see a half-written file.
 */
export async function writeFileAtomic(path: string, content: Uint8Array | string): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof content === "string") await Deno.writeTextFile(tmp, content);
    else await Deno.writeFile(tmp, content);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Formats a Markdown file of the repository in place with `deno fmt` (the project's settings:
 * deno.json), so that generated blocks pass `deno fmt --check`. Throws with the formatter's
 * message when it fails.
 */
export async function formatMarkdown(path: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno fmt ${path} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * `text` with the part between `markers` replaced by `body` (the markers kept); an error naming
 * `file` when they are absent.
 */
export function replaceMarked(
  text: string,
  body: string,
  file: string,
  markers: readonly [string, string],
): string {
  const [a, b] = markers;
  const i = text.indexOf(a), j = text.indexOf(b);
  if (i < 0 || j < i) throw new Error(`${file}: no '${a}' … '${b}' block to write into`);
  return text.slice(0, i + a.length) + "\n" + body + "\n" + text.slice(j);
}

/**
 * Rewrites the block between `markers` of the Markdown file `path` with `body` (atomically), keeps
 * the rest, then formats the file ({@linkcode formatMarkdown}): how generated numbers get into the
 * README and docs without being copied by hand.
 */
export async function writeMarkedBlock(
  path: string,
  markers: readonly [string, string],
  body: string,
): Promise<void> {
  const text = await Deno.readTextFile(path);
  await writeFileAtomic(path, replaceMarked(text, body, path, markers));
  await formatMarkdown(path);
}
