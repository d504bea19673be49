/**
 * Retrieval metrics over target ranks (docs/method.md, the metrics).
 *
 * Ranks are 0-based (0 = the target is first) and stored row-major as `[Q, R]`: dialogue `i`,
 * round `r` at `ranks[i * R + r]`. Percentages are in [0, 100].
 *
 * @module
 */

function _check(ranks: Int32Array, q: number, r: number, what: string): void {
  if (!Number.isInteger(q) || !Number.isInteger(r) || q < 0 || r < 0 || ranks.length !== q * r) {
    throw new Error(
      `${what}: ranks has ${ranks.length} values, expected Q × rounds = ${q} × ${r}; ` +
        "pass row-major [Q, rounds] ranks with their Q and rounds",
    );
  }
}

/**
 * Cumulative Hits@K per round (the ChatIR protocol, the paper's metric): the percentage of
 * dialogues whose target ranked below `k` at some round `≤ r`. Monotone in `r`.
 *
 * @param ranks `[Q, R]` 0-based ranks.
 * @param q number of dialogues.
 * @param r number of rounds.
 * @param k the cut-off (a hit is `rank < k`).
 * @returns R percentages.
 */
export function hitsCumulative(ranks: Int32Array, q: number, r: number, k: number): number[] {
  _check(ranks, q, r, "hitsCumulative");
  const out = new Array(r).fill(0);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < r; j++) {
      if (ranks[i * r + j] < k) {
        for (let m = j; m < r; m++) out[m]++;
        break;
      }
    }
  }
  return out.map((c) => (q ? (100 * c) / q : NaN));
}

/**
 * Hits@K per round, each round on its own: the percentage of dialogues with `rank < k` at
 * round `r`.
 *
 * @returns R percentages.
 */
export function hitsPerRound(ranks: Int32Array, q: number, r: number, k: number): number[] {
  _check(ranks, q, r, "hitsPerRound");
  const out = new Array(r).fill(0);
  for (let i = 0; i < q; i++) for (let j = 0; j < r; j++) if (ranks[i * r + j] < k) out[j]++;
  return out.map((c) => (q ? (100 * c) / q : NaN));
}

/**
 * Degradation rate per round: the percentage of dialogues whose target ranks worse (a larger
 * rank) with the fusion method than with text alone at the same round.
 *
 * @param fused `[Q, R]` ranks of the fusion method.
 * @param text `[Q, R]` ranks of the text-only method (ChatIR), same dialogues.
 * @returns R percentages.
 */
export function degradationRate(
  fused: Int32Array,
  text: Int32Array,
  q: number,
  r: number,
): number[] {
  _check(fused, q, r, "degradationRate (fused)");
  _check(text, q, r, "degradationRate (text)");
  const out = new Array(r).fill(0);
  for (let i = 0; i < q * r; i++) if (fused[i] > text[i]) out[i % r]++;
  return out.map((c) => (q ? (100 * c) / q : NaN));
}

/**
 * Average rank drop per round: the mean of `rank_fused − rank_text` over the dialogues that
 * degraded at that round (NaN when none did).
 *
 * @returns R means (NaN where no dialogue degraded).
 */
export function averageRankDrop(
  fused: Int32Array,
  text: Int32Array,
  q: number,
  r: number,
): number[] {
  _check(fused, q, r, "averageRankDrop (fused)");
  _check(text, q, r, "averageRankDrop (text)");
  const sum = new Array(r).fill(0);
  const n = new Array(r).fill(0);
  for (let i = 0; i < q * r; i++) {
    if (fused[i] > text[i]) {
      sum[i % r] += fused[i] - text[i];
      n[i % r]++;
    }
  }
  return sum.map((s, j) => (n[j] ? s / n[j] : NaN));
}
