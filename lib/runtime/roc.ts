/**
 * ROC curves and their area, for scoring how well a number (the gate's image weight, cos(t, g))
 * tells two classes apart (off-scene generations from good ones).
 *
 * Convention: `positive` marks the class to detect, and a LOWER score flags it (a detector of
 * bad generations gives them less image weight). The AUC is then the probability that a random
 * positive scores below a random negative, ties counting half (the Mann-Whitney statistic).
 *
 * @module
 */

/** A ROC curve: false and true positive rates as the threshold rises, from (0, 0) to (1, 1). */
export interface RocCurve {
  /** False positive rate at each threshold. */
  fpr: number[];
  /** True positive rate at each threshold. */
  tpr: number[];
  /** Area under the curve (0.5: no better than chance; 1: perfect). */
  auc: number;
  /** Positives. */
  positives: number;
  /** Negatives. */
  negatives: number;
}

function _check(scores: ArrayLike<number>, positive: ArrayLike<number>): void {
  if (scores.length !== positive.length) {
    throw new Error(
      `roc: ${scores.length} scores but ${positive.length} labels; pass one score per label`,
    );
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new Error(`roc: score ${i} is ${scores[i]}; every score must be a finite number`);
    }
  }
}

/**
 * The ROC curve of flagging `positive` items by a low score: a point after each distinct score
 * (ties move together, giving a diagonal step), and its exact AUC. NaN AUC when either class is
 * empty.
 *
 * @param scores one score per item.
 * @param positive 1 (or true) for the class to detect, 0 for the rest.
 */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<number>): RocCurve {
  _check(scores, positive);
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  for (let i = 0; i < n; i++) if (positive[i]) pos++;
  const neg = n - pos;
  const fpr = [0], tpr = [0];
  let tp = 0, fp = 0, area = 0;
  for (let i = 0; i < n;) {
    let j = i, dtp = 0, dfp = 0;
    while (j < n && scores[order[j]] === scores[order[i]]) {
      if (positive[order[j]]) dtp++;
      else dfp++;
      j++;
    }
    // trapezoid over the tie block: a positive beats the block's negatives by half
    area += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
    fpr.push(neg ? fp / neg : NaN);
    tpr.push(pos ? tp / pos : NaN);
    i = j;
  }
  return { fpr, tpr, auc: pos && neg ? area / (pos * neg) : NaN, positives: pos, negatives: neg };
}

/**
 * The AUC alone ({@linkcode rocCurve}'s), without building the curve's points.
 *
 * @param scores one score per item.
 * @param positive 1 for the class to detect (flagged by a low score), 0 for the rest.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  return rocCurve(scores, positive).auc;
}

/**
 * A curve thinned to at most `points` points (evenly spaced in rank, first and last kept), so a
 * figure of 20,000 pairs stays small; the AUC is the full curve's.
 */
export function thinCurve(c: RocCurve, points = 200): RocCurve {
  const m = c.fpr.length;
  if (m <= points) return c;
  const idx = Array.from({ length: points }, (_, i) => Math.round((i * (m - 1)) / (points - 1)));
  return { ...c, fpr: idx.map((i) => c.fpr[i]), tpr: idx.map((i) => c.tpr[i]) };
}
