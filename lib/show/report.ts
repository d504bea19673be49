/**
 * The reviewer's page: `figures/index.html` (every figure, its SVG inlined, with links to the
 * interactive page and the PNG) and its Markdown twin `figures/REPORT.md` (renders on a git web
 * view: images by relative links), with the paper-vs-ours tables and their verdicts as the
 * executed notebooks computed them, the calibration table of the synthetic stand-in when one
 * was written, the configuration, the seeds, the commit, the date and the machine.
 *
 * Nothing is recomputed here: the tables are read from the notebooks' outputs (each table whose
 * columns are `quantity | paper | ours | holds`), so the page shows what the notebooks show.
 *
 * @module
 */
import { PlotlyPage } from "./chromium.ts";
import { PAPER } from "../data/paper_reference.ts";
import {
  DATA_DIR,
  FIGURES_DIR,
  NOTEBOOKS_DIR,
  ROOT,
  writeFileAtomic,
  writeMarkedBlock,
} from "../runtime/paths.ts";

/** One paper-vs-ours table found in an executed notebook. */
export interface ReportTable {
  /** The notebook file name. */
  notebook: string;
  /** The notebook's title (its first `# ` heading). */
  title: string;
  /** The table as HTML (arquero's). */
  html: string;
  /** The table as Markdown (arquero's). */
  markdown: string;
}

/** Options of {@linkcode writeReport}. */
export interface ReportOptions {
  /** Where the figures are and the page goes (default `figures/`). */
  figuresDir?: string;
  /** Where the executed notebooks are (default `notebooks/`). */
  notebooksDir?: string;
  /** Settings to list (config, data seed, training seeds, run…), in order. */
  settings?: Record<string, unknown>;
  /**
   * A Markdown file with the calibration table of the synthetic data; included when it exists
   * (default: `data/calibration/report.md`, written by `deno task calibrate`).
   */
  calibration?: string;
  /** Date shown (default: now). */
  date?: Date;
  /**
   * A Markdown file whose `<!-- verdicts:start -->` … `<!-- verdicts:end -->` block gets
   * {@linkcode readmeVerdicts} (`npm run repro` passes the README); none by default.
   */
  readme?: string;
}

/** What {@linkcode writeReport} wrote. */
export interface ReportFiles {
  /** Path of `index.html`. */
  html: string;
  /** Path of `REPORT.md`. */
  markdown: string;
  /** Figure names on the page, in order. */
  figures: string[];
  /** The paper-vs-ours tables found. */
  tables: ReportTable[];
}

