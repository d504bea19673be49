/**
 * What the data are, for the notebooks' data cells: the size of every split of a bundle, and
 * the distributions the paper's argument rests on, cos(t, g) per round and the rank text alone
 * gives the target.
 *
 * @module
 */
import { rowCosines } from "../eval/baselines.ts";
import { loadBundle } from "../data/bundle.ts";
import type { FigureSpec } from "./figures.ts";
import { quantileSorted } from "../eval/stats.ts";

/** One row of {@linkcode bundleSummary}. */
export interface SplitSummary {
  /** `corpus`, or a split name (`train`, `val`, a benchmark). */
  split: string;
  /** Dialogues (images for the corpus). */
  count: number;
  /** Rounds per dialogue (empty for the corpus). */
  rounds: number | "";
  /** Embedding dimension. */
  dim: number;
}

function _npyShape(path: string): number[] {
  // the header is all we need: read its first 4 KB
  const f = Deno.openSync(path);
  try {
    const buf = new Uint8Array(4096);
    const n = f.readSync(buf) ?? 0;
    const magic = buf[0] === 0x93 && new TextDecoder().decode(buf.subarray(1, 6)) === "NUMPY";
    const m = new TextDecoder().decode(buf.subarray(6, n)).match(/'shape':\s*\(([^)]*)\)/);
    if (!magic || !m) throw new Error(`${path}: not a .npy file; re-save it with numpy.save`);
    return m[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  } finally {
    f.close();
  }
}

/**
 * The size of every part of a bundle (`manifest.json` and the array headers only; nothing large
 * is read): the corpus, then each split with its dialogues, rounds and dimension.
 */
export async function bundleSummary(dir: string): Promise<SplitSummary[]> {
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  const dim = Number(manifest.dim), rounds = Number(manifest.rounds);
  const path = (file: string) => (file.startsWith("/") ? file : `${dir}/${file}`);
  // .npy: the header says the shape; other formats (safetensors): load that part
  const corpus = String(manifest.corpus).endsWith(".npy")
    ? _npyShape(path(manifest.corpus))[0]
    : (await loadBundle(dir, { splits: [] })).corpusSize;
  const rows: SplitSummary[] = [{ split: "corpus", count: corpus, rounds: "", dim }];
  for (const [name, s] of Object.entries(manifest.splits as Record<string, { target: string }>)) {
    const n = s.target.endsWith(".npy")
      ? _npyShape(path(s.target))[0]
      : (await loadBundle(dir, { splits: [name] })).splits[name].count;
    rows.push({ split: name, count: n, rounds, dim });
  }
  return rows;
}

/** cos(t, g) of every (dialogue, round) pair of one split. */
export interface SplitCosines {
  /** The split. */
  split: string;
  /** Dialogues. */
  count: number;
  /** Rounds per dialogue. */
  rounds: number;
  /** `cos(t_r, g_r)`, `[count, rounds]` row-major. */
  cos: Float32Array;
}

/** cos(t, g) of every (dialogue, round) pair of `split` in the bundle `dir`. */
export async function splitCosines(dir: string, split: string): Promise<SplitCosines> {
  const b = await loadBundle(dir, { splits: [split] });
  const s = b.splits[split];
  return {
    split,
    count: s.count,
    rounds: b.rounds,
    cos: rowCosines(s.text, s.gen, s.count * b.rounds, b.dim),
  };
}

/**
 * Two histograms: cos(t, g) at round 0 and at the last round, and the text-only (ChatIR) rank
 * of the target at the same rounds, on a log axis (`log10(rank + 1)`; 0 = ranked first).
 *
 * @param textRanks ChatIR's 0-based ranks `[count][rounds]` (an `EvalOutput.ranks`).
 */
export function dataFigure(
  c: SplitCosines,
  textRanks: number[][],
  title = `What the data look like (${c.split})`,
): FigureSpec {
  const last = c.rounds - 1;
  const at = (r: number) => Array.from({ length: c.count }, (_, i) => c.cos[i * c.rounds + r]);
  const rank = (r: number) => textRanks.map((row) => Math.log10(row[r] + 1));
  const colors = ["#9ecae1", "#08519c"];
  // deno-lint-ignore no-explicit-any
  const data: Record<string, any>[] = [];
  [0, last].forEach((r, j) => {
    const common = { type: "histogram", opacity: 0.7, marker: { color: colors[j] } };
    data.push({ ...common, x: at(r), name: `round ${r}`, legendgroup: `r${r}`, nbinsx: 40 });
    data.push({
      ...common,
      x: rank(r),
      name: `round ${r}`,
      legendgroup: `r${r}`,
      showlegend: false,
      xaxis: "x2",
      yaxis: "y2",
      nbinsx: 40,
    });
  });
  return {
    data,
    layout: {
      title: { text: title },
      barmode: "overlay",
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "cos(t, g)" } },
      yaxis: { title: { text: "dialogues" } },
      xaxis2: { title: { text: "log10(text-only rank of the target + 1)" } },
      yaxis2: { title: { text: "dialogues" } },
      legend: { orientation: "h", y: -0.2 },
    },
  };
}

/** Mean and quartiles of cos(t, g) per round, for a table beside {@linkcode dataFigure}. */
export function cosineByRound(
  c: SplitCosines,
): { round: number; mean: number; q25: number; median: number; q75: number }[] {
  return Array.from({ length: c.rounds }, (_, r) => {
    const v = Array.from({ length: c.count }, (_, i) => c.cos[i * c.rounds + r]).sort((a, b) =>
      a - b
    );
    const q = (p: number) => quantileSorted(v, p);
    return {
      round: r,
      mean: v.reduce((s, x) => s + x, 0) / v.length,
      q25: q(0.25),
      median: q(0.5),
      q75: q(0.75),
    };
  });
}

/** What {@linkcode hitsTable} reads of an evaluation (an `EvalOutput` has it). */
export interface HitsLike {
  /** Dialogues. */
  count: number;
  /** Hits@K in percent by K: cumulative per round. */
  hits: Record<string, { cumulative: number[] }>;
}

/**
 * A compact table of cumulative Hits@K per round (percent), one row per method, with the
 * number of dialogues: what an evaluation cell shows instead of the raw result.
 */
export function hitsTable(
  results: Record<string, HitsLike>,
  k = 10,
): Record<string, string | number>[] {
  return Object.entries(results).map(([method, e]) => {
    const h = e.hits[String(k)];
    if (!h) {
      throw new Error(
        `hitsTable: ${method} has no Hits@${k} (has ${Object.keys(e.hits).join(", ")})`,
      );
    }
    return {
      method,
      dialogues: e.count,
      ...Object.fromEntries(h.cumulative.map((v, r) => [`r${r}`, v])),
    };
  });
}
