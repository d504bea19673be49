/**
 * `deno task lab` end to end: the classic Jupyter Notebook starts on a free loopback port with
 * the project's kernel, a notebook opened in headless Chromium runs all its cells through the
 * page, its plotly figure renders as a live plotly figure (the `.js-plotly-plot` element that
 * plotly.js draws, through lib/tools/jupyter/custom/custom.js), no cell errors, and the server stops.
 */
import { PlotlyPage } from "../show/chromium.ts";
import { assert } from "../testing/assert.ts";
import { freePort, startLab } from "./lab.ts";

const hasNotebook = (() => {
  try {
    return Deno.statSync("/usr/bin/jupyter-notebook").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "lab: a notebook runs all its cells in the browser and draws its plotly figure live",
  ignore: !hasNotebook,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const figures = await Deno.makeTempDir({ prefix: "adafuse-lab-figures-" });
    const port = freePort();
    const lab = await startLab({
      port,
      token: "adafuse-test",
      env: { ADAFUSE_FIGURES_DIR: figures },
      log: "null",
    });
    let page: PlotlyPage | undefined;
    try {
      assert.equal(lab.base, `http://127.0.0.1:${port}/`);
      page = await PlotlyPage.launch();
      await page.goto(lab.urlOf("notebooks/00_setup.ipynb"));
      const p = page;
      const until = async (what: string, expr: string, seconds: number) => {
        const end = Date.now() + seconds * 1000;
        while (Date.now() < end) {
          if (await p.evaluate(expr).catch(() => false)) return;
          await new Promise((ok) => setTimeout(ok, 250));
        }
        throw new Error(`lab: ${what} within ${seconds} s`);
      };
      await until(
        "the kernel did not connect",
        "!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && " +
          "Jupyter.notebook.kernel.is_connected())",
        120,
      );
      // never write the notebook back: this run is a test
      await page.evaluate(
        "Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.writable = false; true",
      );
      await page.evaluate("Jupyter.notebook.clear_all_output(); true");
      await page.evaluate("Jupyter.notebook.execute_all_cells(); true");
      await until(
        "the cells did not finish",
        `Jupyter.notebook.get_cells().every((c) => c.cell_type !== "code" ||
          (typeof c.input_prompt_number === "number")) && !Jupyter.notebook.kernel_busy`,
        240,
      );
      await until(
        "no live plotly figure",
        "document.querySelectorAll('.js-plotly-plot').length > 0",
        30,
      );
      const report = await page.evaluate(`({
        plotly: document.querySelectorAll(".output_plotly .js-plotly-plot").length,
        traces: document.querySelectorAll(".js-plotly-plot .scatterlayer .trace").length,
        errors: [...document.querySelectorAll(".output_error")].map((e) => e.innerText.slice(0, 300)),
        stderr: [...document.querySelectorAll(".output_stderr")].map((e) => e.innerText.slice(0, 300)),
        cells: Jupyter.notebook.get_cells().filter((c) => c.cell_type === "code").length,
      })`);
      assert.deepEqual(report.errors, [], "cell errors in the browser");
      assert.ok(report.plotly >= 1, `live plotly figures: ${report.plotly}`);
      assert.ok(report.traces >= 1, `plotly traces drawn: ${report.traces}`);
      assert.ok(report.cells >= 5);
      // the kernel ran in the project: the figure went to the folder the server was given
      assert.ok(Deno.statSync(`${figures}/00_setup_loss.svg`).isFile);
    } finally {
      await page?.close();
      await lab.stop();
      await Deno.remove(figures, { recursive: true });
    }
    // the server is gone
    const down = await fetch(`${lab.base}api/status`).then((r) => {
      r.body?.cancel();
      return false;
    }, () => true);
    assert.ok(down, "the server still answers after stop()");
  },
});
