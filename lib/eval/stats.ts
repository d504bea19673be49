/**
 * Paired statistics for comparing two retrieval methods on the same dialogues: a bootstrap
 * confidence interval for the difference of Hits@K and an exact McNemar test, per round.
 *
 * Ranks are `[Q, R]` row-major 0-based ranks, as in {@linkcode ./metrics.ts}.
 *
 * @module
 */
import { Rng } from "../runtime/rng.ts";

/** Options shared by the paired statistics. */
export interface PairedOptions {
  /** The cut-off K of Hits@K (default 10). */
  k?: number;
  /** Cumulative Hits@K (the ChatIR protocol, default) or per round. */
  cumulative?: boolean;
}

/** Options of {@linkcode pairedBootstrap}. */
export interface BootstrapOptions extends PairedOptions {
  /** Bootstrap replicates (default 2000). */
  replicates?: number;
  /** Confidence level (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
}

/** A difference in percentage points with its confidence interval. */
export interface DiffCI {
  /** Hits@K of A minus Hits@K of B, in percentage points. */
  diff: number;
  /** Lower end of the percentile interval. */
  lo: number;
  /** Upper end of the percentile interval. */
  hi: number;
}

/** Per-dialogue, per-round hit indicators (1/0), `[Q, R]`. */
export function hitIndicators(
  ranks: Int32Array,
  q: number,
  r: number,
  k: number,
  cumulative: boolean,
): Uint8Array {
  if (ranks.length !== q * r) {
    throw new Error(
      `stats: ranks has ${ranks.length} values, expected Q × rounds = ${q} × ${r}; ` +
        "both methods must be ranked on the same dialogues",
    );
  }
  const out = new Uint8Array(q * r);
  for (let i = 0; i < q; i++) {
    let hit = 0;
    for (let j = 0; j < r; j++) {
      const h = ranks[i * r + j] < k ? 1 : 0;
      hit = cumulative ? hit | h : h;
      out[i * r + j] = hit;
    }
  }
  return out;
}

/** The `p` quantile of sorted values, linearly interpolated (NumPy's default). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Paired bootstrap confidence interval of `Hits@K(A) − Hits@K(B)` per round: dialogues are
 * resampled with replacement (the same resample for both methods), percentile interval.
 *
 * @param ranksA `[Q, R]` ranks of method A.
 * @param ranksB `[Q, R]` ranks of method B on the same dialogues.
 * @returns one {@linkcode DiffCI} per round, in percentage points.
 */
export function pairedBootstrap(
  ranksA: Int32Array,
  ranksB: Int32Array,
  q: number,
  r: number,
  opts: BootstrapOptions = {},
): DiffCI[] {
  const { k = 10, cumulative = true, replicates = 2000, level = 0.95, seed = 0 } = opts;
  if (!(level > 0 && level < 1)) throw new Error(`pairedBootstrap: level ${level} not in (0, 1)`);
  if (!(Number.isInteger(replicates) && replicates > 0)) {
    throw new Error(`pairedBootstrap: replicates must be a positive integer, got ${replicates}`);
  }
  const a = hitIndicators(ranksA, q, r, k, cumulative);
  const b = hitIndicators(ranksB, q, r, k, cumulative);
  const d = new Int8Array(q * r);
  for (let i = 0; i < q * r; i++) d[i] = a[i] - b[i];
  const full = new Array(r).fill(0);
  for (let i = 0; i < q * r; i++) full[i % r] += d[i];
  const reps = Array.from({ length: r }, () => new Float64Array(replicates));
  const rng = new Rng(seed);
  const sum = new Int32Array(r);
  for (let s = 0; s < replicates; s++) {
    sum.fill(0);
    for (let n = 0; n < q; n++) {
      const o = rng.int(q) * r;
      for (let j = 0; j < r; j++) sum[j] += d[o + j];
    }
    for (let j = 0; j < r; j++) reps[j][s] = (100 * sum[j]) / q;
  }
  const alpha = (1 - level) / 2;
  return reps.map((v, j) => {
    v.sort();
    return {
      diff: (100 * full[j]) / q,
      lo: quantileSorted(v, alpha),
      hi: quantileSorted(v, 1 - alpha),
    };
  });
}

/**
 * Exact two-sided McNemar (binomial sign) test on `b` and `c` discordant pairs:
 * `p = min(1, 2 · P(X ≤ min(b, c)))`, `X ~ Binomial(b + c, 1/2)`, summed in log space so it
 * stays exact for large counts. `p = 1` when there are no discordant pairs.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const m = Math.min(b, c);
  // log C(n, i) by the recurrence C(n, i) = C(n, i-1) · (n - i + 1) / i.
  let logC = 0;
  const terms: number[] = [0];
  for (let i = 1; i <= m; i++) {
    logC += Math.log(n - i + 1) - Math.log(i);
    terms.push(logC);
  }
  const mx = Math.max(...terms);
  let s = 0;
  for (const t of terms) s += Math.exp(t - mx);
  const logP = Math.log(2) + mx + Math.log(s) - n * Math.LN2;
  return Math.min(1, Math.exp(logP));
}

/** A per-round result of {@linkcode pairedMcNemar}. */
export interface McNemarResult {
  /** Dialogues hit by A and not by B. */
  onlyA: number;
  /** Dialogues hit by B and not by A. */
  onlyB: number;
  /** Two-sided exact p-value. */
  p: number;
}

/**
 * Paired significance test of Hits@K per round between two methods on the same dialogues:
 * the exact McNemar test on the discordant dialogues (see {@linkcode mcnemarExact}).
 *
 * @returns one result per round.
 */
export function pairedMcNemar(
  ranksA: Int32Array,
  ranksB: Int32Array,
  q: number,
  r: number,
  opts: PairedOptions = {},
): McNemarResult[] {
  const { k = 10, cumulative = true } = opts;
  const a = hitIndicators(ranksA, q, r, k, cumulative);
  const b = hitIndicators(ranksB, q, r, k, cumulative);
  return Array.from({ length: r }, (_, j) => {
    let onlyA = 0, onlyB = 0;
    for (let i = 0; i < q; i++) {
      const x = a[i * r + j], y = b[i * r + j];
      if (x && !y) onlyA++;
      else if (y && !x) onlyB++;
    }
    return { onlyA, onlyB, p: mcnemarExact(onlyA, onlyB) };
  });
}

/** A least-squares slope with its bootstrap percentile interval. */
export interface SlopeCI {
  /** The slope on all pairs. */
  slope: number;
  /** Lower end of the percentile interval. */
  lo: number;
  /** Upper end of the percentile interval. */
  hi: number;
}

/**
 * Least-squares slope of `y` against `x` with a percentile bootstrap interval over the pairs
 * (resampled with replacement, seeded).
 *
 * @param opts `replicates` (default 1000), `level` (0.95), `seed` (0).
 */
export function bootstrapSlope(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  opts: { replicates?: number; level?: number; seed?: number } = {},
): SlopeCI {
  const n = x.length;
  if (n !== y.length || n < 2) {
    throw new Error(`bootstrapSlope: x and y need the same length ≥ 2 (got ${n} and ${y.length})`);
  }
  const slopeOf = (idx?: Uint32Array): number => {
    let sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (let i = 0; i < n; i++) {
      const j = idx ? idx[i] : i;
      sx += x[j];
      sy += y[j];
      sxx += x[j] * x[j];
      sxy += x[j] * y[j];
    }
    const den = n * sxx - sx * sx;
    return den === 0 ? 0 : (n * sxy - sx * sy) / den;
  };
  const reps = opts.replicates ?? 1000, level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 0);
  const idx = new Uint32Array(n);
  const slopes = new Float64Array(reps);
  for (let b = 0; b < reps; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    slopes[b] = slopeOf(idx);
  }
  slopes.sort();
  return {
    slope: slopeOf(),
    lo: quantileSorted(slopes, (1 - level) / 2),
    hi: quantileSorted(slopes, 1 - (1 - level) / 2),
  };
}
