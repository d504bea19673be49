import { assert } from "../testing/assert.ts";
import { ROOT } from "../runtime/paths.ts";
import { notebookEnv, parseNotebookArgs, resolveNotebooks } from "./notebooks.ts";

const PY = "/usr/bin/python3";
const RUNNER = `${ROOT}/lib/tools/run_notebook.py`;
const hasJupyter = (() => {
  try {
    return new Deno.Command(PY, { args: ["-c", "import jupyter_client, nbformat"] }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

async function execute(
  nb: string,
  out: string,
  extra: string[] = [],
  env: Record<string, string> = {},
) {
  const res = await new Deno.Command(PY, {
    args: [RUNNER, nb, "--out", out, ...extra],
    env: { ...notebookEnv(), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: res.code, stderr: new TextDecoder().decode(res.stderr) };
}

interface Output {
  output_type: string;
  text?: string;
  data?: Record<string, string>;
}
// nbformat may store multi-line strings as lists of lines
const _join = (v: unknown) => Array.isArray(v) ? v.join("") : v;
interface Cell {
  outputs?: Output[];
  metadata: { tags?: string[] };
}

function outputsOf(path: string): Output[][] {
  const nb = JSON.parse(Deno.readTextFileSync(path)) as { cells: Cell[] };
  return nb.cells.filter((c) => !c.metadata.tags?.length).map((c) =>
    (c.outputs ?? []).map((o) => ({
      ...o,
      text: _join(o.text) as string | undefined,
      data: o.data &&
        Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, _join(v) as string])),
    }))
  );
}

Deno.test({
  name: "runner keeps every output of a ten-cell notebook, 20 runs in a row",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (let run = 0; run < 20; run++) {
        const out = `${dir}/run${run}.ipynb`;
        const { code, stderr } = await execute(
          `${ROOT}/lib/testing/testdata/ten_outputs.ipynb`,
          out,
          ["--param", `config.n=${run + 1}`],
        );
        assert.equal(code, 0, stderr);
        const cells = outputsOf(out);
        assert.equal(cells.length, 10, `run ${run}: cells`);
        const n = run + 1;
        const texts = cells.map((c) =>
          c.map((o) => o.text ?? o.data?.["text/plain"] ?? "").join("|")
        );
        for (let i = 0; i < 10; i++) {
          const want = i % 3 === 0
            ? `out ${i} ${n * i}\n`
            : i % 3 === 1
            ? `${n * i + 1000}`
            : `display ${i}|"result ${i}"`;
          // every cell's outputs in the message: a lost output and a misrouted one read differently
          assert.equal(
            texts[i],
            want,
            `run ${run}, cell ${i}; all cells: ${JSON.stringify(texts)}`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runner fails naming the cell and its error, keeps outputs so far, strips colours",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/failing.ipynb`;
      const { code, stderr } = await execute(`${ROOT}/lib/testing/testdata/failing.ipynb`, out);
      assert.equal(code, 1);
      assert.match(stderr, /cell 2 failed: .*boom from cell two/);
      const cells = outputsOf(out);
      assert.equal(cells[0][0].text, "red fine\n");
      assert.equal(cells[1][0].output_type, "error");
      assert.equal(cells[2].length, 0);
      assert.ok(!JSON.stringify(cells).includes("\\u001b"), "colour codes left in outputs");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runner refuses parameters for a notebook without a 'parameters' cell",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const { code, stderr } = await execute(
      `${ROOT}/lib/testing/testdata/failing.ipynb`,
      `${dir}/x.ipynb`,
      ["--param", "seed=1"],
    );
    await Deno.remove(dir, { recursive: true });
    assert.notEqual(code, 0);
    assert.match(stderr, /tagged 'parameters'/);
  },
});

Deno.test("notebook names resolve by number, stem or path, and unknown names are named", () => {
  const all = resolveNotebooks();
  assert.ok(all.length >= 1);
  const first = all[0].replace(/^.*\//, "");
  assert.equal(resolveNotebooks([first.slice(0, 2)])[0], all[0]);
  assert.throws(() => resolveNotebooks(["99_nope"]), /not found/);
});

Deno.test("the notebooks command line takes names, --out, repeated --param and --timeout", () => {
  assert.deepEqual(
    parseNotebookArgs(["01", "03", "--param", "config.dataSeed=2", "--param=x=1", "--out", "o"]),
    { names: ["01", "03"], outDir: "o", params: ["config.dataSeed=2", "x=1"], timeout: undefined },
  );
  assert.throws(() => parseNotebookArgs(["--bogus"]), /unknown option --bogus/);
  assert.throws(() => parseNotebookArgs(["--timeout", "soon"]), /seconds/);
});

Deno.test({
  name: "runner saves a live progress bar in its last state, once (update_display_data)",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/progress.ipynb`;
      const { code, stderr } = await execute(
        `${ROOT}/lib/testing/testdata/progress_bar.ipynb`,
        out,
      );
      assert.equal(code, 0, stderr);
      const cells = outputsOf(out);
      const shown = cells[1].filter((o) => o.output_type === "display_data");
      assert.equal(shown.length, 1, JSON.stringify(cells[1]));
      assert.match(shown[0].data!["text/plain"], /^work 100% \[#+\] 20\/20 steps .*item 20$/);
      assert.match(shown[0].data!["text/html"], /width:100\.0%/);
      assert.equal(cells[1].filter((o) => o.output_type === "stream")[0].text, "notebook\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "runner writes --param values into the config cell, adds no cell, and a plain run undoes it",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const src = `${ROOT}/lib/testing/testdata/ten_outputs.ipynb`;
      const cellsOf = (p: string) =>
        (JSON.parse(Deno.readTextFileSync(p)) as { cells: (Cell & { source: string[] })[] })
          .cells;
      const before = cellsOf(src).length;
      const { code, stderr } = await execute(src, `${dir}/a.ipynb`, ["--param", "config.n=7"]);
      assert.equal(code, 0, stderr);
      const cells = cellsOf(`${dir}/a.ipynb`);
      assert.equal(cells.length, before, "no cell added");
      const config = cells.find((c) => c.metadata.tags?.includes("parameters"))!;
      assert.match(
        _join(config.source) as string,
        /--param\), over the values above:\nconfig\.n = 7;$/,
      );
      assert.ok(!cells.some((c) => c.metadata.tags?.includes("injected-parameters")));
      // running the output again without --param restores the author's config cell
      const again = await execute(`${dir}/a.ipynb`, `${dir}/b.ipynb`);
      assert.equal(again.code, 0, again.stderr);
      const restored = cellsOf(`${dir}/b.ipynb`).find((c) =>
        c.metadata.tags?.includes("parameters")
      )!;
      const original = cellsOf(src).find((c) => c.metadata.tags?.includes("parameters"))!;
      assert.equal(_join(restored.source), _join(original.source));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "notebook 11 (the lesson) executes cleanly in seconds, to the text the committed one shows",
  ignore: !hasJupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const { code, stderr } = await execute(
        `${ROOT}/notebooks/11_lesson.ipynb`,
        `${dir}/11.ipynb`,
        [],
        { ADAFUSE_FIGURES_DIR: dir },
      );
      assert.equal(code, 0, stderr);
      const outputs = outputsOf(`${dir}/11.ipynb`).flat();
      assert.ok(!outputs.some((o) => o.output_type === "error"));
      assert.ok(outputs.filter((o) => o.data?.["image/png"]).length >= 4, "the lesson's figures");
      await Deno.stat(`${dir}/11_lesson_gate.png`);
      // the toy world is seeded: every printed line and table is the committed one
      const text = (cells: Output[][]) =>
        cells.map((os) => os.map((o) => o.text ?? o.data?.["text/plain"] ?? "").join(""));
      assert.deepEqual(
        text(outputsOf(`${dir}/11.ipynb`)),
        text(outputsOf(`${ROOT}/notebooks/11_lesson.ipynb`)),
        "notebooks/11_lesson.ipynb is stale: run `deno task notebooks 11` and commit it",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runner routes a late result by its execution count, whatever parent header it carries",
  ignore: !hasJupyter,
  fn: async () => {
    // Two cells; cell 1's result arrives after cell 2 was sent, stamped with cell 2's request.
    const script = `
import sys, json, importlib.util
spec = importlib.util.spec_from_file_location("rn", ${JSON.stringify(RUNNER)})
rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)
import nbformat
a, b = nbformat.v4.new_code_cell("1"), nbformat.v4.new_code_cell("2")
a.outputs, b.outputs = [], []
r = rn.Router(); r.cells = {"m1": a, "m2": b}; r.by_count[1] = a
def res(parent, count, v):
    return {"parent_header": {"msg_id": parent}, "msg_type": "execute_result",
            "content": {"execution_count": count, "data": {"text/plain": v}, "metadata": {}}}
r.route(res("m2", 1, "late one"))
r.route(res("m2", 2, "two"))
print(json.dumps([[o["data"]["text/plain"] for o in c.outputs] for c in (a, b)]))
`;
    const res = await new Deno.Command(PY, {
      args: ["-c", script],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const err = new TextDecoder().decode(res.stderr);
    assert.ok(res.success, err);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(res.stdout)), [["late one"], ["two"]]);
  },
});
