import { assert } from "../testing/assert.ts";
import { closeFigures, saveFigure } from "./figures.ts";
import { FIGURES_DIR } from "../runtime/paths.ts";
import { renderReport, reportTables, writeReport } from "./report.ts";

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

    const rep = await writeReport({
      figuresDir: figs,
      notebooksDir: nbs,
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
      ]
    ) assert.ok(md.includes(want), `REPORT.md lacks ${want}`);
    assert.match(md, /\| commit \| [0-9a-f]{40}/);
    const html = await Deno.readTextFile(rep.html);
    assert.ok(html.includes(TABLE_HTML));
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
