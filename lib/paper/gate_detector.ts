/**
 * Beyond the paper (notebook 10_gate_detector): is the gate a detector of bad generations? The
 * stand-in knows which round's generation went off-scene (lib/data/synthetic/latent.ts), so the
 * gate's image weight `1 − w`, and plain `cos(t, g)` for comparison, can be scored as detectors
 * per round (ROC, AUC; a low score flags an off-scene generation), and DAR's large rank drops can
 * be checked against what the gate did with the same generations.
 *
 * @module
 */
import type { EvalOutput } from "../eval/evaluate.ts";
import { type RocCurve, rocCurve, thinCurve } from "../runtime/roc.ts";
import { type FigureSpec, figureTitle } from "../show/figures.ts";
import { reproEval } from "./pipeline.ts";
import { type ReproConfig, reproSeeds } from "./experiment.ts";
import { benchmarkTruths } from "./cases.ts";
import { type ComparisonRow, fmt, fmtSeeds, meanSd, METHOD_COLORS } from "./reference.ts";

/** The two detectors of one round. */
export interface DetectorRound {
  /** The round (0 = the caption). */
  round: number;
  /** (dialogue) pairs of this round. */
  pairs: number;
  /** Off-scene generations among them. */
  offScene: number;
  /** ROC of the image weight `1 − w` (thinned to 200 points; AUC exact). */
  imageWeight: RocCurve;
  /** ROC of `cos(t, g)`. */
  cos: RocCurve;
}

function _adafuseArrays(ada: EvalOutput): { gate: number[][]; cos: number[][] } {
  if (!ada.gate || !ada.cos) {
    throw new Error(
      `gate detector: the evaluation of '${ada.method}' on ${ada.benchmark} has no gate or cos ` +
        "arrays; pass an ADaFuSE evaluation (method 'adafuse')",
    );
  }
  return { gate: ada.gate, cos: ada.cos };
}

function _checkLatent(e: EvalOutput, offScene: Uint8Array): void {
  if (offScene.length !== e.count * e.rounds) {
    throw new Error(
      `gate detector: ${offScene.length} off-scene flags for ${e.count} dialogues × ${e.rounds} ` +
        `rounds of ${e.benchmark}; pass the latent truths of the same split`,
    );
  }
}

/**
 * Per round, how well the image weight `1 − w` and `cos(t, g)` tell off-scene generations from
 * good ones (a low value flags off-scene).
 *
 * @param ada an ADaFuSE evaluation (with its gate and cos arrays).
 * @param offScene the split's latent off-scene flags, `[count, rounds]` row-major.
 */
export function detectorRounds(ada: EvalOutput, offScene: Uint8Array): DetectorRound[] {
  const { gate, cos } = _adafuseArrays(ada);
  _checkLatent(ada, offScene);
  const out: DetectorRound[] = [];
  for (let r = 0; r < ada.rounds; r++) {
    const iw = new Float64Array(ada.count), cs = new Float64Array(ada.count);
    const lab = new Uint8Array(ada.count);
    for (let q = 0; q < ada.count; q++) {
      iw[q] = 1 - gate[q][r];
      cs[q] = cos[q][r];
      lab[q] = offScene[q * ada.rounds + r];
    }
    const a = rocCurve(iw, lab), b = rocCurve(cs, lab);
    out.push({
      round: r,
      pairs: ada.count,
      offScene: a.positives,
      imageWeight: thinCurve(a),
      cos: thinCurve(b),
    });
  }
  return out;
}

/** What {@linkcode largeDropShare} finds. */
export interface DropShare {
  /** A drop is large when DAR's rank is at least this many places worse than ChatIR's. */
  minDrop: number;
  /** (dialogue, round) pairs, rounds 1..R−1, with a large DAR drop. */
  drops: number;
  /** Of those, the share whose generation was off-scene. */
  offSceneShare: number;
  /** Of those, the share the gate down-weighted: `1 − w` in the lowest `quantile` of its round. */
  downWeightedShare: number;
  /** The share of all pairs down-weighted, by construction about `quantile` (the base rate). */
  baseRate: number;
  /** The quantile that defines "down-weighted" (0.25). */
  quantile: number;
}

