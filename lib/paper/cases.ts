/**
 * Beyond the paper (notebook 09_cases): one dialogue at a time. For a dialogue picked by index or
 * by a filter, the target's rank per round under ChatIR, DAR and ADaFuSE, the gate's text weight
 * `w` and `cos(t, g)` per round, and whether each round's generation went off-scene (the
 * stand-in's latent truth); and an interactive view with a dropdown over the most instructive
 * dialogues.
 *
 * @module
 */
import type { EvalOutput } from "../eval/evaluate.ts";
import type { SyntheticLatent } from "../data/synthetic/generator.ts";
import { syntheticLatent } from "../data/synthetic/latent.ts";
import { reproData, reproEval } from "./pipeline.ts";
import { type ReproConfig, reproSeeds } from "./experiment.ts";
import { type FigureSpec, figureTitle } from "../show/figures.ts";
import { METHOD_COLORS, METHOD_LABELS } from "./reference.ts";

/** The three evaluations a case is read from (same benchmark, same bundle). */
export interface CaseEvals {
  /** Text only. */
  chatir: EvalOutput;
  /** DAR's score fusion. */
  dar: EvalOutput;
  /** The ADaFuSE head (its evaluation carries `gate` and `cos`). */
  adafuse: EvalOutput;
}

/**
 * What the per-dialogue studies (these cases, the gate detector) read besides a head: the latent
 * truths of one benchmark and ChatIR's and DAR's evaluations on it, through the cached pipeline.
 */
export async function benchmarkTruths(
  config: Partial<ReproConfig>,
  benchmark = "visdial",
): Promise<{ latent: SyntheticLatent; chatir: EvalOutput; dar: EvalOutput }> {
  return {
    latent: await syntheticLatent(await reproData(config), benchmark),
    chatir: await reproEval(config, benchmark, "chatir"),
    dar: await reproEval(config, benchmark, "dar"),
  };
}

/**
 * The three evaluations and the latent truths of one benchmark, for the head of `trainSeed`
 * (default: the config's first training seed), through the cached pipeline.
 */
export async function loadCases(
  config: Partial<ReproConfig>,
  benchmark = "visdial",
  trainSeed?: number,
): Promise<{ evals: CaseEvals; latent: SyntheticLatent }> {
  const { latent, chatir, dar } = await benchmarkTruths(config, benchmark);
  const seed = trainSeed ?? reproSeeds(config)[0];
  const adafuse = await reproEval(config, benchmark, "adafuse", seed);
  return { evals: { chatir, dar, adafuse }, latent };
}

/** One dialogue, round by round. */
export interface Case {
  /** The dialogue's index in the benchmark split. */
  index: number;
  /** Why it was picked (empty when picked by index). */
  why: string;
  /** 1-based ranks of the target per round, by method. */
  ranks: { chatir: number[]; dar: number[]; adafuse: number[] };
  /** The gate's text weight `w` per round. */
  w: number[];
  /** `cos(t, g)` per round. */
  cos: number[];
  /** Whether each round's generation went off-scene. */
  offScene: boolean[];
  /** Whether the target is hard to generate. */
  hard: boolean;
}

/** Filters of {@linkcode findCases}. */
export type CaseFilter =
  /** DAR's rank minus ChatIR's at `round` (or at its worst round), largest first. */
  | { by: "darDrop"; round?: number }
  /** DAR's rank minus ADaFuSE's at `round` (default: the last), largest first. */
  | { by: "adafuseGain"; round?: number }
  /** ADaFuSE's rank minus DAR's at `round` (default: the last), largest first. */
  | { by: "adafuseLoss"; round?: number };

