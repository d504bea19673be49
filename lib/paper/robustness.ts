/**
 * Beyond the paper (notebook 08_robustness, `deno task robustness`): under what failure rates of
 * the diffusion model does adaptive fusion beat DAR's fixed schedule? Each cell of a grid scales
 * the stand-in's generation failure knobs around the calibrated default (the off-scene rate and
 * the hallucination strength; a line over the share of hard targets), regenerates the data,
 * trains one head (the reproduction's recipe, its first training seed), and evaluates ChatIR, DAR
 * and ADaFuSE on VisDial.
 *
 * The cells leave the training recipe as the base config has it (`repro`: 6 epochs, 468 updates,
 * about 2 minutes here), so the default cell is the head of notebooks 01-04 (its first training
 * seed). A 2-epoch recipe (156 updates) was tried first, on the previous stand-in: it underfit the
 * caption round (validation Hits@10 at round 0: 0.66 against 0.75), which put ADaFuSE 6.6 points
 * below DAR at round 0 in the default cell, so the grid would have measured the recipe rather than
 * the data.
 *
 * @module
 */
import { type SyntheticConfig, syntheticConfig } from "../data/synthetic/generator.ts";
import { syntheticLatent } from "../data/synthetic/latent.ts";
import { type FigureSpec, figureTitle } from "../show/figures.ts";
import { reproData, reproEval } from "./pipeline.ts";
import { type ReproConfig, reproConfig } from "./experiment.ts";
import { meanDegradation } from "./ablations.ts";
import { type ComparisonRow, fmt, paperReference } from "./reference.ts";

/** Multipliers of the off-scene knobs (`genOffScene`, `genOffSceneHard`, `genOffScenePerWord`). */
export const OFFSCENE_SCALES: readonly number[] = [0.5, 1, 2];
/** Multipliers of the hallucination weights (`genHallucWeight`, `genHallucWeightHard`). */
export const HALLUC_SCALES: readonly number[] = [0.5, 1, 2];
/** Shares of hard targets (`genHardFrac`) on the line through the default cell. */
export const HARD_FRACS: readonly number[] = [0.1, 0.6];

/** One cell: how the failure knobs are scaled. */
export interface RobustnessCell {
  /** Multiplier of the off-scene rate knobs. */
  offScene: number;
  /** Multiplier of the hallucination weights. */
  halluc: number;
  /** Share of hard targets (`undefined`: the preset's). */
  hardFrac?: number;
}

/** The cells: the 3 × 3 grid (off-scene × hallucination), then the hard-share line. */
export function robustnessCells(): RobustnessCell[] {
  const out: RobustnessCell[] = [];
  for (const h of HALLUC_SCALES) {
    for (const o of OFFSCENE_SCALES) out.push({ offScene: o, halluc: h });
  }
  for (const f of HARD_FRACS) out.push({ offScene: 1, halluc: 1, hardFrac: f });
  return out;
}

/**
 * The generator knobs of a cell: the preset's values (after `overrides`) scaled by the cell's
 * multipliers; no knob for a multiplier of 1, so the default cell is the default bundle.
 */
export function cellKnobs(
  cell: RobustnessCell,
  preset = "default",
  seed = 0,
  overrides: Partial<SyntheticConfig> = {},
): Partial<SyntheticConfig> {
  const base = syntheticConfig(preset, seed, overrides);
  const k: Partial<SyntheticConfig> = {};
  const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
  if (cell.offScene !== 1) {
    k.genOffScene = r6(base.genOffScene * cell.offScene);
    k.genOffSceneHard = r6(base.genOffSceneHard * cell.offScene);
    k.genOffScenePerWord = r6(base.genOffScenePerWord * cell.offScene);
  }
  if (cell.halluc !== 1) {
    k.genHallucWeight = r6(base.genHallucWeight * cell.halluc);
    k.genHallucWeightHard = r6(base.genHallucWeightHard * cell.halluc);
  }
  if (cell.hardFrac !== undefined) k.genHardFrac = cell.hardFrac;
  return k;
}

/**
 * The reproduction config of a cell: `base` (its training recipe unchanged) with the cell's knobs
 * and its first training seed.
 */
export function cellConfig(base: Partial<ReproConfig>, cell: RobustnessCell): Partial<ReproConfig> {
  if (base.data) {
    throw new Error("robustness: the landscape regenerates synthetic data; unset config.data");
  }
  const c = reproConfig(base);
  return {
    ...base,
    trainSeeds: [c.trainSeeds[0]],
    synthetic: {
      ...(base.synthetic ?? {}),
      ...cellKnobs(cell, c.dataPreset, c.dataSeed, base.synthetic),
    },
  };
}

