/**
 * A headless Debian Chromium driven over the DevTools protocol, used to turn plotly figures
 * into static SVG and PNG with plotly.js's own `Plotly.toImage`. One browser serves many
 * figures; it closes itself after a short idle time so notebooks leave nothing running.
 *
 * @module
 */
import { ROOT } from "../runtime/paths.ts";

const CHROMIUM_CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];
const IDLE_CLOSE_MS = 20_000;

// deno-lint-ignore no-explicit-any
type Json = any;

/** A live headless browser with one page that has plotly.js loaded. */
export class PlotlyPage {
  #proc: Deno.ChildProcess;
  #ws: WebSocket;
  #session = "";
  #next = 1;
  #pending = new Map<number, { ok: (v: Json) => void; err: (e: Error) => void }>();
  #profile: string;

  private constructor(proc: Deno.ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      const p = msg.id ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.err(new Error(`chromium: ${msg.error.message}`));
      else p.ok(msg.result);
    };
  }

  /** Starts Chromium and opens a page with plotly.js. */
  static async launch(): Promise<PlotlyPage> {
    const exe = CHROMIUM_CANDIDATES.find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    if (!exe) {
      throw new Error(
        "no Chromium found for static figures; run `sh lib/tools/setup.sh` (installs Debian's chromium)",
      );
    }
    const profile = await Deno.makeTempDir({ prefix: "adafuse-chromium-" });
    const proc = new Deno.Command(exe, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-file-access-from-files",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // never leave a browser behind when the process ends without closing it
    globalThis.addEventListener("unload", () => {
      try {
        proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    });
    const url = await _devtoolsUrl(proc);
    const ws = new WebSocket(url);
    await new Promise<void>((ok, err) => {
      ws.onopen = () => ok();
      ws.onerror = () => err(new Error(`chromium: cannot connect to ${url}`));
    });
    const page = new PlotlyPage(proc, ws, profile);
    await page.#open();
    return page;
  }

  #send(method: string, params: Json = {}, session = true): Promise<Json> {
    const id = this.#next++;
    const msg: Json = { id, method, params };
    if (session && this.#session) msg.sessionId = this.#session;
    return new Promise((ok, err) => {
      this.#pending.set(id, { ok, err });
      this.#ws.send(JSON.stringify(msg));
    });
  }

  async #open(): Promise<void> {
    const html = `${this.#profile}/plotly.html`;
    const plotly = `${ROOT}/node_modules/plotly.js-dist-min/plotly.min.js`;
    await Deno.writeTextFile(
      html,
      `<!doctype html><html><head><meta charset="utf-8"><script src="file://${plotly}"></script></head><body></body></html>`,
    );
    const { targetId } = await this.#send("Target.createTarget", { url: `file://${html}` }, false);
    const { sessionId } = await this.#send(
      "Target.attachToTarget",
      { targetId, flatten: true },
      false,
    );
    this.#session = sessionId;
    for (let i = 0; i < 200; i++) {
      const r = await this.evaluate("typeof Plotly");
      if (r === "object") return;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    throw new Error(`chromium: plotly.js did not load from ${plotly}; run \`npm ci\``);
  }

  /** Evaluates a JavaScript expression in the page (awaiting promises) and returns its value. */
  async evaluate(expression: string): Promise<Json> {
    const r = await this.#send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`chromium: ${d.exception?.description ?? d.text}`);
    }
    return r.result.value;
  }

  /** Sends one DevTools protocol command to the page and returns its result. */
  async cdp(method: string, params: Json = {}): Promise<Json> {
    return await this.#send(method, params);
  }

  /** Opens `url` in the page and waits until it has loaded (`document.readyState`). */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    // a new document has a new time origin (the URL may change: redirects)
    const before = await this.evaluate("performance.timeOrigin").catch(() => 0);
    const r = await this.#send("Page.navigate", { url });
    if (r.errorText) throw new Error(`chromium: cannot open ${url}: ${r.errorText}`);
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const ready = await this.evaluate(
        `document.readyState === "complete" && performance.timeOrigin !== ${before}`,
      ).catch(() => false);
      if (ready) return;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    throw new Error(`chromium: ${url} did not finish loading in ${timeoutMs / 1000} s`);
  }

  /** A PNG screenshot of the whole page at `width` CSS pixels (height up to `maxHeight`). */
  async screenshot(width = 1200, maxHeight = 16_000): Promise<Uint8Array> {
    await this.#viewport(width, 800);
    const h: number = await this.evaluate("Math.ceil(document.documentElement.scrollHeight)");
    return await this.firstScreen(width, Math.min(Math.max(h, 1), maxHeight));
  }

  /** A PNG of the first screen only: `width` × `height` CSS pixels from the top of the page. */
  async firstScreen(width = 1200, height = 900): Promise<Uint8Array> {
    await this.#viewport(width, height);
    const { data } = await this.#send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  #viewport(width: number, height: number) {
    return this.#send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  /**
   * The share of the pixels of `png` that are not near-white (every channel above 245), decoded
   * and counted by the browser: 0 for a blank screenshot. Leaves the page as it was.
   */
  async inkShare(png: Uint8Array): Promise<number> {
    let bin = "";
    for (let i = 0; i < png.length; i += 0x8000) {
      bin += String.fromCharCode(...png.subarray(i, i + 0x8000));
    }
    return await this.evaluate(`(async () => {
      const img = new Image();
      img.src = "data:image/png;base64,${btoa(bin)}";
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] <= 245 || d[i + 1] <= 245 || d[i + 2] <= 245) ink++;
      }
      return ink / (c.width * c.height);
    })()`) as number;
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.#send("Browser.close", {}, false).catch(() => {});
      this.#ws.close();
    } finally {
      try {
        this.#proc.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#proc.status;
      await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
    }
  }
}

async function _devtoolsUrl(proc: Deno.ChildProcess): Promise<string> {
  const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const timer = setTimeout(() => reader.cancel(), 30_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
      const m = seen.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        // keep draining stderr in the background so Chromium never blocks on a full pipe
        (async () => {
          try {
            while (!(await reader.read()).done) { /* discard */ }
          } catch { /* closed */ }
        })();
        return m[1];
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`chromium did not start:\n${seen.slice(-2000)}`);
}

let _shared: Promise<PlotlyPage> | undefined;
let _idle: number | undefined;

/** The shared page, launched on first use and closed after {@linkcode IDLE_CLOSE_MS} idle. */
export async function withPage<T>(fn: (p: PlotlyPage) => Promise<T>): Promise<T> {
  if (_idle !== undefined) clearTimeout(_idle);
  _shared ??= PlotlyPage.launch();
  let page: PlotlyPage;
  try {
    page = await _shared;
  } catch (e) {
    _shared = undefined;
    throw e;
  }
  try {
    return await fn(page);
  } finally {
    _idle = setTimeout(() => void closePage(), IDLE_CLOSE_MS) as unknown as number;
    Deno.unrefTimer(_idle);
  }
}

/** Closes the shared browser now (tasks call it before exiting). */
export async function closePage(): Promise<void> {
  if (_idle !== undefined) clearTimeout(_idle);
  _idle = undefined;
  const p = _shared;
  _shared = undefined;
  if (p) await (await p).close();
}
