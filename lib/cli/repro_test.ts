import { assert } from "../testing/assert.ts";
import { ROOT } from "../runtime/paths.ts";
import { notebookParams, parseReproArgs, reproTimeSummary } from "./repro.ts";

const hasJupyter = (() => {
  try {
    return new Deno.Command("/usr/bin/python3", { args: ["-c", "import jupyter_client"] })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test("parseReproArgs reads the config and refuses unknown options", () => {
  const a = parseReproArgs(["--preset", "small", "--data-seed", "3", "--set", "lr=1e-4"]);
  assert.deepEqual(a.config, {
    dataSeed: 3,
    trainSeeds: [0, 1, 2],
    dataPreset: "small",
    trainPreset: "repro",
    overrides: { lr: 1e-4 },
  });
  assert.equal(a.notebooks, true);
  assert.deepEqual(parseReproArgs(["--train-seeds", "0, 1,2"]).config.trainSeeds, [0, 1, 2]);
  assert.deepEqual(parseReproArgs(["--train-seeds", "4"]).config.trainSeeds, [4]);
  assert.deepEqual(parseReproArgs([]).config.trainSeeds, [0, 1, 2], "three seeds by default");
  assert.throws(() => parseReproArgs(["--train-seeds", "0,x"]), /integers separated by commas/);
  assert.throws(() => parseReproArgs(["--seed", "4"]), /--seed is now --data-seed/);
  assert.throws(() => parseReproArgs(["--seeds", "4"]), /--seeds is now --train-seeds/);
  assert.throws(() => parseReproArgs(["--sed", "3"]), /unknown/);
  assert.equal(parseReproArgs([]).beyond, false, "the paper's figures alone by default");
  assert.equal(parseReproArgs(["--all"]).beyond, true, "--all adds the studies beyond the paper");
  assert.equal(parseReproArgs(["--paper-only"]).beyond, false);
  assert.throws(() => parseReproArgs(["--data-seed", "x"]), /integer/);
});

Deno.test({
  name: "repro on the small preset runs every step and every notebook, figures and tables included",
  ignore: !hasJupyter,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "repro_e2e_" });
    const before = new Map<string, string>();
    for (const e of Deno.readDirSync(`${ROOT}/notebooks`)) {
      if (!e.isFile) continue;
      before.set(e.name, await Deno.readTextFile(`${ROOT}/notebooks/${e.name}`));
    }
    try {
      const res = await new Deno.Command(`${ROOT}/node_modules/.bin/deno`, {
        args: [
          "run",
          "-A",
          `${ROOT}/lib/cli/repro.ts`,
          "--preset",
          "small",
          "--set",
          "epochs=2",
          "--train-seeds",
          "0,1",
          "--notebooks-out",
          `${tmp}/notebooks`,
          // the studies beyond the paper train 20-30 more heads (minutes even on the small
          // preset); their logic is tested in lib/paper/beyond_test.ts, their notebooks are
          // committed executed (lib/integration/committed_outputs_test.ts)
          "--paper-only",
        ],
        cwd: ROOT,
        env: {
          ADAFUSE_CACHE_DIR: `${tmp}/cache`,
          ADAFUSE_FIGURES_DIR: `${tmp}/figures`,
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const log = new TextDecoder().decode(res.stderr);
      assert.equal(res.code, 0, log.slice(-3000));
      const figs = [...Deno.readDirSync(`${tmp}/figures`)].map((e) => e.name).sort();
      for (
        const f of [
          "01_degradation",
          "02_architecture",
          "03_hits_at_10",
          "04_gate_vs_cosine",
          "05_calibration",
        ]
      ) {
        for (const ext of ["svg", "png", "html"]) {
          assert.ok(figs.includes(`${f}.${ext}`), `${f}.${ext}`);
        }
      }
      // the reviewer's page and its screenshot
      for (const f of ["index.html", "REPORT.md", "index.png", "plotly.min.js"]) {
        assert.ok(figs.includes(f), f);
      }
      for (const nb of ["01_degradation", "03_hits_at_10", "04_gate_vs_cosine", "06_training"]) {
        const cells = JSON.parse(await Deno.readTextFile(`${tmp}/notebooks/${nb}.ipynb`)).cells;
        const code = cells.filter((c: { cell_type: string }) => c.cell_type === "code");
        const last = JSON.stringify(code.at(-2).outputs);
        assert.match(last, /quantity.*paper.*ours.*holds/s, `${nb}: paper-vs-ours table`);
        assert.ok(!JSON.stringify(cells).includes('"output_type": "error"'), `${nb}: an error`);
      }
      const calib = await Deno.readTextFile(`${tmp}/notebooks/05_calibration.ipynb`);
      assert.ok(!calib.includes('"output_type": "error"'), "05_calibration: an error");
      assert.match(calib, /met \d+ of \d+ on data seeds/, "05_calibration: the summary line");
      // the notebooks in notebooks/ were not touched
      for (const [name, text] of before) {
        assert.equal(await Deno.readTextFile(`${ROOT}/notebooks/${name}`), text, name);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("notebookParams: none for the config the notebooks' cells hold, one per difference", () => {
  assert.deepEqual(notebookParams(parseReproArgs([]).config), []);
  const params = (argv: string[]) => notebookParams(parseReproArgs(argv).config);
  assert.deepEqual(params(["--train-seeds", "0", "--set", "lr=1e-4"]), [
    "config.trainSeeds=[0]",
    'config.overrides={"lr":0.0001}',
  ]);
  assert.deepEqual(params(["--data", "/x", "--data-seed", "2"]), [
    "config.dataSeed=2",
    'config.data="/x"',
  ]);
});

Deno.test("reproTimeSummary: the steps' seconds summed by kind, in minutes", () => {
  const line = reproTimeSummary([
    { kind: "data", name: "data", seconds: 84.6 },
    { kind: "baselines", name: "eval chatir visdial", seconds: 6 },
    { kind: "baselines", name: "eval dar visdial", seconds: 6 },
    { kind: "training", name: "train (training seed 0)", seconds: 240 },
    { kind: "ADaFuSE evaluations", name: "eval adafuse visdial (training seed 0)", seconds: 12 },
    { kind: "gate samples", name: "gate samples (training seed 0)", seconds: 6 },
    { kind: "training", name: "train (training seed 1)", seconds: 246 },
    { kind: "notebooks", name: "notebooks", seconds: 34.1 },
  ]);
  assert.equal(
    line,
    "time by step (min): data 1.4 · baselines 0.2 (2 steps) · training 8.1 (2 steps) · " +
      "ADaFuSE evaluations 0.2 · gate samples 0.1 · notebooks 0.6",
  );
});