/** What one cell measured (VisDial). */
export interface CellResult {
  /** The cell. */
  cell: RobustnessCell;
  /** Share of off-scene generations over all rounds (the latent truth). */
  offSceneShare: number;
  /** Cumulative Hits@10 at the last round: ChatIR, DAR, ADaFuSE. */
  hits10: { chatir: number; dar: number; adafuse: number };
  /** ADaFuSE − DAR at round 0. */
  gainRound0: number;
  /** Figure 1's degradation rate against ChatIR, mean over rounds 2..10 (%): DAR and ADaFuSE. */
  degradation: { dar: number; adafuse: number };
  /** Seconds the cell took (a few when everything was cached). */
  seconds: number;
}

/**
 * Runs one cell (each step cached: the bundle, the three evaluations, the training run).
 *
 * @param base the reproduction config the grid is built around (its first training seed).
 * @param cell the knobs' multipliers.
 */
export async function runCell(
  base: Partial<ReproConfig>,
  cell: RobustnessCell,
): Promise<CellResult> {
  const t0 = performance.now();
  const cfg = cellConfig(base, cell);
  const data = await reproData(cfg);
  const latent = await syntheticLatent(data, "visdial");
  const chatir = await reproEval(cfg, "visdial", "chatir");
  const dar = await reproEval(cfg, "visdial", "dar");
  const ada = await reproEval(cfg, "visdial", "adafuse");
  const last = ada.rounds - 1;
  const h = (e: typeof ada, r = last) => e.hits["10"].cumulative[r];
  const rate = (e: typeof ada) => meanDegradation(e, chatir);
  let off = 0;
  for (const v of latent.offScene) off += v;
  return {
    cell,
    offSceneShare: off / latent.offScene.length,
    hits10: { chatir: h(chatir), dar: h(dar), adafuse: h(ada) },
    gainRound0: h(ada, 0) - h(dar, 0),
    degradation: { dar: rate(dar), adafuse: rate(ada) },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Runs every cell of {@linkcode robustnessCells} in order; `log` hears one line per cell. */
export async function runRobustness(
  base: Partial<ReproConfig>,
  log: (line: string) => void = (l) => console.error(l),
): Promise<CellResult[]> {
  const out: CellResult[] = [];
  const cells = robustnessCells();
  for (const [i, cell] of cells.entries()) {
    const r = await runCell(base, cell);
    out.push(r);
    log(
      `robustness: cell ${i + 1}/${cells.length} ${_cellName(cell)}: ADaFuSE − DAR at round 10 ` +
        `${fmt(r.hits10.adafuse - r.hits10.dar)} (${r.seconds.toFixed(0)} s)`,
    );
  }
  return out;
}

function _cellName(c: RobustnessCell): string {
  return `off-scene ×${c.offScene}, hallucination ×${c.halluc}` +
    (c.hardFrac !== undefined ? `, hard share ${c.hardFrac}` : "");
}

/** The results as table rows, one per cell. */
export function robustnessTable(results: CellResult[]): Record<string, string | number>[] {
  return results.map((r) => ({
    "off-scene ×": r.cell.offScene,
    "hallucination ×": r.cell.halluc,
    "hard share": r.cell.hardFrac ?? "default",
    "off-scene share (%)": fmt(100 * r.offSceneShare, 1),
    "ChatIR r10": fmt(r.hits10.chatir),
    "DAR r10": fmt(r.hits10.dar),
    "ADaFuSE r10": fmt(r.hits10.adafuse),
    "ADaFuSE − DAR r10": fmt(r.hits10.adafuse - r.hits10.dar),
    "ADaFuSE − DAR r0": fmt(r.gainRound0),
    "DAR degradation (%)": fmt(r.degradation.dar, 1),
    "ADaFuSE degradation (%)": fmt(r.degradation.adafuse, 1),
  }));
}

/**
 * The landscape: heat maps over the 3 × 3 grid of ADaFuSE − DAR at round 10 (left) and of DAR's
 * and ADaFuSE's degradation rates (middle, right; one colour scale for both), the default cell
 * outlined.
 */
export function robustnessFigure(
  results: CellResult[],
  { subtitle }: { subtitle?: string } = {},
): FigureSpec {
  const grid = results.filter((r) => r.cell.hardFrac === undefined);
  const xs = [...OFFSCENE_SCALES], ys = [...HALLUC_SCALES];
  const z = (f: (r: CellResult) => number) =>
    ys.map((h) =>
      xs.map((o) => {
        const r = grid.find((g) => g.cell.offScene === o && g.cell.halluc === h);
        return r ? +f(r).toFixed(2) : null;
      })
    );
  const gain = z((r) => r.hits10.adafuse - r.hits10.dar);
  const dDar = z((r) => r.degradation.dar), dAda = z((r) => r.degradation.adafuse);
  const lab = (v: number) => `×${v}`;
  const text = (m: (number | null)[][]) =>
    m.map((row) => row.map((v) => (v === null ? "" : fmt(v, 1))));
  // the two degradation panels share one colour scale, so a colour means one rate in both
  const rates = [...dDar.flat(), ...dAda.flat()].filter((v): v is number => v !== null);
  const shared = { zmin: Math.min(...rates), zmax: Math.max(...rates) };
  const heat = (
    zz: (number | null)[][],
    i: number,
    scale: string,
    mid?: number,
    range: { zmin?: number; zmax?: number } = {},
  ) => ({
    type: "heatmap",
    x: xs.map(lab),
    y: ys.map(lab),
    z: zz,
    text: text(zz),
    texttemplate: "%{text}",
    colorscale: scale,
    // plotly's RdBu runs blue (low) to red (high): reversed, ADaFuSE ahead of DAR is blue
    ...(mid !== undefined ? { zmid: mid, reversescale: true } : {}),
    ...range,
    showscale: false,
    xaxis: i ? `x${i + 1}` : "x",
    yaxis: i ? `y${i + 1}` : "y",
  });
  // the default cell (×1, ×1) outlined in each panel
  const shapes = [0, 1, 2].map((i) => ({
    type: "rect",
    xref: i ? `x${i + 1}` : "x",
    yref: i ? `y${i + 1}` : "y",
    x0: 0.5,
    x1: 1.5,
    y0: 0.5,
    y1: 1.5,
    line: { color: "black", width: 3 },
  }));
  const ax = (t: string) => ({ title: { text: t }, type: "category" });
  return {
    data: [
      heat(gain, 0, "RdBu", 0),
      heat(dDar, 1, "Reds", undefined, shared),
      heat(dAda, 2, "Reds", undefined, shared),
    ],
    layout: {
      title: figureTitle(
        "Robustness landscape (VisDial; the calibrated default outlined)",
        subtitle,
      ),
      grid: { rows: 1, columns: 3, pattern: "independent" },
      xaxis: ax("off-scene rate"),
      yaxis: ax("hallucination strength"),
      xaxis2: ax("off-scene rate"),
      yaxis2: ax("hallucination strength"),
      xaxis3: ax("off-scene rate"),
      yaxis3: ax("hallucination strength"),
      annotations: [
        "ADaFuSE − DAR, Hits@10 at round 10",
        "DAR degradation rate (%)",
        "ADaFuSE degradation rate (%)",
      ].map((t, i) => ({
        text: t,
        showarrow: false,
        xref: `x${i ? i + 1 : ""} domain`,
        yref: `y${i ? i + 1 : ""} domain`,
        x: 0.5,
        y: 1.08,
        xanchor: "center",
      })),
      shapes,
      margin: { t: 90 },
    },
  };
}

/**
 * The closing table: the paper's VisDial gain at round 10 beside the default cell's (one
 * training seed), and how many cells keep ADaFuSE ahead of DAR (the paper studies one setting
 * only).
 */
export function robustnessComparison(results: CellResult[]): ComparisonRow[] {
  const ref = paperReference().fig3_hits_at_10;
  const d = results.find((r) =>
    r.cell.offScene === 1 && r.cell.halluc === 1 && r.cell.hardFrac === undefined
  );
  const gains = results.map((r) => r.hits10.adafuse - r.hits10.dar);
  const ahead = gains.filter((g) => g > 0).length;
  return [
    {
      quantity: "ADaFuSE − DAR, VisDial Hits@10 at round 10, the calibrated default (one seed)",
      paper: `+${fmt(ref.adafuse_minus_dar_visdial_round10.value as number)}`,
      ours: d
        ? `${d.hits10.adafuse - d.hits10.dar >= 0 ? "+" : ""}${
          fmt(d.hits10.adafuse - d.hits10.dar)
        }`
        : "n/a",
      holds: d ? (d.hits10.adafuse > d.hits10.dar ? "yes" : "no") : "–",
    },
    {
      quantity: "cells where ADaFuSE is ahead of DAR at round 10",
      paper: "one setting studied",
      ours: `${ahead} of ${results.length} (gain from ${fmt(Math.min(...gains))} to ${
        fmt(Math.max(...gains))
      })`,
      holds: "–",
    },
  ];
}
