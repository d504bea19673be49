/**
 * `deno task lab [--port N] [--no-setup]`
 *
 * Interactive notebooks: runs the set-up (`lib/tools/setup.sh`, which installs Debian's
 * `jupyter-notebook` when missing), then starts the classic Jupyter Notebook on 127.0.0.1 only,
 * rooted at the repository, with the project's Deno kernel (`JUPYTER_PATH=lib/tools/jupyter`) and
 * plotly's renderer (`lib/tools/jupyter/custom/custom.js`, with a copy of the project's plotly.js
 * beside it). Prints the URL with its token; Ctrl-C stops the server.
 *
 * @module
 */
import { ensurePlotlyJs } from "../show/figures.ts";
import { ROOT } from "../runtime/paths.ts";
import { parseArgs } from "./_args.ts";
import { notebookEnv } from "./notebooks.ts";

/** Options of {@linkcode startLab}. */
export interface LabOptions {
  /** Port on 127.0.0.1 (default 8888; 0: a free one). */
  port?: number;
  /** The access token (default: a random one). */
  token?: string;
  /** Extra environment for the server and its kernels (e.g. `ADAFUSE_FIGURES_DIR`). */
  env?: Record<string, string>;
  /** Where the server's log goes (default: inherited stderr). */
  log?: "inherit" | "null";
}

/** A running Jupyter Notebook server. */
export interface Lab {
  /** `http://127.0.0.1:PORT/` */
  base: string;
  /** The token. */
  token: string;
  /** The URL to open a notebook (`notebooks/01_degradation.ipynb`) with the token. */
  urlOf(path: string): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const JUPYTER = "/usr/bin/jupyter-notebook";

/**
 * Starts the classic Jupyter Notebook on 127.0.0.1 with the project's kernel and plotly
 * renderer, and waits until it answers (60 s at most).
 */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  try {
    await Deno.stat(JUPYTER);
  } catch {
    throw new Error(
      `${JUPYTER} is missing: run \`sh lib/tools/setup.sh\` (installs Debian's jupyter-notebook)`,
    );
  }
  await ensurePlotlyJs(`${ROOT}/lib/tools/jupyter/custom`);
  const port = opts.port === 0 ? freePort() : (opts.port ?? 8888);
  const token = opts.token ?? crypto.randomUUID().replace(/-/g, "");
  const proc = new Deno.Command(JUPYTER, {
    args: [
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--port-retries=0",
      `--notebook-dir=${ROOT}`,
      `--NotebookApp.token=${token}`,
      "--NotebookApp.allow_remote_access=False",
      // checkpoints go to the temp folder, not to .ipynb_checkpoints/ beside the notebooks
      `--FileCheckpoints.checkpoint_dir=${Deno.env.get("TMPDIR") ?? "/tmp"}/adafuse-checkpoints`,
      // Jupyter refuses root unless told; containers often run as root
      ...(Deno.uid() === 0 ? ["--allow-root"] : []),
    ],
    cwd: ROOT,
    env: { ...notebookEnv(), ...(opts.env ?? {}) },
    stdin: "null",
    stdout: opts.log ?? "inherit",
    stderr: opts.log === "null" ? "piped" : "inherit",
  }).spawn();
  // a quiet server keeps its last log lines for the error messages
  let tail = "";
  if (opts.log === "null") {
    (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
        tail = (tail + chunk).slice(-4000);
      }
    })().catch(() => {});
  }
  const base = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    try {
      proc.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await proc.status;
    clearTimeout(t);
  };
  const end = Date.now() + 60_000;
  let exited = false;
  proc.status.then(() => (exited = true));
  while (true) {
    if (exited) throw new Error(`jupyter-notebook exited at start:\n${tail}`);
    try {
      const r = await fetch(`${base}api/status?token=${token}`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > end) {
      await stop();
      throw new Error(`jupyter-notebook did not answer on ${base} within 60 s:\n${tail}`);
    }
    await new Promise((ok) => setTimeout(ok, 250));
  }
  return {
    base,
    token,
    urlOf: (path) => `${base}notebooks/${path}?token=${token}`,
    stop,
  };
}

const _USAGE = "usage: deno task lab [--port N] [--no-setup]";

if (import.meta.main) {
  try {
    const a = parseArgs(Deno.args, { options: ["port"], flags: ["no-setup"], usage: _USAGE });
    if (a.help) throw new Error(_USAGE);
    const port = a.options.port === undefined ? 8888 : Number(a.options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new Error(`--port '${a.options.port}' must be a port number; ${_USAGE}`);
    }
    if (!a.flags["no-setup"]) {
      const setup = await new Deno.Command("sh", { args: [`${ROOT}/lib/tools/setup.sh`] }).spawn()
        .status;
      if (!setup.success) throw new Error("lib/tools/setup.sh failed (see above)");
    }
    const lab = await startLab({ port });
    console.log(`lab: Jupyter Notebook with the project's Deno kernel on ${lab.base}`);
    console.log(`lab: open ${lab.base}tree/notebooks?token=${lab.token}`);
    console.log("lab: Ctrl-C stops it");
    Deno.addSignalListener("SIGINT", async () => {
      await lab.stop();
      Deno.exit(0);
    });
  } catch (e) {
    console.error(`lab: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
