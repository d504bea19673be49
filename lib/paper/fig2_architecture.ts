/**
 * Figure 2 (notebook 02_architecture): the fusion head's diagram with each block's parameter
 * count, and the paper-vs-ours table of the head's size.
 *
 * @module
 */
import type { FigureSpec } from "../show/figures.ts";
import { parameterCount, parameterShare } from "../model/config.ts";
import { type ComparisonRow, fmt, paperReference, yesNo } from "./reference.ts";

/** One box of the architecture diagram: label, centre and the block it stands for. */
interface _Box {
  id: string;
  label: string;
  x: number;
  y: number;
  color: string;
}

/**
 * Figure 2: a diagram of the fusion head (projections, adaptive gate, mixture of experts,
 * residual, normalisation), with each block's parameter count from `counts` (block name →
 * count, as {@linkcode parameterTable} gives them) written under its label.
 */
export function architectureFigure(
  counts: Record<string, number>,
  sizes: { dim: number; proj: number; hidden: number; experts: number },
): FigureSpec {
  const n = (
    k: string,
  ) => (counts[k] !== undefined ? `<br>${counts[k].toLocaleString("en")} params` : "");
  const { dim: d, proj: p, hidden: h, experts: k } = sizes;
  const boxes: _Box[] = [
    { id: "t", label: `text t<br>(${d})`, x: 0, y: 3, color: "#e0e0e0" },
    { id: "g", label: `generated image g<br>(${d})`, x: 0, y: 0, color: "#e0e0e0" },
    {
      id: "pt",
      label: `W_T: ${d}→${p}, GELU${n("text projection")}`,
      x: 2.1,
      y: 3,
      color: "#c6dbef",
    },
    {
      id: "pd",
      label: `W_D: ${d}→${p}, GELU${n("image projection")}`,
      x: 2.1,
      y: 0,
      color: "#c6dbef",
    },
    { id: "h", label: `h = [h_T ; h_D]<br>(${2 * p})`, x: 4.1, y: 1.5, color: "#e0e0e0" },
    {
      id: "gate",
      label: `gate: ${2 * p}→${h}→1, σ${n("gate")}<br>w = text weight`,
      x: 6.1,
      y: 3.2,
      color: "#fdd0a2",
    },
    {
      id: "router",
      label: `router: ${2 * p}→${h / 4}→${k},<br>softmax${n("router")}`,
      x: 6.1,
      y: 1.5,
      color: "#c7e9c0",
    },
    {
      id: "experts",
      label: `${k} experts:<br>${2 * p}→${h}, GELU${n("experts")}`,
      x: 6.1,
      y: -0.2,
      color: "#c7e9c0",
    },
    {
      id: "mix",
      label: `Σ p_k E_k,<br>W_o: ${h}→${d}${n("output layer")}<br>residual r`,
      x: 8.1,
      y: 0.6,
      color: "#c7e9c0",
    },
    { id: "q", label: "q = normalize(<br>w·t + (1−w)·g + r)", x: 10.2, y: 2, color: "#9ecae1" },
  ];
  const at = Object.fromEntries(boxes.map((b) => [b.id, b]));
  const edges: [string, string][] = [
    ["t", "pt"],
    ["g", "pd"],
    ["pt", "h"],
    ["pd", "h"],
    ["h", "gate"],
    ["h", "router"],
    ["h", "experts"],
    ["router", "mix"],
    ["experts", "mix"],
    ["gate", "q"],
    ["mix", "q"],
    ["t", "q"],
    ["g", "q"],
  ];
  const w = 0.75, hh = 0.42;
  return {
    data: [],
    layout: {
      title: { text: "ADaFuSE fusion head" },
      xaxis: { visible: false, range: [-0.9, 11.1] },
      yaxis: { visible: false, range: [-1, 4] },
      shapes: boxes.map((b) => ({
        type: "rect",
        x0: b.x - w,
        x1: b.x + w,
        y0: b.y - hh,
        y1: b.y + hh,
        fillcolor: b.color,
        line: { color: "#555", width: 1 },
        layer: "below",
      })),
      annotations: [
        ...boxes.map((b) => ({
          x: b.x,
          y: b.y,
          text: b.label,
          showarrow: false,
          font: { size: 10 },
        })),
        ...edges.map(([a, b]) => ({
          x: at[b].x - w,
          y: at[b].y,
          ax: at[a].x + w,
          ay: at[a].y,
          xref: "x",
          yref: "y",
          axref: "x",
          ayref: "y",
          text: "",
          showarrow: true,
          arrowhead: 2,
          arrowwidth: 1.2,
          arrowcolor: "#777",
          opacity: a === "t" && b === "q" || a === "g" && b === "q" ? 0.35 : 1,
        })),
      ],
      margin: { l: 10, r: 10, t: 50, b: 10 },
      plot_bgcolor: "#fff",
    },
  };
}

/** Figure 2: the head's size. */
export function fig2Comparison(): ComparisonRow[] {
  const ref = paperReference().fig2_parameters;
  const n = parameterCount();
  const share = 100 * parameterShare();
  return [
    {
      quantity: "ADaFuSE parameters (defaults, logit scale included)",
      paper: ref.adafuse_parameters.value.toLocaleString("en"),
      ours: n.toLocaleString("en"),
      holds: yesNo(n === ref.adafuse_parameters.value),
    },
    {
      quantity: "share of BLIP-base's parameters (%)",
      paper: `+${ref.share_percent.value}`,
      ours: `+${fmt(share)}`,
      holds: yesNo(fmt(share) === fmt(ref.share_percent.value)),
    },
  ];
}
