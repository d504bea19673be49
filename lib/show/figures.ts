/**
 * Figures: a plotly figure spec (`{data, layout}`) shown in a notebook and written to
 * `figures/` as static SVG and PNG (plotly.js in headless Debian Chromium) and as an interactive
 * HTML page that works offline: every page loads the one local copy `figures/plotly.min.js`
 * (copied from `node_modules/plotly.js-dist-min` when missing or different) by relative path.
 *
 * In a notebook a figure is one MIME bundle: plotly's JSON (the live figure, for front ends
 * with plotly's renderer), the static `image/svg+xml` and `image/png` (for the repository's web
 * view, nbviewer, untrusted notebooks and front ends without plotly) and a `text/plain` line.
 *
 * @module
 */
import { closePage, withPage } from "./chromium.ts";
import { FIGURES_DIR, ROOT, writeFileAtomic } from "../runtime/paths.ts";

/**
 * A figure's plotly title: `text`, with `subtitle` (where its numbers come from, e.g. "synthetic
 * stand-in, data seed 0, training seeds 0, 1, 2") in small type under it when given.
 */
export function figureTitle(text: string, subtitle?: string): { text: string } {
  return { text: subtitle ? `${text}<br><sub>${subtitle}</sub>` : text };
}

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
  /** The static SVG text (the notebook's `image/svg+xml`). */
  svg: string;
  /** The static PNG bytes (the notebook's `image/png`). */
  png: Uint8Array;
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

/** File name of the local plotly.js copy that every figure page loads (beside the pages). */
export const PLOTLY_JS_NAME = "plotly.min.js";

/** Path of the plotly.js bundle the project pins (`node_modules/plotly.js-dist-min`). */
export const PLOTLY_JS_SOURCE: string = `${ROOT}/node_modules/plotly.js-dist-min/plotly.min.js`;

async function _sameBytes(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Makes sure `dir/plotly.min.js` is a copy of the pinned plotly.js (copies it, atomically, when
 * missing or different); returns its path.
 */
export async function ensurePlotlyJs(dir: string = FIGURES_DIR): Promise<string> {
  const target = `${dir}/${PLOTLY_JS_NAME}`;
  if (!(await _sameBytes(PLOTLY_JS_SOURCE, target))) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(PLOTLY_JS_SOURCE);
    } catch {
      throw new Error(`${PLOTLY_JS_SOURCE} is missing; run \`sh lib/tools/setup.sh\` (npm ci)`);
    }
    await writeFileAtomic(target, bytes);
  }
  return target;
}

/**
 * An interactive HTML page for `fig` that loads plotly.js from `plotlySrc` (by default the
 * relative `plotly.min.js` that {@linkcode ensurePlotlyJs} keeps beside the pages), so it works
 * offline and stays small. Where plotly.js is absent (a fresh clone: the copy is made by the
 * set-up, not committed), the page shows the static `png` beside it (default `<title>.png`) and
 * says how to get the interactive one.
 */
export function figureHtml(
  fig: FigureSpec,
  title = "figure",
  plotlySrc = PLOTLY_JS_NAME,
  png = `${title}.png`,
): string {
  const spec = JSON.stringify(fig).replace(/</g, "\\u003c");
  const safeTitle = title.replace(/[<&]/g, "");
  const src = plotlySrc.replace(/["<&]/g, "");
  const img = png.replace(/["<&']/g, "");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${safeTitle}</title>
<script src="${src}"></script>
<style>html,body{margin:0;height:100%}#fig{width:100%;height:100%}</style></head>
<body><div id="fig"></div><script>
const fig = ${spec};
if (typeof Plotly === "undefined") {
  document.getElementById("fig").innerHTML = '<p style="font:14px sans-serif;margin:8px">' +
    'plotly.js is not beside this page (run <code>sh lib/tools/setup.sh</code> for the ' +
    'interactive figure); the static one:</p><img src="${img}" style="max-width:100%">';
} else {
  Plotly.newPlot("fig", fig.data, Object.assign({autosize: true}, fig.layout || {}),
    Object.assign({responsive: true}, fig.config || {}));
}
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
 * Writes `fig` to `figures/<name>.svg`, `.png` and `.html` (each atomically; the page loads
 * `figures/plotly.min.js`, kept up to date here) and returns a value that a notebook cell
 * displays as {@linkcode displayBundle}: the interactive plotly figure with the static PNG
 * beside it.
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
  await ensurePlotlyJs(dir);
  await writeFileAtomic(files.html, figureHtml(fig, name));
  const saved: SavedFigure = { spec: fig, files, svg, png };
  Object.defineProperty(saved, Symbol.for("Jupyter.display"), {
    value: () => displayBundle(fig, { png, name }),
    enumerable: false,
  });
  return saved;
}

function _base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * The Jupyter MIME bundle of a figure: plotly's JSON (live front ends draw it), the static
 * `image/png` (base64) when given, and a `text/plain` line naming the figure's files. No
 * `image/svg+xml`: nbconvert ranks it above PNG and its HTML sanitiser strips inline SVG to
 * nothing, so exported notebooks would show blanks (the SVG stays in `figures/`). No
 * `text/html`: untrusted notebooks sanitise it into garbled text.
 */
export function displayBundle(
  fig: FigureSpec,
  statics: { png?: Uint8Array; name?: string } = {},
): Record<string, unknown> {
  const bundle: Record<string, unknown> = {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {} },
  };
  if (statics.png !== undefined) bundle["image/png"] = _base64(statics.png);
  bundle["text/plain"] = statics.name
    ? `figure ${statics.name}: figures/${statics.name}.svg, .png, .html`
    : "plotly figure";
  return bundle;
}

/** Closes the browser used for static figures (call at the end of a task). */
export async function closeFigures(): Promise<void> {
  await closePage();
}