const _join = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v ?? ""));
const _esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The paper-vs-ours tables in the executed notebooks of `dir`, in notebook order. */
export function reportTables(dir: string = NOTEBOOKS_DIR): ReportTable[] {
  const names = [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
    .map((e) => e.name)
    .sort();
  const out: ReportTable[] = [];
  for (const name of names) {
    const nb = JSON.parse(Deno.readTextFileSync(`${dir}/${name}`));
    // deno-lint-ignore no-explicit-any
    const cells: any[] = nb.cells ?? [];
    const heading = cells
      .filter((c) => c.cell_type === "markdown")
      .map((c) => _join(c.source).match(/^# (.+)$/m)?.[1])
      .find(Boolean) ?? name;
    for (const c of cells) {
      for (const o of c.outputs ?? []) {
        const md = _join(o.data?.["text/plain"]);
        if (/^\|quantity\|paper\|ours\|holds\|/.test(md)) {
          out.push({
            notebook: name,
            title: heading,
            html: _join(o.data["text/html"]),
            markdown: md,
          });
        }
      }
    }
  }
  return out;
}

/** The figure names in `dir`: every `NAME.svg` (sorted). */
export function reportFigures(dir: string = FIGURES_DIR): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && e.name.endsWith(".svg"))
      .map((e) => e.name.slice(0, -4))
      .sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** The commit of the working tree (`git rev-parse HEAD`, `+dirty` when it has changes). */
export function gitCommit(cwd: string = ROOT): string {
  try {
    const run = (args: string[]) =>
      new TextDecoder().decode(
        new Deno.Command("git", { args, cwd, stderr: "null" }).outputSync()
          .stdout,
      ).trim();
    const head = run(["rev-parse", "HEAD"]);
    if (!head) return "unknown (not a git checkout)";
    const dirty = run(["status", "--porcelain", "--untracked-files=no"]) ? " +dirty" : "";
    return head + dirty;
  } catch {
    return "unknown (git not found)";
  }
}

/** The machine in one line: CPU model, cores, memory, OS. */
export function machineLine(): string {
  let cpu = "unknown CPU";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  const gb = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${gb} GiB, ${Deno.build.os} ` +
    `${Deno.build.arch}, Deno ${Deno.version.deno}`;
}

function _calibration(path?: string): { path: string; text: string } | undefined {
  const candidates = path ? [path] : [`${DATA_DIR}/calibration/report.md`];
  for (const p of candidates) {
    try {
      return { path: p, text: Deno.readTextFileSync(p) };
    } catch { /* not there */ }
  }
  return undefined;
}

function _mdCell(v: unknown): string {
  return (typeof v === "string" ? v : JSON.stringify(v)).replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** One row of a paper-vs-ours table, with its verdict as the report shows it. */
export interface ReportRow {
  /** What is compared. */
  quantity: string;
  /** The paper's value. */
  paper: string;
  /** Ours. */
  ours: string;
  /**
   * `yes` / `no` (a result), `–` (no claim), `calibrated, not a result` (a number the synthetic
   * stand-in was calibrated to: ChatIR's and DAR's rows, notebook 05's targets), `deliberate` (a
   * recipe value this repository changes on purpose, or where it selects models) or `same as the
   * reference` (a recipe value it keeps).
   */
  holds: string;
}

/** The rows of a `quantity | paper | ours | holds` Markdown table, relabelled (see ReportRow). */
export function reportRows(t: ReportTable): ReportRow[] {
  const rows = t.markdown.trim().split("\n").slice(2).map((line) => {
    const cells = line.replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/)
      .map((c) => c.replace(/\\\|/g, "|").trim());
    return { quantity: cells[0], paper: cells[1], ours: cells[2], holds: cells[3] };
  }).filter((r) => r.quantity !== undefined && r.holds !== undefined);
  const calibrated = t.notebook.startsWith("05_");
  return rows.map((r) => {
    // a baseline's own number ("DAR degradation rate …", "ChatIR, VisDial …"), not a row about
    // it ("DAR's … drops")
    if (calibrated || /^(ChatIR|DAR)(?![\w'’])/.test(r.quantity)) {
      return { ...r, holds: "calibrated, not a result" };
    }
    if (/^recipe:|^model selected on/.test(r.quantity)) {
      return { ...r, holds: r.paper === r.ours ? "same as the reference" : "deliberate" };
    }
    return r;
  });
}

/** One line of the verdict summary: a notebook's claim and whether it holds here. */
export interface VerdictRow {
  /** The notebook's title. */
  claim: string;
  /** The notebook file. */
  notebook: string;
  /** `holds`, `in part`, `does not hold`, or `calibrated` / `–` when it makes no claim. */
  verdict: string;
  /** How many result rows hold, of how many; and what was left out. */
  detail: string;
}

/**
 * The verdict summary: one row per notebook with a paper-vs-ours table. A claim holds when every
 * result row (`yes`/`no`) holds, in part when some do, not when none does; calibrated and
 * deliberate rows are no results and are counted apart.
 */
export function verdictSummary(tables: ReportTable[]): VerdictRow[] {
  const byNotebook = new Map<string, ReportTable[]>();
  for (const t of tables) byNotebook.set(t.notebook, [...(byNotebook.get(t.notebook) ?? []), t]);
  return [...byNotebook].map(([notebook, ts]) => {
    const rows = ts.flatMap(reportRows);
    const results = rows.filter((r) => r.holds === "yes" || r.holds === "no");
    const yes = results.filter((r) => r.holds === "yes").length;
    const calibrated = rows.filter((r) => r.holds.startsWith("calibrated")).length;
    const deliberate = rows.filter((r) => r.holds === "deliberate").length;
    const verdict = results.length === 0
      ? (calibrated ? "calibrated" : "–")
      : yes === results.length
      ? "holds"
      : yes === 0
      ? "does not hold"
      : "in part";
    const apart = [
      calibrated ? `${calibrated} calibrated` : "",
      deliberate ? `${deliberate} deliberate` : "",
    ].filter(Boolean).join(", ");
    return {
      claim: ts[0].title,
      notebook,
      verdict,
      detail: `${yes} of ${results.length} results hold` +
        (apart ? ` (${apart}, not results)` : ""),
    };
  });
}

/** The markers of the README's generated verdict block. */
export const README_VERDICT_MARKERS = ["<!-- verdicts:start -->", "<!-- verdicts:end -->"] as const;

/**
 * The README's verdict block: one item per notebook of the paper's figures (those numbered
 * below `upTo`; the studies beyond the paper stay on the reviewer's page) with its verdict and
 * every result row as `quantity: ours (paper: …) ✓/✗`, from the executed notebooks' tables, so
 * that no number in it is copied by hand.
 */
export function readmeVerdicts(tables: ReportTable[], upTo = "07"): string {
  const mine = tables.filter((t) => t.notebook < upTo);
  const byNotebook = new Map<string, ReportTable[]>();
  for (const t of mine) byNotebook.set(t.notebook, [...(byNotebook.get(t.notebook) ?? []), t]);
  const lines: string[] = [];
  for (const v of verdictSummary(mine)) {
    const rows = (byNotebook.get(v.notebook) ?? []).flatMap(reportRows)
      .filter((r) => r.holds === "yes" || r.holds === "no");
    const results = rows.map((r) =>
      `${r.quantity}: ${r.ours} (paper: ${r.paper}) ${r.holds === "yes" ? "✓" : "✗"}`
    ).join("; ");
    const id = v.notebook.slice(0, 2);
    lines.push(
      `- **${v.claim.replace(/^\d\d · /, "")}: ${v.verdict}** ` +
        `([${id}](notebooks/${v.notebook})). ${results || v.detail}.`,
    );
  }
  return lines.join("\n");
}

const _VERDICT_COLOURS: Record<string, string> = {
  "holds": "#d4edda",
  "in part": "#fff3cd",
  "does not hold": "#f8d7da",
};

/**
 * Writes `index.html` and `REPORT.md` into the figures folder (atomically) from the figures
 * there and the executed notebooks; returns what it wrote. Both open with the verdict summary
 * ({@linkcode verdictSummary}); the provenance (commit, date, machine, settings) follows it.
 */
export async function writeReport(opts: ReportOptions = {}): Promise<ReportFiles> {
  const dir = opts.figuresDir ?? FIGURES_DIR;
  const figures = reportFigures(dir);
  const tables = reportTables(opts.notebooksDir ?? NOTEBOOKS_DIR);
  const calib = _calibration(opts.calibration);
  const facts: [string, string][] = [
    ["commit", gitCommit()],
    ["date", (opts.date ?? new Date()).toISOString()],
    ["machine", machineLine()],
    ...Object.entries(opts.settings ?? {}).map(([k, v]) =>
      [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string]
    ),
  ];
  const byNotebook = new Map<string, ReportTable[]>();
  for (const t of tables) byNotebook.set(t.notebook, [...(byNotebook.get(t.notebook) ?? []), t]);

  // Markdown twin
  const verdicts = verdictSummary(tables);
  const mdTable = (rows: ReportRow[]) =>
    [
      "|quantity|paper|ours|holds|",
      "|:-|:-|:-|:-|",
      ...rows.map((r) =>
        `|${_mdCell(r.quantity)}|${_mdCell(r.paper)}|${_mdCell(r.ours)}|${_mdCell(r.holds)}|`
      ),
    ].join("\n");
  const md: string[] = [
    "# ADaFuSE reproduction: the reviewer's page",
    "",
    `The paper: [${PAPER.title}](${PAPER.url}) (${PAPER.authors}, ${PAPER.year}).`,
    "",
    "Generated by `npm run repro` (lib/show/report.ts) from the executed notebooks; the " +
    "interactive twin is `index.html`. The default data are a synthetic stand-in (see " +
    "docs/data.md): these are verdicts on the stand-in, not on the paper.",
    "",
    "## Verdicts",
    "",
    "|claim|verdict|results|evidence|",
    "|:-|:-|:-|:-|",
    ...verdicts.map((v) =>
      `|${_mdCell(v.claim)}|**${v.verdict}**|${_mdCell(v.detail)}|` +
      `[notebooks/${v.notebook}](../notebooks/${v.notebook})|`
    ),
    "",
    "A claim holds when every result row of its table holds. Rows of numbers the stand-in was " +
    'calibrated to read "calibrated, not a result"; recipe values changed on purpose read ' +
    '"deliberate".',
    "",
    "## The paper's numbers beside ours",
    "",
  ];
  if (tables.length === 0) md.push("(no executed notebook with a paper-vs-ours table)", "");
  for (const [nb, ts] of byNotebook) {
    md.push(`### ${ts[0].title} (\`notebooks/${nb}\`)`, "");
    for (const t of ts) md.push(mdTable(reportRows(t)), "");
  }
  md.push(
    "## Provenance",
    "",
    "| | |",
    "|:-|:-|",
    ...facts.map(([k, v]) => `| ${k} | ${_mdCell(v)} |`),
    "",
  );
  if (calib) {
    md.push("## Calibration of the synthetic data", "", calib.text.trim(), "");
  }
  md.push("## Figures", "");
  for (const f of figures) {
    md.push(
      `### ${f}`,
      "",
      `![${f}](${f}.svg)`,
      "",
      `[interactive](${f}.html) · [PNG](${f}.png)`,
      "",
    );
  }
  const markdown = md.join("\n");
  if (opts.readme) {
    await writeMarkedBlock(opts.readme, README_VERDICT_MARKERS, readmeVerdicts(tables));
  }

  // HTML page, SVGs inlined so that it needs nothing else to show every figure
  const figHtml = figures.map((f) => {
    const svg = Deno.readTextFileSync(`${dir}/${f}.svg`).replace(/^<\?xml[^>]*>\s*/, "");
    return `<section class="figure" data-name="${_esc(f)}"><h3>${_esc(f)}</h3>` +
      `<div class="svg">${svg}</div>` +
      `<p><a href="${_esc(f)}.html">interactive</a> · <a href="${_esc(f)}.png">PNG</a></p>` +
      `</section>`;
  }).join("\n");
  const rowHtml = (r: ReportRow) =>
    `<tr><td>${_esc(r.quantity)}</td><td>${_esc(r.paper)}</td><td>${_esc(r.ours)}</td>` +
    `<td class="holds-${_esc(r.holds.split(",")[0].replace(/ /g, "-"))}">${
      _esc(r.holds)
    }</td></tr>`;
  const tablesHtml =
    [...byNotebook].map(([nb, ts]) =>
      `<h3 id="nb-${_esc(nb)}">${_esc(ts[0].title)} (<code>notebooks/${_esc(nb)}</code>)</h3>\n` +
      ts.map((t) =>
        `<div class="table"><table><tr><th>quantity</th><th>paper</th><th>ours</th>` +
        `<th>holds</th></tr>${reportRows(t).map(rowHtml).join("")}</table></div>`
      ).join("\n")
    ).join("\n") || "<p>(no executed notebook with a paper-vs-ours table)</p>";
  const verdictHtml = `<table class="verdicts"><tr><th>claim</th><th>verdict</th>` +
    `<th>results</th></tr>${
      verdicts.map((v) =>
        `<tr><td><a href="#nb-${_esc(v.notebook)}">${_esc(v.claim)}</a></td>` +
        `<td style="background:${_VERDICT_COLOURS[v.verdict] ?? "#eee"}"><b>${
          _esc(v.verdict)
        }</b></td><td>${_esc(v.detail)}</td></tr>`
      ).join("")
    }</table>`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>ADaFuSE reproduction: the reviewer's page</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px}
.facts td:first-child{font-weight:600}.figure{margin:24px 0}.svg svg{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:8px;overflow:auto}
.holds-yes{background:#d4edda}.holds-no{background:#f8d7da}
.holds-calibrated,.holds-deliberate{color:#666;font-style:italic}
</style></head><body>
<h1>ADaFuSE reproduction: the reviewer's page</h1>
<p>The paper: <a href="${_esc(PAPER.url)}">${_esc(PAPER.title)}</a> (${_esc(PAPER.authors)},
${PAPER.year}).</p>
<p>Generated by <code>npm run repro</code> (lib/show/report.ts) from the executed notebooks; the
Markdown twin is <a href="REPORT.md">REPORT.md</a>. The default data are a synthetic stand-in:
these are verdicts on the stand-in, not on the paper.</p>
<h2>Verdicts</h2>
${verdictHtml}
<p>A claim holds when every result row of its table holds. Rows of numbers the stand-in was
calibrated to read "calibrated, not a result"; recipe values changed on purpose read
"deliberate".</p>
<h2>The paper's numbers beside ours</h2>
${tablesHtml}
<h2>Provenance</h2>
<table class="facts">${
    facts.map(([k, v]) => `<tr><td>${_esc(k)}</td><td>${_esc(v)}</td></tr>`).join("")
  }</table>
${calib ? `<h2>Calibration of the synthetic data</h2>\n<pre>${_esc(calib.text)}</pre>` : ""}
<h2>Figures</h2>
${figHtml}
</body></html>
`;
  const paths = { html: `${dir}/index.html`, markdown: `${dir}/REPORT.md` };
  await writeFileAtomic(paths.html, html);
  await writeFileAtomic(paths.markdown, markdown);
  return { ...paths, figures, tables };
}

/** How one figure of the page rendered in the browser. */
export interface RenderedFigure {
  /** The figure's name. */
  name: string;
  /** Drawn marks (trace paths, points, bars, shapes) with a non-empty box in its plot area. */
  marks: number;
  /** Rendered width and height of the figure, CSS pixels. */
  width: number;
  /** See `width`. */
  height: number;
}

// traces live in `.overplot` (lines, points, bars), drawings in `.shapelayer`; grid lines,
// axes and legends are elsewhere, so an empty figure has none of these
const _MARKS = ".overplot path, .overplot .point, .overplot image, .shapelayer path";

/**
 * Opens a report page (`index.html`) in headless Chromium, measures every figure (a figure is
 * blank when its plot area has no drawn mark) and writes a screenshot of the whole page to
 * `screenshot` when given.
 */
export async function renderReport(
  htmlPath: string,
  screenshot?: string,
): Promise<RenderedFigure[]> {
  const page = await PlotlyPage.launch();
  try {
    await page.goto(`file://${htmlPath}`);
    const figs: RenderedFigure[] = await page.evaluate(`[...document.querySelectorAll(
      "section.figure")].map((s) => {
        const svg = s.querySelector("svg");
        const r = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
        const marks = svg ? [...svg.querySelectorAll(${JSON.stringify(_MARKS)})].filter((m) => {
          const b = m.getBBox();
          return b.width > 0 || b.height > 0;
        }).length : 0;
        return { name: s.dataset.name, marks, width: r.width, height: r.height };
      })`);
    if (screenshot) await writeFileAtomic(screenshot, await page.screenshot());
    return figs;
  } finally {
    await page.close();
  }
}