function _check(e: CaseEvals, latent: SyntheticLatent): { count: number; rounds: number } {
  const { count, rounds, benchmark } = e.adafuse;
  if (!e.adafuse.gate || !e.adafuse.cos) {
    throw new Error("cases: the 'adafuse' evaluation has no gate or cos arrays (is it ADaFuSE's?)");
  }
  for (const [m, x] of Object.entries(e)) {
    if (x.count !== count || x.rounds !== rounds || x.benchmark !== benchmark) {
      throw new Error(
        `cases: ${m} is ${x.count}×${x.rounds} on ${x.benchmark}, ADaFuSE ${count}×${rounds} on ` +
          `${benchmark}; evaluate all three on the same benchmark`,
      );
    }
  }
  if (latent.hard.length !== count || latent.offScene.length !== count * rounds) {
    throw new Error(
      `cases: the latent truths have ${latent.hard.length} dialogues, the evaluations ${count}; ` +
        `pass syntheticLatent(data, "${benchmark}")`,
    );
  }
  return { count, rounds };
}

/**
 * One dialogue of the benchmark, round by round.
 *
 * @param evals ChatIR, DAR and ADaFuSE on the same benchmark.
 * @param latent the split's latent truths (lib/data/synthetic/latent.ts).
 * @param index the dialogue.
 * @param why a note on why it was picked.
 */
export function caseOf(evals: CaseEvals, latent: SyntheticLatent, index: number, why = ""): Case {
  const { count, rounds } = _check(evals, latent);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`cases: dialogue ${index} is not in 0..${count - 1}`);
  }
  const r1 = (e: EvalOutput) => e.ranks[index].map((v) => v + 1);
  return {
    index,
    why,
    ranks: { chatir: r1(evals.chatir), dar: r1(evals.dar), adafuse: r1(evals.adafuse) },
    w: evals.adafuse.gate![index].slice(),
    cos: evals.adafuse.cos![index].slice(),
    offScene: Array.from({ length: rounds }, (_, r) => latent.offScene[index * rounds + r] === 1),
    hard: latent.hard[index] === 1,
  };
}

/**
 * The `n` dialogues that a filter ranks first (ties by index), as cases with a `why`.
 *
 * @param evals ChatIR, DAR and ADaFuSE on the same benchmark.
 * @param latent the split's latent truths.
 * @param filter what to look for, e.g. `{ by: "darDrop", round: 3 }` (DAR's worst rank drops
 *   against ChatIR at round 3).
 * @param n how many.
 */
export function findCases(
  evals: CaseEvals,
  latent: SyntheticLatent,
  filter: CaseFilter,
  n = 1,
): Case[] {
  const { count, rounds } = _check(evals, latent);
  const at = filter.round;
  if (at !== undefined && !(Number.isInteger(at) && at >= 0 && at < rounds)) {
    throw new Error(`cases: round ${at} is not in 0..${rounds - 1}`);
  }
  const score = new Float64Array(count), where = new Int32Array(count);
  for (let q = 0; q < count; q++) {
    const c = evals.chatir.ranks[q], d = evals.dar.ranks[q], a = evals.adafuse.ranks[q];
    if (filter.by === "darDrop") {
      let best = -Infinity, br = 0;
      for (let r = at ?? 0; r <= (at ?? rounds - 1); r++) {
        if (d[r] - c[r] > best) [best, br] = [d[r] - c[r], r];
      }
      score[q] = best;
      where[q] = br;
    } else {
      const r = at ?? rounds - 1;
      score[q] = filter.by === "adafuseGain" ? d[r] - a[r] : a[r] - d[r];
      where[q] = r;
    }
  }
  const order = Array.from({ length: count }, (_, i) => i)
    .sort((x, y) => score[y] - score[x] || x - y)
    .slice(0, n);
  const label = {
    darDrop: "DAR's rank drop against ChatIR",
    adafuseGain: "ADaFuSE's gain over DAR",
    adafuseLoss: "ADaFuSE behind DAR",
  }[filter.by];
  return order.map((q) =>
    caseOf(evals, latent, q, `${label}: ${score[q]} places at round ${where[q]}`)
  );
}

/**
 * The most instructive dialogues, without repeats: DAR's 8 worst rank drops against ChatIR, the
 * 6 largest gains of ADaFuSE over DAR at the last round, and the 6 dialogues where ADaFuSE is
 * furthest behind DAR at the last round.
 */