/**
 * What share of DAR's large rank drops (DAR's rank at least `minDrop` places worse than
 * ChatIR's, rounds 1..R−1) fall on generations the gate down-weighted (image weight in the lowest
 * `quantile` of its round), against the base rate; and how many of them were off-scene.
 */
export function largeDropShare(
  ada: EvalOutput,
  dar: EvalOutput,
  chatir: EvalOutput,
  offScene: Uint8Array,
  minDrop = 1000,
  quantile = 0.25,
): DropShare {
  const { gate } = _adafuseArrays(ada);
  _checkLatent(ada, offScene);
  for (const e of [dar, chatir]) {
    if (e.count !== ada.count || e.rounds !== ada.rounds) {
      throw new Error(
        `gate detector: ${e.method} has ${e.count}×${e.rounds} ranks, ADaFuSE ` +
          `${ada.count}×${ada.rounds}; evaluate all three on the same benchmark`,
      );
    }
  }
  let drops = 0, off = 0, down = 0, all = 0, allDown = 0;
  for (let r = 1; r < ada.rounds; r++) {
    const iw = Float64Array.from({ length: ada.count }, (_, q) => 1 - gate[q][r]).sort();
    const cut = iw[Math.floor(quantile * (ada.count - 1))];
    for (let q = 0; q < ada.count; q++) {
      const isDown = 1 - gate[q][r] <= cut;
      all++;
      if (isDown) allDown++;
      if (dar.ranks[q][r] - chatir.ranks[q][r] < minDrop) continue;
      drops++;
      if (offScene[q * ada.rounds + r]) off++;
      if (isDown) down++;
    }
  }
  return {
    minDrop,
    drops,
    offSceneShare: drops ? off / drops : NaN,
    downWeightedShare: drops ? down / drops : NaN,
    baseRate: allDown / all,
    quantile,
  };
}

/**
 * The detector figure: left, the ROC curves of `1 − w` and `cos(t, g)` at a few rounds; right,
 * both AUCs per round (one line per training seed for `1 − w`, the mean for cos, which does not
 * depend on the head).
 *
 * @param seeds one {@linkcode detectorRounds} result per training seed (the first is drawn left).
 * @param show the rounds whose ROC curves are drawn.
 */
