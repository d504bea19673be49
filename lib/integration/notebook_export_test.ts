/**
 * The committed notebooks as other tools read them: each validates against the nbformat version
 * it declares (Debian's `nbformat`, strict), carries no second config cell, and exported to HTML
 * by the installed `jupyter nbconvert` shows every figure it displays as an image (a notebook
 * whose figures carried inline SVG exported blank areas). Chromium shows the lesson's HTML and the
 * reviewer's page with content on their first screens (pixels counted, not just elements).
 */
import { assert } from "../testing/assert.ts";
import { FIGURES_DIR, NOTEBOOKS_DIR } from "../runtime/paths.ts";
import { PlotlyPage } from "../show/chromium.ts";

const PY = "/usr/bin/python3";
const NOTEBOOKS = [...Deno.readDirSync(NOTEBOOKS_DIR)]
  .map((e) => e.name)
  .filter((n) => /^\d\d_.*\.ipynb$/.test(n))
  .sort();

function _run(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Converts notebook `name` to HTML in `dir` with the installed nbconvert; returns the file. */
function _toHtml(name: string, dir: string): string {
  const r = _run("jupyter", [
    "nbconvert",
    "--to",
    "html",
    "--output-dir",
    dir,
    `${NOTEBOOKS_DIR}/${name}`,
  ]);
  assert.equal(r.code, 0, `${name}: nbconvert failed: ${r.err.slice(-400)}`);
  return `${dir}/${name.replace(/\.ipynb$/, ".html")}`;
}

Deno.test("committed notebooks validate against their declared nbformat", () => {
  const script = "import sys, nbformat\n" +
    "for p in sys.argv[1:]:\n" +
    "    nb = nbformat.read(p, nbformat.NO_CONVERT)\n" +
    "    try:\n" +
    "        nbformat.validate(nb, version=nb.nbformat, version_minor=nb.nbformat_minor)\n" +
    "    except Exception as e:\n" +
    "        print(f'{p}: {str(e).splitlines()[0]}')\n";
  const r = _run(PY, ["-c", script, ...NOTEBOOKS.map((n) => `${NOTEBOOKS_DIR}/${n}`)]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "", r.out);
});

Deno.test("committed notebooks carry one config cell, no injected one", () => {
  for (const n of NOTEBOOKS) {
    const cells = JSON.parse(Deno.readTextFileSync(`${NOTEBOOKS_DIR}/${n}`)).cells as {
      metadata?: { tags?: string[] };
    }[];
    const tags = cells.flatMap((c) => c.metadata?.tags ?? []);
    assert.ok(!tags.includes("injected-parameters"), `${n}: an injected-parameters cell`);
    assert.ok(tags.filter((t) => t === "parameters").length <= 1, `${n}: two config cells`);
  }
});

Deno.test("nbconvert's HTML of every notebook shows each figure as an image", () => {
  const dir = Deno.makeTempDirSync({ prefix: "adafuse-nbconvert-" });
  try {
    for (const n of NOTEBOOKS) {
      const nb = JSON.parse(Deno.readTextFileSync(`${NOTEBOOKS_DIR}/${n}`));
      const figures = nb.cells.flatMap((c: { outputs?: { data?: object }[] }) => c.outputs ?? [])
        .filter((o: { data?: object }) => o.data && "application/vnd.plotly.v1+json" in o.data)
        .length;
      const html = Deno.readTextFileSync(_toHtml(n, dir));
      const images = html.match(/<img [^>]*src="data:image\/png;base64,/g)?.length ?? 0;
      assert.ok(images >= figures, `${n}: ${figures} figures but ${images} images in the HTML`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Chromium shows the lesson (nbconvert HTML) and the report's verdicts on their first screens", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "adafuse-screens-" });
  const page = await PlotlyPage.launch();
  try {
    const lesson = NOTEBOOKS.find((n) => n.startsWith("11_"));
    assert.ok(lesson, "notebooks/11_*.ipynb is missing");
    await page.goto(`file://${_toHtml(lesson, dir)}`);
    const images = await page.evaluate(
      `Promise.all([...document.images].map((i) => i.decode().then(() => i.naturalWidth, () => 0)))`,
    ) as number[];
    assert.ok(images.length >= 1, `${lesson}: no figure in the HTML`);
    assert.deepEqual(images.filter((w) => w === 0).length, 0, `${lesson}: an image did not decode`);
    const lessonInk = await page.inkShare(await page.firstScreen());
    assert.ok(lessonInk > 0.01, `${lesson}: first screen is blank (ink ${lessonInk})`);

    await page.goto(`file://${FIGURES_DIR}/index.html`);
    const shot = await page.firstScreen();
    const ink = await page.inkShare(shot);
    assert.ok(ink > 0.02, `figures/index.html: first screen is blank (ink ${ink})`);
    const top = await page.evaluate(
      `document.querySelector("table.verdicts")?.getBoundingClientRect().top ?? -1`,
    ) as number;
    assert.ok(
      top >= 0 && top < 900,
      `figures/index.html: the verdict table is not on the first screen (top ${top})`,
    );
  } finally {
    await page.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
