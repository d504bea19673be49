/**
 * The lesson of notebook 11: fusing a text query with a generated image, from first principles, on
 * a toy world small enough to draw. Images are directions in the plane (unit vectors, given by
 * their angle); a query's text points near its target, blurred by the text's vagueness; the
 * generated image points much closer to the target when the render is right, anywhere when it
 * went off-scene. Retrieval ranks the images by cosine, so everything can be drawn on a circle.
 *
 * Nothing here is the paper's model: the gate is two numbers, `w = σ(a·cos(t, g) + b)`, learned
 * by gradient descent on the same contrastive loss as the head's (InfoNCE over the images).
 *
 * @module
 */
import { Rng } from "../runtime/rng.ts";
import type { FigureSpec } from "../show/figures.ts";
import { METHOD_COLORS } from "./reference.ts";

/** The toy world's knobs. */
export interface ToyConfig {
  /** Images in the corpus (evenly random directions in the plane). */
  images: number;
  /** Queries (each has a target image, a text and a generated image). */
  queries: number;
  /** Standard deviation of the text's angle around its target (radians): how vague text is. */
  textNoise: number;
  /** The same for a right render: how sharp a good generated image is. */
  genNoise: number;
  /** Share of renders that go off-scene (their direction is random). */
  offScene: number;
  /** Seed of everything random. */
  seed: number;
}

/** The lesson's world: vague text, sharp renders, 45% of them off-scene. */
export const TOY_DEFAULTS: Readonly<ToyConfig> = Object.freeze({
  images: 60,
  queries: 600,
  textNoise: 0.3,
  genNoise: 0.08,
  offScene: 0.45,
  seed: 0,
});

/** A toy world: every vector is a direction, stored as its angle. */
export interface ToyWorld {
  /** The config it was drawn from. */
  config: ToyConfig;
  /** Angle of each corpus image. */
  images: Float64Array;
  /** Target image of each query. */
  target: Int32Array;
  /** Angle of each query's text. */
  text: Float64Array;
  /** Angle of each query's generated image. */
  gen: Float64Array;
  /** 1 where the render went off-scene. */
  offScene: Uint8Array;
}

/** Draws a toy world. */
export function toyWorld(config: Partial<ToyConfig> = {}): ToyWorld {
  const c = { ...TOY_DEFAULTS, ...config };
  const rng = new Rng(c.seed);
  const images = Float64Array.from({ length: c.images }, () => 2 * Math.PI * rng.uniform());
  const target = Int32Array.from({ length: c.queries }, () => rng.int(c.images));
  const text = new Float64Array(c.queries), gen = new Float64Array(c.queries);
  const offScene = new Uint8Array(c.queries);
  for (let q = 0; q < c.queries; q++) {
    const a = images[target[q]];
    text[q] = a + c.textNoise * rng.normal();
    offScene[q] = rng.uniform() < c.offScene ? 1 : 0;
    gen[q] = offScene[q] ? 2 * Math.PI * rng.uniform() : a + c.genNoise * rng.normal();
  }
  return { config: c, images, target, text, gen, offScene };
}

/** cos(t, g) of each query: the cosine of the angle between its text and its render. */
export function toyCos(w: ToyWorld): Float64Array {
  return w.text.map((t, q) => Math.cos(t - w.gen[q]));
}

/** The angle of the fused query `w·t + (1 − w)·g` (normalising does not move a direction). */
export function fuseAngle(t: number, g: number, w: number): number {
  return Math.atan2(
    w * Math.sin(t) + (1 - w) * Math.sin(g),
    w * Math.cos(t) + (1 - w) * Math.cos(g),
  );
}

/**
 * The 0-based rank of each query's target when the images are sorted by cosine to the fused
 * query, descending (ties by image index), with text weight `weight(q)` for query q.
 */
export function toyRanks(w: ToyWorld, weight: (q: number) => number): Int32Array {
  const ranks = new Int32Array(w.target.length);
  for (let q = 0; q < ranks.length; q++) {
    const a = fuseAngle(w.text[q], w.gen[q], weight(q));
    const t = w.target[q], st = Math.cos(a - w.images[t]);
    let r = 0;
    for (let j = 0; j < w.images.length; j++) {
      const s = Math.cos(a - w.images[j]);
      if (s > st || (s === st && j < t)) r++;
    }
    ranks[q] = r;
  }
  return ranks;
}

/** Hits@K in percent over the queries `which` selects (all by default). */
export function toyHits(ranks: Int32Array, k: number, which?: (q: number) => boolean): number {
  let n = 0, hit = 0;
  ranks.forEach((r, q) => {
    if (which && !which(q)) return;
    n++;
    if (r < k) hit++;
  });
  return n ? (100 * hit) / n : NaN;
}

/**
 * Hits@K for each static text weight in `weights`: over every query, the right renders only and
 * the off-scene ones only.
 */
