/**
 * `deno task notebooks [names…] [--out DIR] [--param NAME=VALUE…] [--timeout S]`
 *
 * Executes notebooks headless on the project's own Deno kernel (the kernelspec in
 * `lib/tools/jupyter/`, found through `JUPYTER_PATH`; nothing is written to the home folder), in
 * place or into `--out DIR`, keeping every cell output. Names may be given as `01`,
 * `01_degradation` or a path; with none, every `notebooks/*.ipynb` runs in order.
 *
 * @module
 */
import { NOTEBOOKS_DIR, ROOT } from "../runtime/paths.ts";
import { parseArgs } from "./_args.ts";

/** Options of {@linkcode runNotebooks}. */
export interface NotebookRunOptions {
  /** Notebook names or paths; all notebooks when empty. */
  names?: string[];
  /** Folder for executed copies; in place when absent. */
  outDir?: string;
  /** `NAME=VALUE` assignments run right after the cell tagged `parameters`. */
  params?: string[];
  /** Seconds allowed per cell. */
  timeout?: number;
  /** Print the runner's progress (default true). */
  verbose?: boolean;
}

/** Resolves notebook names (`01`, `01_degradation`, `notebooks/01_x.ipynb`) to paths. */
export function resolveNotebooks(names: string[] = []): string[] {
  const all = [...Deno.readDirSync(NOTEBOOKS_DIR)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) return all.map((n) => `${NOTEBOOKS_DIR}/${n}`);
  return names.map((name) => {
    if (name.endsWith(".ipynb")) {
      try {
        Deno.statSync(name);
        return name;
      } catch {
        // fall through to a name lookup
      }
    }
    const base = name.replace(/^.*\//, "").replace(/\.ipynb$/, "");
    const hit = all.filter((n) => n === `${base}.ipynb` || n.startsWith(`${base}_`));
    if (hit.length !== 1) {
      throw new Error(
        `notebook '${name}' ${hit.length ? "is ambiguous" : "not found"} in notebooks/; ` +
          `known: ${all.join(", ")}`,
      );
    }
    return `${NOTEBOOKS_DIR}/${hit[0]}`;
  });
}

/** The environment the kernel and runner need: the project's Deno and kernelspec. */
export function notebookEnv(): Record<string, string> {
  return {
    JUPYTER_PATH: `${ROOT}/lib/tools/jupyter`,
    PATH: `${ROOT}/node_modules/.bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    DENO_TLS_CA_STORE: "system",
    NO_COLOR: "1",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
    JUPYTER_PLATFORM_DIRS: "1",
    // keep Jupyter's runtime files (connection files) out of the home folder
    JUPYTER_RUNTIME_DIR: `${Deno.env.get("TMPDIR") ?? "/tmp"}/adafuse-jupyter-runtime`,
    JUPYTER_DATA_DIR: `${ROOT}/lib/tools/jupyter`,
    JUPYTER_CONFIG_DIR: `${ROOT}/lib/tools/jupyter`,
    IPYTHONDIR: `${Deno.env.get("TMPDIR") ?? "/tmp"}/adafuse-ipython`,
  };
}

/**
 * Executes notebooks one after another; throws naming the notebook and the failing cell
 * when one fails (its outputs up to the error are saved).
 */
export async function runNotebooks(opts: NotebookRunOptions = {}): Promise<string[]> {
  const paths = resolveNotebooks(opts.names);
  const done: string[] = [];
  if (opts.outDir) await Deno.mkdir(opts.outDir, { recursive: true });
  for (const path of paths) {
    const out = opts.outDir ? `${opts.outDir}/${path.replace(/^.*\//, "")}` : path;
    const args = [`${ROOT}/lib/tools/run_notebook.py`, path, "--out", out];
    for (const p of opts.params ?? []) args.push("--param", p);
    if (opts.timeout) args.push("--timeout", String(opts.timeout));
    if (opts.verbose !== false) console.error(`notebook ${path.replace(`${ROOT}/`, "")}`);
    const cmd = new Deno.Command("/usr/bin/python3", {
      args,
      env: notebookEnv(),
      stdout: "inherit",
      stderr: opts.verbose === false ? "piped" : "inherit",
    });
    const res = await cmd.output();
    if (!res.success) {
      const why = opts.verbose === false ? new TextDecoder().decode(res.stderr) : "";
      throw new Error(`notebook ${path} failed (exit ${res.code})${why ? `:\n${why}` : ""}`);
    }
    done.push(out);
  }
  // the executed notebooks are committed: leave them as `deno fmt` formats them (with the
  // project's line width; --no-config because deno.json keeps notebooks/ out of fmt --check)
  const fmt = await new Deno.Command(`${ROOT}/node_modules/.bin/deno`, {
    args: ["fmt", "--quiet", "--no-config", "--line-width", "100", ...done],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!fmt.success) {
    throw new Error(`deno fmt of ${done.join(", ")}: ${new TextDecoder().decode(fmt.stderr)}`);
  }
  return done;
}

const _USAGE = "usage: deno task notebooks [names…] [--out DIR] [--param NAME=VALUE …] " +
  "[--timeout SECONDS]";

/** Parses the command line of `deno task notebooks`; errors name the bad argument. */
export function parseNotebookArgs(argv: string[]): NotebookRunOptions {
  const a = parseArgs(argv, {
    options: ["out", "timeout"],
    repeated: ["param"],
    positional: true,
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  const timeout = a.options.timeout === undefined ? undefined : Number(a.options.timeout);
  if (timeout !== undefined && !(timeout > 0)) {
    throw new Error(`--timeout '${a.options.timeout}' must be a number of seconds; ${_USAGE}`);
  }
  return { names: a.rest, outDir: a.options.out, params: a.repeated.param, timeout };
}

if (import.meta.main) {
  try {
    await runNotebooks(parseNotebookArgs(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(1);
  }
}