export function instructiveCases(evals: CaseEvals, latent: SyntheticLatent): Case[] {
  const out: Case[] = [];
  const seen = new Set<number>();
  const take = (filter: CaseFilter, n: number) => {
    for (const c of findCases(evals, latent, filter, n + seen.size)) {
      if (n === 0) break;
      if (seen.has(c.index)) continue;
      seen.add(c.index);
      out.push(c);
      n--;
    }
  };
  take({ by: "darDrop" }, 8);
  take({ by: "adafuseGain" }, 6);
  take({ by: "adafuseLoss" }, 6);
  return out;
}

/** A case as table rows, one per round. */
export function caseTable(c: Case): Record<string, string | number>[] {
  return c.w.map((w, r) => ({
    round: r,
    "ChatIR rank": c.ranks.chatir[r],
    "DAR rank": c.ranks.dar[r],
    "ADaFuSE rank": c.ranks.adafuse[r],
    "text weight w": +w.toFixed(3),
    "cos(t, g)": +c.cos[r].toFixed(3),
    "off-scene": c.offScene[r] ? "yes" : "",
  }));
}

/**
 * The case explorer: the target's rank per round under the three methods (log axis, top) and
 * the gate's `w` with `cos(t, g)` (bottom), off-scene rounds marked; a dropdown switches among
 * the cases. `subtitle` (e.g. experiment.ts's `provenanceLabel`) goes under every case's title.
 */
export function casesFigure(
  cases: Case[],
  benchmark = "visdial",
  opts: { subtitle?: string } = {},
): FigureSpec {
  if (cases.length === 0) throw new Error("cases: no cases to draw");
  // deno-lint-ignore no-explicit-any
  const data: any[] = [];
  const per = 6;
  cases.forEach((c, i) => {
    const rounds = c.w.map((_, r) => r);
    const visible = i === 0;
    for (const m of ["chatir", "dar", "adafuse"] as const) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${METHOD_LABELS[m]} rank`,
        x: rounds,
        y: c.ranks[m],
        line: { color: METHOD_COLORS[m] },
        visible,
      });
    }
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: "text weight w",
      x: rounds,
      y: c.w.map((v) => +v.toFixed(4)),
      xaxis: "x2",
      yaxis: "y2",
      line: { color: METHOD_COLORS.adafuse, dash: "dot" },
      visible,
    });
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: "cos(t, g)",
      x: rounds,
      y: c.cos.map((v) => +v.toFixed(4)),
      xaxis: "x2",
      yaxis: "y2",
      line: { color: "#2ca02c", dash: "dash" },
      visible,
    });
    const off = rounds.filter((r) => c.offScene[r]);
    data.push({
      type: "scatter",
      mode: "markers",
      name: "off-scene generation",
      x: off,
      y: off.map(() => -0.1),
      xaxis: "x2",
      yaxis: "y2",
      marker: { symbol: "x", size: 11, color: "#d62728" },
      visible,
    });
  });
  const title = (c: Case) =>
    figureTitle(
      `${benchmark} dialogue ${c.index}${c.hard ? " (hard to generate)" : ""}` +
        (c.why ? `: ${c.why}` : ""),
      opts.subtitle,
    ).text;
  const buttons = cases.map((c, i) => ({
    label: `#${c.index}`,
    method: "update",
    args: [
      { visible: data.map((_, j) => Math.floor(j / per) === i) },
      { "title.text": title(c) },
    ],
  }));
  return {
    data,
    layout: {
      title: { text: title(cases[0]), font: { size: 15 }, x: 0.02, xanchor: "left" },
      grid: { rows: 2, columns: 1, pattern: "independent", roworder: "top to bottom" },
      xaxis: { title: { text: "round" }, dtick: 1 },
      yaxis: {
        title: { text: "rank of the target (1 = top)" },
        type: "log",
        autorange: "reversed",
      },
      xaxis2: { title: { text: "round" }, dtick: 1 },
      yaxis2: { title: { text: "w, cos(t, g)" }, range: [-0.2, 1] },
      updatemenus: [{ buttons, x: 1, xanchor: "right", y: 1.18, yanchor: "top", showactive: true }],
      legend: { orientation: "h", y: -0.15 },
      margin: { t: 90 },
    },
  };
}
