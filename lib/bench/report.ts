/**
 * The performance section of docs/performance.md and the README's performance line, written from
 * a bench result (`data/cache/bench.json`) so that no number there is copied by hand: the text
 * between `<!-- bench:start -->` and `<!-- bench:end -->` is replaced, the rest of the file
 * kept. `deno task bench` calls {@linkcode writePerformanceDocs} after a full run.
 *
 * @module
 */
import { type BenchResult, breakdownTable } from "./harness.ts";
import { formatRatio, formatValue } from "./_measure.ts";
import { productTable } from "./products.ts";
import { ROOT, writeMarkedBlock } from "../runtime/paths.ts";

/** The markers around the generated text. */
export const BENCH_MARKERS = ["<!-- bench:start -->", "<!-- bench:end -->"] as const;

/** A markdown table of `rows` (first row the header; columns after the first right-aligned). */
function _md(rows: string[][], left = 1): string {
  const w = rows[0].map((_, i) => Math.max(3, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => (i < left ? c.padEnd(w[i]) : c.padStart(w[i]))).join(" | ") + " |";
  const rule = "| " +
    w.map((n, i) => (i < left ? "-".repeat(n) : "-".repeat(n - 1) + ":")).join(" | ") + " |";
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/** The generated performance text (markdown) of one bench result. */
export function performanceMarkdown(res: BenchResult): string {
  const s = res.settings as Record<string, unknown>;
  const load = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" ");
  const head = [
    `Measured by \`deno task bench\` on ${res.machine.name}, ${res.date.slice(0, 10)} (load ` +
    `average ${load(res.machine.loadavg)} at the start, ${load(res.machine.loadavgEnd)} at the ` +
    `end); medians of ${s.runs} runs after ${s.warmup} warm-up, ${s.threads} thread(s) on each ` +
    `side; our products: ${(res.ours as { blas?: string }).blas}; PyTorch: ` +
    (res.torch ? `${s.torchEnv}` : `not measured (${res.torchNote})`) + ".",
  ];
  const rows = [["measure", "unit", "ours", "PyTorch", "ours / PyTorch"]];
  for (const r of res.rows) {
    rows.push([
      r.name,
      r.unit + (r.higherIsBetter ? "" : " (lower is better)"),
      formatValue(r.ours),
      formatValue(r.theirs),
      formatRatio(r.ratio),
    ]);
  }
  const parts = [head.join(" "), _md(rows, 2)];
  const bd = breakdownTable(res);
  if (bd) {
    parts.push(
      "Where a training update goes (our side; products timed inside the workers, the rest " +
        "measured as the remainder):\n\n" + bd.split("\n").map((l) => `- ${l}`).join("\n"),
    );
  }
  if (res.products.length) {
    parts.push(
      "Matrix products alone, `tf.matMul` on the wasm backend with each library's kernels " +
        "(GFLOP/s):\n\n```\n" + productTable(res.products, s.threads as number) + "\n```",
    );
  }
  return parts.join("\n\n");
}

/** One line for the README: the machine and the training and full-recipe numbers. */
export function readmePerformanceLine(res: BenchResult): string {
  const t = res.rows.find((r) => r.name.startsWith("train b128 (") && r.unit === "samples/s");
  const full = res.rows.find((r) => r.name.startsWith("full recipe"));
  const bits = [
    `On ${res.machine.name} (\`deno task bench\`, ${res.date.slice(0, 10)}), training runs at ` +
    (t
      ? `${formatValue(t.ours)} samples/s at batch 128 (PyTorch ${formatValue(t.theirs)}, ${
        formatRatio(t.ratio)
      })`
      : "n/a"),
  ];
  if (full) bits.push(`the paper's full recipe takes ${formatValue(full.ours)} min a seed`);
  return bits.join("; ") + "; details in [docs/performance.md](docs/performance.md).";
}

/** Rewrites the marked blocks of docs/performance.md and README.md from `res`. */
export async function writePerformanceDocs(res: BenchResult, root = ROOT): Promise<string[]> {
  const out: string[] = [];
  for (
    const [file, body] of [
      [`${root}/docs/performance.md`, performanceMarkdown(res)],
      [`${root}/README.md`, readmePerformanceLine(res)],
    ] as const
  ) {
    await writeMarkedBlock(file, BENCH_MARKERS, body);
    out.push(file);
  }
  return out;
}