export function detectorFigure(
  seeds: DetectorRound[][],
  { show = [1, 5, 10], subtitle }: { show?: number[]; subtitle?: string } = {},
): FigureSpec {
  const first = seeds[0];
  // deno-lint-ignore no-explicit-any
  const data: any[] = [];
  const shades = ["#9ecae1", "#4292c6", "#08306b"];
  show.forEach((r, i) => {
    const d = first[r];
    if (!d) return;
    const curves: [string, RocCurve, string][] = [
      ["1 − w", d.imageWeight, "solid"],
      ["cos(t, g)", d.cos, "dot"],
    ];
    for (const [label, c, dash] of curves) {
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${label}, round ${r} (AUC ${c.auc.toFixed(3)})`,
        x: c.fpr.map((v) => +v.toFixed(4)),
        y: c.tpr.map((v) => +v.toFixed(4)),
        line: { color: shades[i % shades.length], width: 2, dash },
      });
    }
  });
  data.push({
    type: "scatter",
    mode: "lines",
    name: "chance",
    x: [0, 1],
    y: [0, 1],
    line: { color: "#bbbbbb", dash: "dash", width: 1 },
    showlegend: false,
  });
  const rounds = first.map((d) => d.round);
  seeds.forEach((s, i) => {
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: seeds.length > 1 ? `AUC of 1 − w (one line per seed, ${seeds.length})` : "AUC of 1 − w",
      x: rounds,
      y: s.map((d) => +d.imageWeight.auc.toFixed(4)),
      xaxis: "x2",
      yaxis: "y2",
      line: { color: METHOD_COLORS.adafuse },
      showlegend: i === 0,
    });
  });
  data.push({
    type: "scatter",
    mode: "lines+markers",
    name: "AUC of cos(t, g)",
    x: rounds,
    y: first.map((d) => +d.cos.auc.toFixed(4)),
    xaxis: "x2",
    yaxis: "y2",
    line: { color: METHOD_COLORS.chatir, dash: "dot" },
  });
  return {
    data,
    layout: {
      title: figureTitle("The gate as a detector of off-scene generations (VisDial)", subtitle),
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "false positive rate (good generations flagged)" }, range: [0, 1] },
      yaxis: { title: { text: "true positive rate (off-scene flagged)" }, range: [0, 1] },
      xaxis2: { title: { text: "round" }, dtick: 1 },
      yaxis2: { title: { text: "AUC (0.5 = chance)" }, range: [0.4, 1] },
      legend: { orientation: "h", y: -0.25 },
      margin: { t: 60 },
    },
  };
}

/** AUC per round, mean ± sd over training seeds, as table rows. */
export function detectorTable(seeds: DetectorRound[][]): Record<string, string | number>[] {
  return seeds[0].map((d, r) => ({
    round: d.round,
    "off-scene": `${d.offScene} of ${d.pairs}`,
    "AUC of 1 − w": fmtSeeds(seeds.map((s) => s[r].imageWeight.auc), 3),
    "AUC of cos(t, g)": fmt(d.cos.auc, 3),
  }));
}

/**
 * The closing table: what the paper says the gate does beside what the detector analysis
 * measures (the paper has no detector numbers: its claim is qualitative).
 */
export function detectorComparison(
  seeds: DetectorRound[][],
  drops: DropShare[],
): ComparisonRow[] {
  const late = (s: DetectorRound[]) => s.slice(1).map((d) => d.imageWeight.auc);
  const meanLate = seeds.map((s) => meanSd(late(s)).mean);
  const cosLate = meanSd(seeds[0].slice(1).map((d) => d.cos.auc)).mean;
  const share = drops.map((d) => d.downWeightedShare);
  return [
    {
      quantity: "AUC of 1 − w for off-scene generations, mean over rounds 1-10 (holds if > 0.5)",
      paper: "the gate suppresses unreliable generated images (qualitative)",
      ours: `${fmtSeeds(meanLate, 3)} (cos(t, g) alone: ${fmt(cosLate, 3)})`,
      holds: meanLate.every((v) => v > 0.5) ? "yes" : "no",
    },
    {
      quantity: `DAR's large rank drops (≥ ${drops[0].minDrop} places) on generations the ` +
        `gate down-weighted (lowest ${100 * drops[0].quantile}% of 1 − w in its round)`,
      paper: "not measured",
      ours: `${fmtSeeds(share.map((v) => 100 * v), 1)}% of ${drops[0].drops} drops ` +
        `(base rate ${fmt(100 * drops[0].baseRate, 1)}%; ${
          fmt(100 * drops[0].offSceneShare, 1)
        }% ` +
        `of the drops were off-scene); above the base rate: ${
          share.every((v, i) => v > drops[i].baseRate) ? "yes" : "no"
        }`,
      holds: "–",
    },
  ];
}

/** What {@linkcode runDetector} returns. */
export interface DetectorResult {
  /** The benchmark. */
  benchmark: string;
  /** Per training seed, the detectors of each round. */
  rounds: DetectorRound[][];
  /** Per training seed, DAR's large drops against the gate. */
  drops: DropShare[];
}

/**
 * The detector analysis on one benchmark for every training seed of `config` (the head trained
 * and evaluated through the cached pipeline; the latent truths from the synthetic bundle).
 */
export async function runDetector(
  config: Partial<ReproConfig>,
  benchmark = "visdial",
): Promise<DetectorResult> {
  const { latent, chatir, dar } = await benchmarkTruths(config, benchmark);
  const out: DetectorResult = { benchmark, rounds: [], drops: [] };
  for (const s of reproSeeds(config)) {
    const ada = await reproEval(config, benchmark, "adafuse", s);
    out.rounds.push(detectorRounds(ada, latent.offScene));
    out.drops.push(largeDropShare(ada, dar, chatir, latent.offScene));
  }
  return out;
}
