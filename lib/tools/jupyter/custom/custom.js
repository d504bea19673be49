// The classic Jupyter Notebook (Debian's jupyter-notebook 6) has no renderer for plotly's MIME
// type. `deno task lab` serves this folder as /custom/ (JUPYTER_CONFIG_DIR=lib/tools/jupyter) with a
// copy of the project's plotly.js beside this file; this registers a renderer that draws
// `application/vnd.plotly.v1+json` outputs as live plotly figures, first in the display order.
// Plotly's JSON is data, not code, so it is marked safe (it renders in untrusted notebooks too).
// When plotly.js cannot be loaded, the output says so (the static images are in figures/).
define(["base/js/namespace", "notebook/js/outputarea"], function (Jupyter, outputarea) {
  "use strict";
  const MIME = "application/vnd.plotly.v1+json";
  const OutputArea = outputarea.OutputArea;
  if (OutputArea.append_map[MIME]) return;
  const base = (Jupyter.notebook && Jupyter.notebook.base_url) ||
    document.body.getAttribute("data-base-url") || "/";
  const plotlyUrl = base.replace(/\/?$/, "/") + "custom/plotly.min.js";
  const append = function (json, md, element) {
    const toinsert = this.create_output_subarea(md, "output_plotly", MIME);
    const div = document.createElement("div");
    div.style.width = "100%";
    toinsert.append(div);
    element.append(toinsert);
    const fallback = function () {
      div.textContent = "plotly.js did not load from " + plotlyUrl +
        " (start the server with `deno task lab`); the static figure is in figures/";
    };
    requirejs([plotlyUrl], function (Plotly) {
      // plotly.js's bundle sets window.Plotly and hands requirejs nothing
      Plotly = Plotly || globalThis.Plotly;
      if (!Plotly) return fallback();
      const layout = Object.assign({ autosize: true }, json.layout || {});
      Plotly.newPlot(div, json.data || [], layout, { responsive: true });
    }, fallback);
    return toinsert;
  };
  OutputArea.prototype.register_mime_type(MIME, append, { safe: true, index: 0 });
});
