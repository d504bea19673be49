/**
 * lib/show/: figures (this file; static export through chromium.ts) and tables shown in a
 * notebook. May import runtime/ … eval/.
 *
 * Figures: a plotly figure spec (`{data, layout}`) shown in a notebook and written to
 * `figures/` as static SVG and PNG (plotly.js in headless Debian Chromium) and as a standalone
 * interactive HTML page that works offline (plotly.js inlined).
 *
 * @module
 */
import { closePage, withPage } from "./chromium.ts";
import { FIGURES_DIR, ROOT, writeFileAtomic } from "../runtime/paths.ts";

/** A plotly figure: traces and layout, as plotly.js takes them. */
export interface FigureSpec {
  /** The traces (plotly's `data`). */
  // deno-lint-ignore no-explicit-any
  data: Record<string, any>[];
  /** Axes, titles, legend (plotly's `layout`). */
  // deno-lint-ignore no-explicit-any
  layout?: Record<string, any>;
  /** Interactive options of the HTML page (plotly's `config`). */
  // deno-lint-ignore no-explicit-any
  config?: Record<string, any>;
}

/** Size of the static images. */
export interface FigureSize {
  /** CSS pixels (default 900). */
  width?: number;
  /** CSS pixels (default 520). */
  height?: number;
  /** PNG pixel ratio (default 2). */
  scale?: number;
}

/** The files one figure was written to. */
export interface FigureFiles {
  /** Path of the static SVG. */
  svg: string;
  /** Path of the static PNG. */
  png: string;
  /** Path of the standalone interactive HTML. */
  html: string;
}

/** A figure that notebooks display (plotly JSON with an SVG fallback) and that knows its files. */
export interface SavedFigure {
  /** The figure spec. */
  spec: FigureSpec;
  /** Where it was written. */
  files: FigureFiles;
  /** The static SVG text (used as the notebook's HTML fallback). */
  svg: string;
}

function _checkSpec(fig: FigureSpec, name: string): void {
  if (!fig || !Array.isArray(fig.data)) {
    throw new Error(
      `figure '${name}': expected a plotly spec {data: [...], layout}, got ${typeof fig}`,
    );
  }
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new Error(`figure name '${name}' must use letters, digits, '.', '_' and '-' only`);
  }
}

let _plotlyJs: string | undefined;

/** A standalone HTML page for `fig`, with plotly.js inlined so that it works offline. */
export async function figureHtml(fig: FigureSpec, title = "figure"): Promise<string> {
  _plotlyJs ??= await Deno.readTextFile(`${ROOT}/node_modules/plotly.js-dist-min/plotly.min.js`);
  const spec = JSON.stringify(fig).replace(/</g, "\\u003c");
  const safeTitle = title.replace(/[<&]/g, "");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${safeTitle}</title>
<script>${_plotlyJs}</script>
<style>html,body{margin:0;height:100%}#fig{width:100%;height:100%}</style></head>
<body><div id="fig"></div><script>
const fig = ${spec};
Plotly.newPlot("fig", fig.data, Object.assign({autosize: true}, fig.layout || {}),
  Object.assign({responsive: true}, fig.config || {}));
</script></body></html>
`;
}

/** Renders `fig` to SVG text and PNG bytes in headless Chromium. */
export async function renderStatic(
  fig: FigureSpec,
  size: FigureSize = {},
): Promise<{ svg: string; png: Uint8Array }> {
  const width = size.width ?? 900, height = size.height ?? 520, scale = size.scale ?? 2;
  const spec = JSON.stringify({ data: fig.data, layout: fig.layout ?? {} });
  return await withPage(async (page) => {
    const call = (format: string, s: number) =>
      `(async () => { const f = ${spec}; const d = document.createElement("div");
        document.body.appendChild(d);
        try {
          await Plotly.newPlot(d, f.data, f.layout);
          return await Plotly.toImage(d, {format: "${format}", width: ${width}, height: ${height}, scale: ${s}});
        } finally { Plotly.purge(d); d.remove(); } })()`;
    const svgUrl: string = await page.evaluate(call("svg", 1));
    const pngUrl: string = await page.evaluate(call("png", scale));
    const svg = decodeURIComponent(svgUrl.slice(svgUrl.indexOf(",") + 1));
    const b64 = pngUrl.slice(pngUrl.indexOf(",") + 1);
    const png = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return { svg, png };
  });
}

/**
 * Writes `fig` to `figures/<name>.svg`, `.png` and `.html` (each atomically) and returns a
 * value that a notebook cell displays as the interactive plotly figure (with the SVG as
 * fallback for front ends without plotly).
 */
export async function saveFigure(
  fig: FigureSpec,
  name: string,
  size: FigureSize = {},
  dir: string = FIGURES_DIR,
): Promise<SavedFigure> {
  _checkSpec(fig, name);
  const { svg, png } = await renderStatic(fig, size);
  const files = {
    svg: `${dir}/${name}.svg`,
    png: `${dir}/${name}.png`,
    html: `${dir}/${name}.html`,
  };
  await writeFileAtomic(files.svg, svg);
  await writeFileAtomic(files.png, png);
  await writeFileAtomic(files.html, await figureHtml(fig, name));
  const saved: SavedFigure = { spec: fig, files, svg };
  Object.defineProperty(saved, Symbol.for("Jupyter.display"), {
    value: () => displayBundle(fig, svg),
    enumerable: false,
  });
  return saved;
}

/** The Jupyter MIME bundle of a figure: plotly JSON, plus HTML (the SVG, or a note). */
export function displayBundle(fig: FigureSpec, svg?: string): Record<string, unknown> {
  return {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {} },
    "text/html": svg ?? "<p>(plotly figure: open the .html file in figures/)</p>",
  };
}

/** Closes the browser used for static figures (call at the end of a task). */
export async function closeFigures(): Promise<void> {
  await closePage();
}
