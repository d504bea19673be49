/**
 * The PyTorch side of `deno task bench`: making sure Debian's `python3-torch` is there, the
 * environment it runs in, and lib/tools/bench_torch.py with the same shapes and threads as ours.
 *
 * @module
 */
import { BENCH_PRODUCTS } from "./products.ts";

/** What the PyTorch run needs of the bench's options. */
export interface TorchBenchOptions {
  /** The Python interpreter. */
  python: string;
  /** Threads (`torch.set_num_threads`). */
  threads: number;
  /** Training batch sizes. */
  batches: number[];
  /** Untimed warm-up runs. */
  warmup: number;
  /** Timed runs. */
  runs: number;
  /** Rows fused per inference call. */
  inferRows: number;
  /** Corpus size for ranking. */
  corpus: number;
  /** Queries ranked per ranking run. */
  rankQueries: number;
}

async function _run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Makes sure `python` can import torch: when it cannot and `install` is set, installs Debian's
 * `python3-torch` and `libopenblas0-pthread` with apt-get (after a `dpkg-query` check).
 * Returns null when ready, else the reason.
 */
export async function ensureTorch(
  python: string,
  install: boolean,
  log: (s: string) => void,
): Promise<string | null> {
  const probe = async () => {
    try {
      return (await _run(python, ["-c", "import torch, numpy"])).code === 0;
    } catch {
      return false;
    }
  };
  if (await probe()) return null;
  if (!install) return `${python} cannot import torch (and --no-install was given)`;
  const pkgs = ["python3-torch", "libopenblas0-pthread"];
  const missing: string[] = [];
  for (const p of pkgs) {
    const q = await _run("dpkg-query", ["-W", "-f=${Status}", p]).catch(() => null);
    if (!q || !q.stdout.includes("install ok installed")) missing.push(p);
  }
  if (missing.length === 0) {
    return `${python} cannot import torch although ${pkgs.join(", ")} are installed`;
  }
  log(`bench: installing ${missing.join(" ")} with apt-get (PyTorch side of the comparison)…`);
  const sudo = Deno.uid?.() === 0 ? [] : ["sudo", "-n"];
  const run = (args: string[]) =>
    sudo.length ? _run(sudo[0], [...sudo.slice(1), ...args]) : _run(args[0], args.slice(1));
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let r = await _run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], env)
    .catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
  if (sudo.length || r.code !== 0) {
    await run(["apt-get", "update"]).catch(() => null);
    r = await run(["apt-get", "install", "-y", "--no-install-recommends", ...missing])
      .catch((e) => ({ code: 1, stdout: "", stderr: String(e) }));
  }
  if (r.code !== 0) return `apt-get install ${missing.join(" ")} failed: ${r.stderr.slice(-300)}`;
  return (await probe()) ? null : `${python} still cannot import torch after installing`;
}

/**
 * The environment of the PyTorch process: ours with the thread counts set to `threads`, and
 * without `OPENBLAS_CORETYPE` (a core override some machines set, which slows OpenBLAS's
 * products where the core is detected right): PyTorch at its best on this machine. Pass
 * `keepCoretype` where the machine needs the override to run correctly.
 */
export function torchEnv(threads: number, keepCoretype = false): Record<string, string> {
  const t = String(threads);
  const env = Deno.env.toObject();
  if (!keepCoretype) delete env.OPENBLAS_CORETYPE;
  return { ...env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t };
}

/**
 * Runs lib/tools/bench_torch.py with the same shapes and threads; its parsed JSON. `productsOnly`
 * times only the four products (run right after ours, so that both sides see the same load).
 */
export async function runTorchBench(
  o: TorchBenchOptions,
  productsOnly = false,
): Promise<Record<string, unknown>> {
  const script = new URL("../tools/bench_torch.py", import.meta.url).pathname;
  const t = String(o.threads);
  const r = await _run(o.python, [
    script,
    ...(productsOnly ? ["--products-only", "--products", JSON.stringify(BENCH_PRODUCTS)] : []),
    "--threads",
    t,
    "--batches",
    o.batches.join(","),
    "--warmup",
    String(o.warmup),
    "--runs",
    String(o.runs),
    "--infer-rows",
    String(o.inferRows),
    "--corpus",
    String(o.corpus),
    "--rank-queries",
    String(o.rankQueries),
  ], torchEnv(o.threads));
  if (r.code !== 0) {
    throw new Error(`bench: ${script} failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}
