/**
 * The committed notebooks are executed (by `npm run repro`, which rewrites them in place) and
 * their outputs are clean: every notebook has outputs and every code cell ran, no cell shows
 * an error or writes to stderr, no text output is a dump (over 20 KB), every figure output
 * carries a static PNG beside plotly's JSON and no inline SVG (nbconvert's HTML sanitiser strips
 * it to a blank, and ranks it above the PNG), and every figure a notebook saved is in
 * `figures/` as `.svg`, `.png` and `.html` (with the shared `figures/plotly.min.js`).
 *
 * Fails until the notebooks are executed and committed: run `npm run repro`, then commit
 * `notebooks/` and `figures/`.
 */
import { assert } from "../testing/assert.ts";
import { NOTEBOOKS_DIR, ROOT } from "../runtime/paths.ts";
import { README_VERDICT_MARKERS, readmeVerdicts, reportTables } from "../show/report.ts";

/** The largest text output a notebook may hold (bytes). */
const MAX_TEXT = 20_000;

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: Output[];
}

const _join = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v ?? ""));

/** Every problem of one notebook file, as lines naming the cell; empty when clean. */
export function notebookProblems(path: string, figuresDir: string): string[] {
  const name = path.replace(/^.*\//, "");
  const cells: Cell[] = JSON.parse(Deno.readTextFileSync(path)).cells;
  const code = cells.filter((c) => c.cell_type === "code");
  const problems: string[] = [];
  const fix = "run `npm run repro` (or `deno task notebooks " + name.slice(0, 2) +
    "`) and commit the notebook";
  if (!code.some((c) => (c.outputs ?? []).length > 0)) {
    return [`${name}: no outputs at all; ${fix}`];
  }
  code.forEach((c, i) => {
    const where = `${name} code cell ${i + 1} (${_join(c.source).split("\n")[0].slice(0, 60)})`;
    if (c.execution_count == null) problems.push(`${where}: never executed; ${fix}`);
    for (const o of c.outputs ?? []) {
      if (o.output_type === "error") {
        problems.push(`${where}: error output ${o.ename}: ${o.evalue}`);
      }
      if (o.output_type === "stream") {
        const text = _join(o.text);
        if (o.name === "stderr") {
          problems.push(`${where}: stderr output '${text.trim().slice(0, 120)}'`);
        }
        if (text.length > MAX_TEXT) {
          problems.push(`${where}: ${text.length} bytes of ${o.name} text (max ${MAX_TEXT})`);
        }
      }
      for (const [mime, value] of Object.entries(o.data ?? {})) {
        if (!mime.startsWith("text/")) continue;
        const n = _join(value).length;
        if (n > MAX_TEXT) problems.push(`${where}: ${n} bytes of ${mime} (max ${MAX_TEXT})`);
      }
      const data = o.data ?? {};
      if ("application/vnd.plotly.v1+json" in data) {
        if (!("image/png" in data)) problems.push(`${where}: a figure output without image/png`);
        if ("image/svg+xml" in data) {
          problems.push(`${where}: a figure output with inline image/svg+xml (exports blank)`);
        }
        const m = _join(data["text/plain"]).match(/^figure ([A-Za-z0-9._-]+):/);
        if (!m) {
          problems.push(`${where}: a figure output that names no file (save it with saveFigure)`);
          continue;
        }
        for (const ext of ["svg", "png", "html"]) {
          try {
            Deno.statSync(`${figuresDir}/${m[1]}.${ext}`);
          } catch {
            problems.push(`${where}: figures/${m[1]}.${ext} is missing; ${fix}`);
          }
        }
      }
    }
  });
  return problems;
}

Deno.test("notebookProblems names each kind of problem and passes a clean notebook", () => {
  const dir = Deno.makeTempDirSync({ prefix: "adafuse-nbcheck-" });
  try {
    Deno.writeTextFileSync(`${dir}/f.svg`, "<svg/>");
    Deno.writeTextFileSync(`${dir}/f.png`, "png");
    Deno.writeTextFileSync(`${dir}/f.html`, "<html>");
    const fig = {
      output_type: "display_data",
      data: {
        "application/vnd.plotly.v1+json": {},
        "image/png": "iVBOR",
        "text/plain": "figure f: figures/f.svg, .png, .html",
      },
    };
    const write = (cells: Cell[]) => {
      Deno.writeTextFileSync(`${dir}/nb.ipynb`, JSON.stringify({ cells }));
      return notebookProblems(`${dir}/nb.ipynb`, dir);
    };
    const cell = (outputs: unknown[], n: number | null = 1) =>
      ({ cell_type: "code", source: "x", execution_count: n, outputs }) as Cell;
    assert.deepEqual(write([cell([fig]), cell([])]), []);
    assert.match(write([cell([]), cell([])])[0], /no outputs at all/);
    assert.match(write([cell([fig]), cell([], null)])[0], /never executed/);
    assert.match(
      write([cell([{ output_type: "error", ename: "TypeError", evalue: "x" }])])[0],
      /error output TypeError/,
    );
    assert.match(
      write([cell([{ output_type: "stream", name: "stderr", text: "already holds" }])])[0],
      /stderr output 'already holds'/,
    );
    assert.match(
      write([cell([{ output_type: "stream", name: "stdout", text: "x".repeat(20_001) }])])[0],
      /20001 bytes of stdout text/,
    );
    const noPng = structuredClone(fig) as { data: Record<string, unknown> };
    delete noPng.data["image/png"];
    assert.match(write([cell([noPng])])[0], /without image\/png/);
    const withSvg = structuredClone(fig) as { data: Record<string, unknown> };
    withSvg.data["image/svg+xml"] = "<svg/>";
    assert.match(write([cell([withSvg])])[0], /inline image\/svg\+xml/);
    const other = structuredClone(fig);
    other.data["text/plain"] = "figure g: figures/g.svg, .png, .html";
    assert.match(write([cell([other])])[0], /figures\/g\.svg is missing/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("every committed notebook is executed, with clean outputs and its figures in figures/", () => {
  const figuresDir = `${ROOT}/figures`;
  const notebooks = [...Deno.readDirSync(NOTEBOOKS_DIR)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
    .map((e) => `${NOTEBOOKS_DIR}/${e.name}`)
    .sort();
  assert.ok(notebooks.length > 0, "no notebooks in notebooks/");
  const problems = notebooks.flatMap((p) => notebookProblems(p, figuresDir));
  try {
    Deno.statSync(`${figuresDir}/plotly.min.js`);
  } catch {
    problems.push(
      "figures/plotly.min.js is missing (the HTML figures load it); run lib/tools/setup.sh",
    );
  }
  assert.ok(problems.length === 0, `${problems.length} problems:\n${problems.join("\n")}`);
});

Deno.test("the README's verdict block is the one the committed notebooks give (npm run repro writes it)", () => {
  const readme = Deno.readTextFileSync(`${ROOT}/README.md`);
  const [a, b] = README_VERDICT_MARKERS;
  const i = readme.indexOf(a), j = readme.indexOf(b);
  assert.ok(i >= 0 && j > i, `README.md has no ${a} … ${b} block`);
  const fold = (s: string) => s.replace(/\s+/g, " ").trim();
  assert.equal(
    fold(readme.slice(i + a.length, j)),
    fold(readmeVerdicts(reportTables(NOTEBOOKS_DIR))),
    "README.md's verdicts differ from the notebooks': run `npm run repro` and commit README.md",
  );
});

/** `git` in the repository: its stdout, or null when git fails (not a checkout, no git). */
function _git(args: string[]): { ok: boolean; out: string } | null {
  try {
    const r = new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" })
      .outputSync();
    return { ok: r.success, out: new TextDecoder().decode(r.stdout).trim() };
  } catch {
    return null;
  }
}

Deno.test("the committed report is not older than lib/ and notebooks/ (npm run repro rewrites it)", () => {
  const shallow = _git(["rev-parse", "--is-shallow-repository"]);
  if (!shallow?.ok || shallow.out === "true") {
    console.warn("committed report age: skipped (not a full git checkout)");
    return;
  }
  const last = _git(["log", "-1", "--format=%H", "--", "lib", "notebooks"])!.out;
  const withReport = _git(["log", "-1", "--format=%H", "--", "figures/REPORT.md"])!.out;
  const md = Deno.readTextFileSync(`${ROOT}/figures/REPORT.md`);
  const made = md.match(/\| commit \| ([0-9a-f]{40})/)?.[1];
  assert.ok(made, "figures/REPORT.md names no commit: run `npm run repro`");
  // Fresh when the last change to lib/ or notebooks/ came with the report (the repro's own
  // commit rewrites notebooks/), or before the commit the report was made from.
  const fresh = last === withReport ||
    _git(["merge-base", "--is-ancestor", last, made!])?.ok === true;
  assert.ok(
    fresh,
    `figures/REPORT.md was made from ${made!.slice(0, 10)}, before ${last.slice(0, 10)} changed ` +
      "lib/ or notebooks/: run `npm run repro` and commit notebooks/, figures/ and README.md",
  );
});

Deno.test("every mean ± sd that docs/results.md quotes for the figures and studies is on the reviewer's page", () => {
  const results = Deno.readTextFileSync(`${ROOT}/docs/results.md`);
  const report = Deno.readTextFileSync(`${ROOT}/figures/REPORT.md`);
  // the bullets of "What reproduces" (the figures' verdicts), not the comparisons after them,
  // and those of "Beyond the paper" (notebooks 07-10, whose tables the page carries too)
  const between = (from: string, to: string) => {
    const i = results.indexOf(from), j = results.indexOf(to, i);
    assert.ok(i >= 0 && j > i, `docs/results.md has no "${from}" … "${to}" section`);
    return results.slice(i, j);
  };
  const section = between("## What reproduces", "Against the ") +
    between("## Beyond the paper", "## The training regime");
  const norm = (s: string) =>
    s.replace(/\s+/g, " ").replace(/−/g, "-").replace(/(\d),(\d{3})/g, "$1$2");
  const quoted = [...norm(section).matchAll(/[+-]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?/g)].map((m) =>
    m[0]
  );
  assert.ok(quoted.length >= 4, `found only ${quoted.length} mean ± sd in docs/results.md`);
  const page = norm(report);
  const missing = quoted.filter((q) => !page.includes(q.replace(/^\+/, "")));
  assert.deepEqual(
    missing,
    [],
    "docs/results.md quotes numbers the committed notebooks do not give: update it from " +
      "figures/REPORT.md after npm run repro",
  );
});
