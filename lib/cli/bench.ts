/**
 * `deno task bench [--quick] [--out FILE] [--threads N] [--runs N] [--no-torch] [--no-install]`
 *
 * Measures ours against the PyTorch reference head side by side on this machine (see
 * lib/bench.ts): training samples/s at batch 128 and 256, fused-query inference, ranking
 * against a 50,000 × 256 corpus, peak memory; prints a table with `ours / PyTorch` ratios and
 * writes the JSON (default `data/cache/bench.json`). Installs Debian's `python3-torch` and
 * `libopenblas0-pthread` when they are missing (unless `--no-install`).
 *
 * @module
 */
import { initBackend } from "../backend.ts";
import { benchDefaults, type BenchOptions, benchTable, runBench } from "../bench.ts";
import { ROOT } from "../paths.ts";

const _USAGE = "usage: deno task bench [--quick] [--out FILE] [--threads N] [--runs N] " +
  "[--no-torch] [--no-install] [--python PATH]";

/** Parses the command line over {@linkcode benchDefaults}; errors name the flag. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const o = benchDefaults(quick);
  o.out = `${ROOT}/${o.out}`;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i], v: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = () => {
      if (v !== undefined) return v;
      const n = argv[++i];
      if (n === undefined || n.startsWith("--")) throw new Error(`${a} needs a value; ${_USAGE}`);
      return n;
    };
    const int = (min: number) => {
      const s = value(), n = Number(s);
      if (!Number.isInteger(n) || n < min) {
        throw new Error(`${a} must be an integer ≥ ${min}, got ${s}`);
      }
      return n;
    };
    switch (a) {
      case "--quick":
        break;
      case "--out":
        o.out = value();
        break;
      case "--threads":
        o.threads = int(1);
        break;
      case "--runs":
        o.runs = int(1);
        break;
      case "--warmup":
        o.warmup = int(0);
        break;
      case "--python":
        o.python = value();
        break;
      case "--no-torch":
        o.torch = false;
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--help":
      case "-h":
        throw new Error(_USAGE);
      default:
        throw new Error(`unknown option '${a}'; ${_USAGE}`);
    }
  }
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
  const l = res.machine.loadavg.map((x) => x.toFixed(2)).join(" ");
  console.log(
    `\nmedians of ${opts.runs} runs after ${opts.warmup} warm-up; ${res.machine.cpus} CPUs; ` +
      `load average at start ${l}${res.torchNote ? `; PyTorch: ${res.torchNote}` : ""}`,
  );
  console.log(`JSON: ${opts.out}`);
  Deno.exit(0);
}
