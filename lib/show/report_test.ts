import { assert } from "../testing/assert.ts";
import { closeFigures, saveFigure } from "./figures.ts";
import { FIGURES_DIR } from "../runtime/paths.ts";
import { PAPER } from "../data/paper_reference.ts";
import { renderReport, reportRows, reportTables, verdictSummary, writeReport } from "./report.ts";

const TABLE_MD = "|quantity|paper|ours|holds|\n|:-|:-|:-|:-|\n|slope|positive|+0.1|yes|\n";
const TABLE_HTML = "<table><tr><th>quantity</th></tr><tr><td>slope</td></tr></table>";

function notebook(title: string, outputs: unknown[]) {
  return JSON.stringify({
    cells: [
      { cell_type: "markdown", source: [`# ${title}\n`, "text"] },
      { cell_type: "code", source: "x", outputs },
    ],
  });
}

Deno.test("writeReport: every figure, the paper-vs-ours tables, the facts; Chromium draws each figure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "adafuse-report-" });
  try {
    const figs = `${dir}/figures`, nbs = `${dir}/notebooks`;
    await Deno.mkdir(nbs, { recursive: true });
    await saveFigure(
      { data: [{ type: "bar", x: [1, 2, 3], y: [3, 1, 2] }], layout: { title: { text: "bars" } } },
      "a_bars",
      { width: 500, height: 300, scale: 1 },
      figs,
    );
    await saveFigure(
      { data: [], layout: { title: { text: "nothing drawn" } } },
      "b_blank",
      { width: 500, height: 300, scale: 1 },
      figs,
    );
    await Deno.writeTextFile(
      `${nbs}/04_x.ipynb`,
      notebook("04 · Figure 4", [
        { output_type: "execute_result", data: { "text/plain": "|a|b|\n", "text/html": "<t>" } },
        {
          output_type: "execute_result",
          data: { "text/plain": TABLE_MD, "text/html": TABLE_HTML },
        },
      ]),
    );
    await Deno.writeTextFile(`${nbs}/00_y.ipynb`, notebook("00 · no table", []));
    const calibration = `${dir}/calibration.md`;
    await Deno.writeTextFile(calibration, "|target|value|\n|-|-|\n|chatir r0|65.2|\n");

    const tables = reportTables(nbs);
    assert.equal(tables.length, 1, "only the quantity|paper|ours|holds table counts");
    assert.equal(tables[0].title, "04 · Figure 4");

    const readme = `${dir}/README.md`;
    await Deno.writeTextFile(
      readme,
      "intro\n<!-- verdicts:start -->\nold\n<!-- verdicts:end -->\nend\n",
    );
    const rep = await writeReport({
      figuresDir: figs,
      notebooksDir: nbs,
      readme,
      settings: { "data seed": 0, "training seeds": [0], config: { preset: "small" } },
      calibration,
      date: new Date("2026-12-01T00:00:00Z"),
    });
    assert.deepEqual(rep.figures, ["a_bars", "b_blank"]);
    const md = await Deno.readTextFile(rep.markdown);
    for (
      const want of [
        "![a_bars](a_bars.svg)",
        "[interactive](b_blank.html) · [PNG](b_blank.png)",
        TABLE_MD.trim(),
        "| data seed | 0 |",
        "| training seeds | [0] |",
        "| date | 2026-12-01T00:00:00.000Z |",
        "|chatir r0|65.2|",
        `(${PAPER.url})`,
      ]
    ) assert.ok(md.includes(want), `REPORT.md lacks ${want}`);
    assert.match(md, /\| commit \| [0-9a-f]{40}/);
    assert.ok(md.indexOf("## Verdicts") < md.indexOf("## Provenance"), "verdicts lead");
    assert.ok(md.includes("|04 · Figure 4|**holds**|1 of 1 results hold|"), "the verdict row");
    const rd = await Deno.readTextFile(readme);
    assert.match(rd, /^intro\n+<!-- verdicts:start -->\n+- \*\*Figure 4: holds\*\* /);
    // formatted by deno fmt (wrapped), so compared with its whitespace folded
    assert.match(
      rd.replace(/\s+/g, " "),
      /\(\[04\]\(notebooks\/04_x\.ipynb\)\)\. slope: \+0\.1 \(paper: positive\) ✓\./,
    );
    assert.match(rd, /<!-- verdicts:end -->\n+end\n$/);
    const html = await Deno.readTextFile(rep.html);
    assert.ok(html.includes('<td class="holds-yes">yes</td>'), "the relabelled table");
    assert.ok(html.indexOf("<h2>Verdicts") < html.indexOf("<h2>Provenance"));
    assert.ok(
      html.indexOf(`href="${PAPER.url}"`) < html.indexOf("<h2>Verdicts"),
      "the paper first",
    );
    assert.ok(!html.includes("<?xml"), "SVGs are inlined without their XML prolog");

    const shot = `${figs}/index.png`;
    const drawn = await renderReport(rep.html, shot);
    const by = Object.fromEntries(drawn.map((f) => [f.name, f]));
    assert.ok(by.a_bars.marks >= 3, `the bar figure drew ${by.a_bars.marks} marks`);
    assert.ok(by.a_bars.width > 100 && by.a_bars.height > 50, "the bar figure has a size");
    assert.equal(by.b_blank.marks, 0, "an empty figure is seen as blank");
    const png = await Deno.readFile(shot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  } finally {
    await closeFigures();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the committed figures/index.html draws every figure (npm run repro writes it)", async () => {
  const page = `${FIGURES_DIR}/index.html`;
  try {
    await Deno.stat(page);
  } catch {
    throw new Error(`${page} is missing: run \`npm run repro\` and commit figures/`);
  }
  const shot = await Deno.makeTempFile({ suffix: ".png" });
  try {
    const drawn = await renderReport(page, shot);
    assert.ok(drawn.length > 0, "the page shows no figure");
    const blank = drawn.filter((f) => f.marks === 0 || f.width === 0).map((f) => f.name);
    assert.deepEqual(blank, [], `blank figures on ${page}`);
  } finally {
    await Deno.remove(shot);
  }
});

Deno.test("reportRows and verdictSummary: calibrated and deliberate rows are no results", () => {
  const t = (notebook: string, rows: string[][]) => ({
    notebook,
    title: notebook.slice(0, 2),
    html: "",
    markdown: [
      "|quantity|paper|ours|holds|",
      "|:-|:-|:-|:-|",
      ...rows.map((r) => `|${r.join("|")}|`),
    ]
      .join("\n"),
  });
  const fig3 = t("03_x.ipynb", [
    ["ChatIR Hits@10 on VisDial, round 0", "63.42", "61.92", "yes"],
    ["ADaFuSE − DAR on VisDial, round 0", "+1.09", "-3.05", "no"],
    ["ADaFuSE − DAR on VisDial, round 10", "+3.49", "+1.53 \\| 2", "yes"],
    ["DAR degradation rate, round 2", "> 50", "51.2", "yes"],
    ["ChatIR, VisDial Hits@10 at rounds 0, 5, 10", "63.42", "61.92", "yes"],
    ["DAR's large rank drops the gate down-weighted", "not measured", "33.7%", "–"],
  ]);
  const rows = reportRows(fig3);
  assert.deepEqual(rows.map((r) => r.holds), [
    "calibrated, not a result",
    "no",
    "yes",
    "calibrated, not a result",
    "calibrated, not a result",
    "–",
  ]);
  assert.equal(rows[2].ours, "+1.53 | 2", "an escaped pipe stays in its cell");
  const train = t("06_x.ipynb", [
    ["recipe: epochs (reference)", "50", "2", "no"],
    ["recipe: lr (reference)", "0.00005", "0.00005", "yes"],
  ]);
  assert.deepEqual(reportRows(train).map((r) => r.holds), ["deliberate", "same as the reference"]);
  const calib = t("05_x.ipynb", [["ChatGPT round 10", "81.3", "83.8", "no"]]);
  const fig2 = t("02_x.ipynb", [["parameters", "11,812,614", "11,812,614", "yes"]]);
  const none = t("04_x.ipynb", [["slope", "positive", "-0.1", "no"]]);
  assert.deepEqual(
    verdictSummary([fig3, train, calib, fig2, none]).map((v) => [v.verdict, v.detail]),
    [
      ["in part", "1 of 2 results hold (3 calibrated, not results)"],
      ["–", "0 of 0 results hold (1 deliberate, not results)"],
      ["calibrated", "0 of 0 results hold (1 calibrated, not results)"],
      ["holds", "1 of 1 results hold"],
      ["does not hold", "0 of 1 results hold"],
    ],
  );
});
