/**
 * `deno task bench [--quick] [--full] [--full-preset NAME] [--out FILE] [--threads N] [--runs N]
 * [--no-products] [--no-torch] [--no-install] [--no-docs]`
 *
 * Measures ours against the PyTorch reference head side by side on this machine (see
 * lib/bench/harness.ts): training samples/s at batch 128 and 256, fused-query inference, ranking
 * against a 50,000 × 256 corpus, peak memory; GFLOP/s of the head's four big matrix products
 * for TensorFlow.js's wasm kernels, each native BLAS (OpenBLAS, oneDNN; lib/runtime/blas.ts) and
 * PyTorch; with `--full`, the wall time of the full 50-epoch reference recipe on the default
 * synthetic data (long), and how right its progress line's ETA was (`--full-preset repro` times
 * the short `repro` recipe instead). Prints the tables with `ours / PyTorch` ratios and
 * writes the JSON (default `data/cache/bench.json`); a full run to the default file also rewrites
 * the bench blocks of docs/performance.md and README.md from it (lib/bench/report.ts; not with
 * `--quick`, `--out` or `--no-docs`). Installs Debian's `python3-torch` and
 * `libopenblas0-pthread` when they are missing (unless `--no-install`).
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import {
  benchDefaults,
  type BenchOptions,
  benchTable,
  breakdownTable,
  runBench,
} from "../bench/harness.ts";
import { productTable } from "../bench/products.ts";
import { ROOT } from "../runtime/paths.ts";
import { writePerformanceDocs } from "../bench/report.ts";
import { parseArgs } from "./_args.ts";
import { TRAIN_PRESETS } from "../train/config.ts";

const _USAGE = "usage: deno task bench [--quick] [--full] [--out FILE] [--threads N] [--runs N] " +
  "[--warmup N] [--no-products] [--no-torch] [--no-install] [--no-docs] [--python PATH] " +
  "[--full-preset NAME]";

/** Parses the command line over {@linkcode benchDefaults}; errors name the flag. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const a = parseArgs(argv, {
    options: ["out", "threads", "runs", "warmup", "python", "full-preset"],
    flags: ["quick", "full", "no-products", "no-torch", "no-install", "no-docs"],
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  const o = benchDefaults(a.flags.quick);
  o.out = a.options.out ?? `${ROOT}/${o.out}`;
  const int = (name: string, min: number, fallback: number) => {
    const s = a.options[name];
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name} must be an integer ≥ ${min}, got ${s}`);
    }
    return n;
  };
  o.threads = int("threads", 1, o.threads);
  o.runs = int("runs", 1, o.runs);
  o.warmup = int("warmup", 0, o.warmup);
  if (a.options.python) o.python = a.options.python;
  if (a.flags["no-torch"]) o.torch = false;
  if (a.flags["no-install"]) o.install = false;
  if (a.flags["no-products"]) o.products = false;
  if (a.flags.full) o.full = true;
  if (a.options["full-preset"]) {
    if (!(a.options["full-preset"] in TRAIN_PRESETS)) {
      throw new Error(
        `--full-preset '${a.options["full-preset"]}' is no training preset (${
          Object.keys(TRAIN_PRESETS).join(", ")
        })`,
      );
    }
    o.full = true;
    o.fullPreset = a.options["full-preset"];
  }
  o.docs = !a.flags["no-docs"] && !a.flags.quick && a.options.out === undefined;
  return o;
}

if (import.meta.main) {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const info = await initBackend("wasm");
  opts.log(`bench: ${info.device}; ${opts.threads} thread(s) on each side`);
  const res = await runBench(opts);
  console.log(benchTable(res));
  const bd = breakdownTable(res);
  if (bd) console.log("\n" + bd);
  if (res.products.length) console.log("\n" + productTable(res.products, opts.threads));
  const l = res.machine.loadavg.map((x) => x.toFixed(2)).join(" ");
  console.log(
    `\nmedians of ${opts.runs} runs after ${opts.warmup} warm-up; ${res.machine.cpus} CPUs; ` +
      `load average at start ${l}, at end ${
        res.machine.loadavgEnd.map((x) => x.toFixed(2)).join(" ")
      }; products: ${(res.ours as { blas?: string }).blas}${
        res.torchNote ? `; PyTorch: ${res.torchNote}` : ""
      }`,
  );
  console.log(`JSON: ${opts.out}`);
  if (opts.docs) {
    for (const f of await writePerformanceDocs(res)) console.log(`rewrote the bench block of ${f}`);
  }
  Deno.exit(0);
}
