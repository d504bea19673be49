/**
 * The paper's reported numbers and the baselines' published ones, read from
 * `data/paper_reference.json` (each quantity with its value and source). The figures
 * (lib/paper/) and the stand-in's calibration (lib/calibration/) both read them.
 *
 * @module
 */
import { DATA_DIR } from "../runtime/paths.ts";

/** `data/paper_reference.json`: per figure, each reported quantity with its value and source. */
// deno-lint-ignore no-explicit-any
export type PaperReference = Record<string, Record<string, { value: any; source: string }>>;
let _ref: PaperReference | undefined;

/** The paper's reported numbers (`data/paper_reference.json`). */
export function paperReference(): PaperReference {
  _ref ??= JSON.parse(Deno.readTextFileSync(`${DATA_DIR}/paper_reference.json`)) as PaperReference;
  return _ref;
}

/** The paper this repository reproduces: title, authors, year and where to read it. */
export const PAPER: Readonly<{ title: string; authors: string; year: number; url: string }> = Object
  .freeze({
    title: "ADaFuSE: Adaptive Diffusion-generated Image and Text Fusion for Interactive " +
      "Text-to-Image Retrieval",
    authors: "Zhuocheng Zhang, Xingwu Zhang, Kangheng Liang, Guanxuan Li, Richard McCreadie, " +
      "Zijun Long",
    year: 2026,
    url: "https://arxiv.org/abs/2603.21886",
  });
