/**
 * The notebooks follow the code style. `deno fmt` formats `.ipynb` files (the notebook runner
 * formats every notebook it writes), but Deno 2.9's `deno fmt --check` reports freshly cloned,
 * formatted notebooks as unformatted without showing a difference (after `deno fmt` rewrites
 * nothing), so deno.json excludes notebooks/ from the format check and this test checks each code
 * cell against `deno fmt` of its source instead. `deno lint` and `deno check` do not read
 * notebooks either. This test does: each
 * notebook's code cells, in order, become one TypeScript module beside the notebook (so that
 * `../lib/mod.ts` resolves as in the kernel), which must type-check and lint clean; and every
 * line of every cell, code and Markdown, is at most 100 columns.
 */
import { assert } from "../testing/assert.ts";
import { NOTEBOOKS_DIR, ROOT } from "../runtime/paths.ts";

const DENO = `${ROOT}/node_modules/.bin/deno`;
const MAX_COLUMNS = 100;

interface Cell {
  cell_type: string;
  source: string | string[];
}

const _join = (v: string | string[]) => (Array.isArray(v) ? v.join("") : v);

function notebooks(): string[] {
  return [...Deno.readDirSync(NOTEBOOKS_DIR)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
    .map((e) => e.name)
    .sort();
}

function cellsOf(name: string): Cell[] {
  return JSON.parse(Deno.readTextFileSync(`${NOTEBOOKS_DIR}/${name}`)).cells;
}

Deno.test("notebook lines are at most 100 columns", () => {
  const long: string[] = [];
  for (const name of notebooks()) {
    cellsOf(name).forEach((c, i) =>
      _join(c.source).split("\n").forEach((line, j) => {
        if ([...line].length > MAX_COLUMNS) {
          long.push(`${name} cell ${i + 1} line ${j + 1}: ${[...line].length} columns`);
        }
      })
    );
  }
  assert.deepEqual(long, []);
});

Deno.test("notebook code type-checks and lints clean (as one module per notebook)", async () => {
  const files: string[] = [];
  try {
    for (const name of notebooks()) {
      const code = cellsOf(name)
        .filter((c) => c.cell_type === "code")
        .map((c, i) => `// --- cell ${i + 1}\n${_join(c.source)}\n`)
        .join("\n");
      // `export {}` makes it a module (top-level await); the name marks it as generated
      const file = `${NOTEBOOKS_DIR}/.check-${name.replace(/\.ipynb$/, "")}.ts`;
      await Deno.writeTextFile(file, `export {};\n${code}`);
      files.push(file);
    }
    for (const [what, args] of [["deno check", ["check"]], ["deno lint", ["lint"]]] as const) {
      const r = await new Deno.Command(DENO, {
        args: [...args, ...files],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.ok(r.success, `${what} of the notebooks' code failed:\n${out.slice(-4000)}`);
    }
  } finally {
    for (const f of files) await Deno.remove(f).catch(() => {});
  }
});

Deno.test("notebook code cells are formatted as deno fmt formats TypeScript", async () => {
  const off: string[] = [];
  for (const name of notebooks()) {
    const cells = cellsOf(name).filter((c) => c.cell_type === "code");
    for (const [i, c] of cells.entries()) {
      const src = _join(c.source);
      const p = new Deno.Command(DENO, {
        args: ["fmt", "--ext", "ts", "--line-width", String(MAX_COLUMNS), "-"],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(src));
      await w.close();
      const r = await p.output();
      const formatted = new TextDecoder().decode(r.stdout);
      if (!r.success || formatted.trimEnd() !== src.trimEnd()) {
        off.push(`${name} code cell ${i + 1}`);
      }
    }
  }
  assert.deepEqual(off, [], "run `deno fmt notebooks/` (the notebook runner does it on every run)");
});