export function staticSweep(
  w: ToyWorld,
  weights: number[],
  k: number,
): { w: number; all: number; right: number; offScene: number }[] {
  return weights.map((x) => {
    const r = toyRanks(w, () => x);
    return {
      w: x,
      all: toyHits(r, k),
      right: toyHits(r, k, (q) => !w.offScene[q]),
      offScene: toyHits(r, k, (q) => w.offScene[q] === 1),
    };
  });
}

/** The gate: text weight `σ(a·cos + b)`. */
export function gateWeight(a: number, b: number, cos: number): number {
  return 1 / (1 + Math.exp(-(a * cos + b)));
}

/**
 * The contrastive loss of a gate on a world: mean over queries of −log softmax over the images
 * of `scale · cos(fused query, image)`, at the target (InfoNCE with every image a negative).
 */
export function toyLoss(w: ToyWorld, a: number, b: number, scale = 10): number {
  const cos = toyCos(w);
  let total = 0;
  for (let q = 0; q < w.target.length; q++) {
    const f = fuseAngle(w.text[q], w.gen[q], gateWeight(a, b, cos[q]));
    let max = -Infinity;
    const s = Array.from(w.images, (x) => scale * Math.cos(f - x));
    for (const v of s) max = Math.max(max, v);
    const lse = max + Math.log(s.reduce((acc, v) => acc + Math.exp(v - max), 0));
    total += lse - s[w.target[q]];
  }
  return total / w.target.length;
}

/** A learned gate and its loss after each step. */
export interface ToyGate {
  /** Slope on cos(t, g). */
  a: number;
  /** Offset. */
  b: number;
  /** The loss before each step, then after the last. */
  losses: number[];
}

/**
 * Learns the gate's two numbers by gradient descent on {@linkcode toyLoss} (the gradient by
 * central differences: two numbers need no backpropagation), from `a = b = 0` (w = 0.5, the
 * 0.5/0.5 fusion).
 */
export function trainToyGate(
  w: ToyWorld,
  opts: { steps?: number; lr?: number; scale?: number } = {},
): ToyGate {
  const { steps = 200, lr = 0.5, scale = 10 } = opts;
  let a = 0, b = 0;
  const h = 1e-4, losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(toyLoss(w, a, b, scale));
    const ga = (toyLoss(w, a + h, b, scale) - toyLoss(w, a - h, b, scale)) / (2 * h);
    const gb = (toyLoss(w, a, b + h, scale) - toyLoss(w, a, b - h, scale)) / (2 * h);
    a -= lr * ga;
    b -= lr * gb;
  }
  losses.push(toyLoss(w, a, b, scale));
  return { a, b, losses };
}

const _arrow = (angle: number, name: string, color: string, dash = "solid") => ({
  type: "scatter",
  mode: "lines+markers",
  x: [0, 0.85 * Math.cos(angle)],
  y: [0, 0.85 * Math.sin(angle)],
  name,
  line: { color, width: 3, dash },
  marker: { size: [0, 10], symbol: "arrow", angleref: "previous" },
});

/** The world on the unit circle, one query's target ringed, its text and render as arrows. */
export function toyWorldFigure(w: ToyWorld, q: number, title: string): FigureSpec {
  return {
    data: [
      {
        type: "scatter",
        mode: "markers",
        x: Array.from(w.images, Math.cos),
        y: Array.from(w.images, Math.sin),
        name: "images of the corpus",
        marker: { color: "#bbbbbb", size: 9 },
      },
      {
        type: "scatter",
        mode: "markers",
        x: [Math.cos(w.images[w.target[q]])],
        y: [Math.sin(w.images[w.target[q]])],
        name: "the target image",
        marker: { color: "#000000", size: 22, symbol: "circle-open", line: { width: 3 } },
      },
      _arrow(w.text[q], "the text query t", METHOD_COLORS.chatir, "dot"),
      _arrow(
        w.gen[q],
        `the generated image g (${w.offScene[q] ? "off-scene" : "right"})`,
        METHOD_COLORS.dar,
        "dash",
      ),
    ],
    layout: {
      title: { text: title },
      xaxis: { range: [-1.2, 1.2], scaleanchor: "y", zeroline: false },
      yaxis: { range: [-1.2, 1.2], zeroline: false },
      width: 620,
      height: 600,
    },
  };
}

/** Hits@K against a static text weight: every query, right renders, off-scene renders. */
export function toySweepFigure(rows: ReturnType<typeof staticSweep>, k: number): FigureSpec {
  const line = (y: number[], name: string, color: string, dash = "solid") => ({
    type: "scatter",
    mode: "lines",
    x: rows.map((r) => r.w),
    y,
    name,
    line: { color, width: 3, dash },
  });
  return {
    data: [
      line(rows.map((r) => r.all), "every query", "#000000"),
      line(rows.map((r) => r.right), "right renders", METHOD_COLORS.adafuse, "dash"),
      line(rows.map((r) => r.offScene), "off-scene renders", METHOD_COLORS.dar, "dot"),
    ],
    layout: {
      title: { text: `One fixed text weight for every query: Hits@${k}` },
      xaxis: { title: { text: "text weight w (0: the image alone, 1: the text alone)" } },
      yaxis: { title: { text: `Hits@${k} (%)` }, range: [0, 100] },
    },
  };
}

