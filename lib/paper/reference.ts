/**
 * The paper's numbers beside ours: one table per figure, each row a quantity the paper reports
 * in its text (from `data/paper_reference.json`, with its source) and the value measured here.
 * The `holds` column says whether our value shows the paper's claim; it is computed, never set.
 * Each figure's own table is in its file (fig1_degradation.ts … fig4_gate.ts); this file holds
 * the reference numbers, the row type and the formatting they share, and the methods' colours.
 *
 * @module
 */
import { DATA_DIR } from "../runtime/paths.ts";

/** One row of a paper-vs-ours table. */
export interface ComparisonRow {
  /** What is compared. */
  quantity: string;
  /** The paper's value, as the paper states it. */
  paper: string;
  /** Ours, measured in this run. */
  ours: string;
  /** Whether ours shows the paper's claim ("yes"/"no"), or "–" for a value without a claim. */
  holds: string;
}

/** `data/paper_reference.json`: per figure, each reported quantity with its value and source. */
// deno-lint-ignore no-explicit-any
export type PaperReference = Record<string, Record<string, { value: any; source: string }>>;
let _ref: PaperReference | undefined;

/** The paper's reported numbers (`data/paper_reference.json`). */
export function paperReference(): PaperReference {
  _ref ??= JSON.parse(Deno.readTextFileSync(`${DATA_DIR}/paper_reference.json`)) as PaperReference;
  return _ref;
}

/** `yes` or `no`: the `holds` column. */
export const yesNo = (b: boolean): string => (b ? "yes" : "no");
/** `v` with `d` decimals, `n/a` when not finite. */
export const fmt = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : "n/a");

/** The smallest and the largest finite value of `a`. */
export function rangeOf(a: number[]): [number, number] {
  const f = a.filter(Number.isFinite);
  return [Math.min(...f), Math.max(...f)];
}

/** The mean of the finite values of `a`. */
export function meanOf(a: number[]): number {
  const f = a.filter(Number.isFinite);
  return f.reduce((s, v) => s + v, 0) / f.length;
}

/** Method colours, the same in every figure. */
export const METHOD_COLORS: Record<string, string> = {
  chatir: "#636363",
  dar: "#d62728",
  add: "#9467bd",
  adafuse: "#1f77b4",
};

/** Display names of methods. */
export const METHOD_LABELS: Record<string, string> = {
  chatir: "ChatIR (text only)",
  dar: "DAR (score fusion)",
  add: "t + g",
  adafuse: "ADaFuSE",
};

/** Ranks of one method on one benchmark, `[count, rounds]` row-major. */
export interface RankTable {
  /** Dialogues. */
  count: number;
  /** Rounds per dialogue (11). */
  rounds: number;
  /** 0-based target ranks. */
  ranks: Int32Array;
}
