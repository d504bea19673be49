import { assert } from "../testing/assert.ts";

const assertEquals = (a: unknown, b: unknown, msg = "values differ") => assert.deepEqual(a, b, msg);
import {
  closeFigures,
  displayBundle,
  ensurePlotlyJs,
  figureTitle,
  PLOTLY_JS_SOURCE,
  saveFigure,
} from "./figures.ts";
import { withPage } from "./chromium.ts";

const FIG = {
  data: [{ x: [0, 1, 2], y: [1, 3, 2], type: "scatter", name: "a line" }],
  layout: { title: { text: "test figure" } },
};

Deno.test("saveFigure writes SVG, PNG and a small HTML page that loads the local plotly.js", async () => {
  const dir = await Deno.makeTempDir({ prefix: "adafuse-fig-" });
  try {
    const saved = await saveFigure(FIG, "t1", { width: 300, height: 200, scale: 1 }, dir);
    const svg = await Deno.readTextFile(`${dir}/t1.svg`);
    assert(svg.startsWith("<svg"), "the SVG file holds an <svg> element");
    const png = await Deno.readFile(`${dir}/t1.png`);
    assertEquals([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]); // PNG magic
    const html = await Deno.readTextFile(`${dir}/t1.html`);
    assert(html.includes('<script src="plotly.min.js"></script>'), "loads plotly by relative path");
    assert(html.length < 10_000, `the page inlines no plotly.js (${html.length} bytes)`);
    const copy = await Deno.readFile(`${dir}/plotly.min.js`);
    assertEquals(copy.length, (await Deno.readFile(PLOTLY_JS_SOURCE)).length);

    // the notebook's MIME bundle: live plotly JSON plus a static PNG; no inline SVG, no text/html
    const show = (saved as unknown as Record<symbol, () => Record<string, unknown>>)[
      Symbol.for("Jupyter.display")
    ];
    const bundle = show();
    assertEquals(Object.keys(bundle).sort(), [
      "application/vnd.plotly.v1+json",
      "image/png",
      "text/plain",
    ]);
    const decoded = Uint8Array.from(atob(bundle["image/png"] as string), (c) => c.charCodeAt(0));
    assertEquals(decoded, png);
    assertEquals(bundle["text/plain"], "figure t1: figures/t1.svg, .png, .html");
  } finally {
    await closeFigures();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensurePlotlyJs replaces a stale copy and leaves a current one alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "adafuse-fig-" });
  try {
    await Deno.writeTextFile(`${dir}/plotly.min.js`, "stale");
    const path = await ensurePlotlyJs(dir);
    const want = await Deno.readFile(PLOTLY_JS_SOURCE);
    assertEquals((await Deno.readFile(path)).length, want.length);
    const before = (await Deno.stat(path)).mtime;
    await ensurePlotlyJs(dir);
    assertEquals((await Deno.stat(path)).mtime, before, "an identical copy is not rewritten");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("displayBundle without static images still names the figure type", () => {
  const b = displayBundle(FIG);
  assertEquals(Object.keys(b).sort(), ["application/vnd.plotly.v1+json", "text/plain"]);
});

Deno.test("a figure page without plotly.js beside it shows the static PNG instead", async () => {
  const dir = await Deno.makeTempDir({ prefix: "adafuse-fig-fallback-" });
  try {
    await saveFigure(FIG, "t2", { width: 300, height: 200, scale: 1 }, dir);
    await Deno.remove(`${dir}/plotly.min.js`); // as in a fresh clone, before the set-up
    const shown = await withPage(async (p) => {
      await p.goto(`file://${dir}/t2.html`);
      return await p.evaluate(
        "[...document.images].map((i) => i.complete && i.naturalWidth > 0 ? i.getAttribute('src') : '')",
      );
    });
    assertEquals(shown, ["t2.png"]);
  } finally {
    await closeFigures();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("figureTitle: the subtitle goes under the title in small type, or nothing", () => {
  assertEquals(figureTitle("Fig"), { text: "Fig" });
  assertEquals(figureTitle("Fig", ""), { text: "Fig" });
  assertEquals(figureTitle("Fig", "data seed 0"), { text: "Fig<br><sub>data seed 0</sub>" });
});