/**
 * The learned gate's image weight `1 − w` against cos(t, g), over the histograms of cos(t, g) for
 * right and off-scene renders.
 */
export function toyGateFigure(w: ToyWorld, gate: ToyGate): FigureSpec {
  const cos = toyCos(w);
  const xs = Array.from({ length: 101 }, (_, i) => -1 + i / 50);
  const hist = (off: number, name: string, color: string) => ({
    type: "histogram",
    x: Array.from(cos).filter((_, q) => w.offScene[q] === off),
    name,
    yaxis: "y2",
    opacity: 0.45,
    marker: { color },
    xbins: { start: -1, end: 1, size: 0.05 },
  });
  return {
    data: [
      hist(0, "cos(t, g) of right renders", METHOD_COLORS.adafuse),
      hist(1, "cos(t, g) of off-scene renders", METHOD_COLORS.dar),
      {
        type: "scatter",
        mode: "lines",
        x: xs,
        y: xs.map((c) => 1 - gateWeight(gate.a, gate.b, c)),
        name: "learned image weight 1 − w",
        line: { color: "#000000", width: 4 },
      },
    ],
    layout: {
      title: { text: "What the gate learned: trust the image when it agrees with the text" },
      barmode: "overlay",
      xaxis: { title: { text: "cos(t, g)" }, range: [-1, 1] },
      yaxis: { title: { text: "image weight 1 − w" }, range: [0, 1] },
      yaxis2: { title: { text: "queries" }, overlaying: "y", side: "right", showgrid: false },
      legend: { orientation: "h", y: -0.2 },
    },
  };
}

/** Hits@K of each way of fusing, on `w`: every query, right renders, off-scene renders. */
export interface LessonRow {
  /** How the query is built. */
  method: string;
  /** Hits@K over every query (%). */
  all: number;
  /** Over the right renders (%). */
  right: number;
  /** Over the off-scene renders (%). */
  offScene: number;
}

/**
 * The lesson's scoreboard on a world the gate was not trained on: the text alone, the image
 * alone, DAR's two fixed weights (0.8 and 0.5 for the text), the best fixed weight on this world
 * (chosen with hindsight, on these very queries), and the learned gate.
 */
export function lessonScoreboard(w: ToyWorld, gate: ToyGate, k: number): LessonRow[] {
  const row = (method: string, weight: (q: number) => number): LessonRow => {
    const r = toyRanks(w, weight);
    return {
      method,
      all: toyHits(r, k),
      right: toyHits(r, k, (q) => !w.offScene[q]),
      offScene: toyHits(r, k, (q) => w.offScene[q] === 1),
    };
  };
  const grid = Array.from({ length: 21 }, (_, i) => i / 20);
  const best = staticSweep(w, grid, k).reduce((a, b) => (b.all > a.all ? b : a));
  const cos = toyCos(w);
  return [
    row("text alone (w = 1)", () => 1),
    row("image alone (w = 0)", () => 0),
    row("DAR's early rounds (w = 0.8)", () => 0.8),
    row("DAR's later rounds (w = 0.5)", () => 0.5),
    row(`best fixed weight, in hindsight (w = ${best.w})`, () => best.w),
    row("the learned gate w = σ(a·cos(t, g) + b)", (q) => gateWeight(gate.a, gate.b, cos[q])),
  ];
}

/**
 * The paper's two claims about the gate, beside what the toy world shows: a gate that sees
 * both inputs beats fixed fusion, and the image weight rises with cos(t, g).
 */
export function lessonComparison(rows: LessonRow[], gate: ToyGate): Record<string, string>[] {
  const gated = rows.at(-1)!, fixed = rows[rows.length - 2], dar = rows[3];
  return [
    {
      claim: "a gate that sees t and g beats fixed-weight fusion",
      paper: "ADaFuSE − DAR +3.49 Hits@10 at VisDial round 10 (real data)",
      "this toy world": `gate − DAR's 0.5/0.5 ${(gated.all - dar.all).toFixed(1)}, gate − best ` +
        `fixed weight ${(gated.all - fixed.all).toFixed(1)} points of Hits@K`,
    },
    {
      claim: "the image weight 1 − w rises with cos(t, g)",
      paper: "yes (Fig. 4; mostly 15-25%)",
      "this toy world": gate.a < 0
        ? `yes: a = ${gate.a.toFixed(1)} (1 − w from ${
          (1 - gateWeight(gate.a, gate.b, 0)).toFixed(2)
        } at cos 0 to ${(1 - gateWeight(gate.a, gate.b, 1)).toFixed(2)} at cos 1)`
        : `no: a = ${gate.a.toFixed(1)}`,
    },
  ];
}
