/**
 * Live progress for long steps: a bar that updates in place in a notebook (one `display_data`
 * output with a `display_id`, then `update_display_data` messages through
 * `Deno.jupyter.broadcast`), a single line with ETA rewritten with `\r` in a terminal, and a few
 * plain lines (every 10%) when the output is a file or a pipe.
 *
 * ```ts
 * const bar = lib.show.trainingProgress("training");
 * await lib.paper.reproTrain(config, { onProgress: bar.onProgress, log: bar.log });
 * await bar.finish();
 * ```
 *
 * @module
 */
import type { TrainProgress } from "../train/loop.ts";

/** Where a bar draws: a notebook, a terminal line, plain lines, or nowhere. */
export type ProgressMode = "notebook" | "tty" | "lines" | "silent";

/** What a bar shows at one moment. */
export interface ProgressState {
  /** What is progressing (`training`). */
  label: string;
  /** Units done. */
  done: number;
  /** Units in all. */
  total: number;
  /** Name of a unit (`updates`). */
  unit: string;
  /** Seconds since the bar started. */
  elapsedSec: number;
  /** Estimated seconds left (NaN when unknown). */
  etaSec: number;
  /** A short note (`loss 2.31`). */
  info: string;
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** What is progressing (default `progress`). */
  label?: string;
  /** Units in all (may be set later with {@linkcode ProgressBar.update}). */
  total?: number;
  /** Name of a unit (default `steps`). */
  unit?: string;
  /** Where to draw (default: a notebook inside `deno jupyter`, else `tty` or `lines`). */
  mode?: ProgressMode;
  /** Minimum milliseconds between two redraws in a notebook or terminal (default 250). */
  minIntervalMs?: number;
  /** Text sink of the `tty` and `lines` modes (default: stderr). */
  write?: (text: string) => void;
  /** Message sink of the `notebook` mode (default: `Deno.jupyter.broadcast`). */
  broadcast?: (type: string, content: Record<string, unknown>) => Promise<void>;
  /** Clock in milliseconds (default `performance.now`; tests pass a fake one). */
  now?: () => number;
}

/** `83 s` → `1:23`, `3725 s` → `1:02:05`; `?` when unknown. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

/**
 * One line of text for a progress state:
 * `training  40% [########------------]  4/10 updates  0:12 < 0:18  loss 2.31`.
 */
export function progressLine(s: ProgressState, width = 20): string {
  const frac = s.total > 0 ? Math.min(1, Math.max(0, s.done / s.total)) : 0;
  const fill = Math.round(frac * width);
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const bar = `[${"#".repeat(fill)}${"-".repeat(width - fill)}]`;
  const time = s.done >= s.total && s.total > 0
    ? `${formatDuration(s.elapsedSec)}`
    : `${formatDuration(s.elapsedSec)} < ${formatDuration(s.etaSec)}`;
  return `${s.label} ${pct} ${bar} ${s.done}/${s.total} ${s.unit}  ${time}` +
    (s.info ? `  ${s.info}` : "");
}

function _escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The notebook rendering of a progress state: an HTML bar and its text line. */
export function progressBundle(s: ProgressState): Record<string, string> {
  const pct = s.total > 0 ? Math.min(100, (100 * s.done) / s.total) : 0;
  const text = progressLine(s);
  const rest = text.slice(text.indexOf("]") + 1).trim();
  return {
    "text/plain": text,
    "text/html": `<div style="font-family:monospace;display:flex;align-items:center;gap:8px">` +
      `<span>${_escape(s.label)}</span>` +
      `<div style="width:240px;height:12px;background:#e5e7eb;border-radius:3px">` +
      `<div style="width:${pct.toFixed(1)}%;height:100%;background:#2563eb;border-radius:3px">` +
      `</div></div><span>${pct.toFixed(0)}%</span><span>${_escape(rest)}</span></div>`,
  };
}

function _jupyterBroadcast():
  | ((type: string, content: Record<string, unknown>) => Promise<void>)
  | undefined {
  try {
    // deno-lint-ignore no-explicit-any
    const j = (Deno as any).jupyter;
    return typeof j?.broadcast === "function" ? j.broadcast.bind(j) : undefined;
  } catch {
    return undefined; // Deno.jupyter throws outside `deno jupyter`
  }
}

function _stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** The mode a bar takes by default here: `notebook` in a kernel, else `tty` or `lines`. */
export function defaultProgressMode(): ProgressMode {
  if (_jupyterBroadcast()) return "notebook";
  return _stderrIsTerminal() ? "tty" : "lines";
}

let _ids = 0;

/**
 * A progress bar: {@linkcode ProgressBar.update} as often as you like (redraws are throttled),
 * {@linkcode ProgressBar.finish} at the end (draws the final state and waits for the notebook
 * messages to be sent).
 */
export class ProgressBar {
  readonly mode: ProgressMode;
  #s: ProgressState;
  #t0: number;
  #last = -Infinity;
  #lastDecile = -1;
  #shown = false;
  #chain: Promise<void> = Promise.resolve();
  #id = `adafuse-progress-${Date.now().toString(36)}-${++_ids}`;
  #o: Required<Pick<ProgressOptions, "minIntervalMs" | "write" | "now">> & {
    broadcast?: ProgressOptions["broadcast"];
  };

  /** A bar that has drawn nothing yet (it draws at the first update). */
  constructor(opts: ProgressOptions = {}) {
    const now = opts.now ?? (() => performance.now());
    this.#o = {
      minIntervalMs: opts.minIntervalMs ?? 250,
      write: opts.write ??
        ((t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t))),
      now,
      broadcast: opts.broadcast ?? _jupyterBroadcast(),
    };
    this.mode = opts.mode ?? (opts.broadcast ? "notebook" : defaultProgressMode());
    if (this.mode === "notebook" && !this.#o.broadcast) this.mode = "lines";
    this.#t0 = now();
    this.#s = {
      label: opts.label ?? "progress",
      done: 0,
      total: opts.total ?? 0,
      unit: opts.unit ?? "steps",
      elapsedSec: 0,
      etaSec: NaN,
      info: "",
    };
  }

  /** The state as last updated. */
  get state(): Readonly<ProgressState> {
    return { ...this.#s };
  }

  /**
   * Sets the progress (`done` of `total`, a note, an ETA in seconds; without one the ETA is
   * extrapolated from the elapsed time) and redraws when due.
   */
  update(done: number, p: { total?: number; info?: string; etaSec?: number } = {}): void {
    const s = this.#s;
    s.done = done;
    if (p.total !== undefined) s.total = p.total;
    if (p.info !== undefined) s.info = p.info;
    s.elapsedSec = (this.#o.now() - this.#t0) / 1000;
    s.etaSec = p.etaSec ?? (done > 0 ? (s.elapsedSec * (s.total - done)) / done : NaN);
    this.#draw(false);
  }

  /**
   * Prints a log line without breaking the bar (in a terminal: clears the bar's line, prints,
   * redraws it); in a notebook the line goes to stdout.
   */
  log(line: string): void {
    if (this.mode === "silent") return;
    if (this.mode === "tty") {
      this.#o.write(`\r\x1b[2K${line}\n`);
      if (this.#shown) this.#o.write(progressLine(this.#s));
    } else if (this.mode === "notebook") {
      console.log(line);
    } else {
      this.#o.write(line + "\n");
    }
  }

  /**
   * Draws the final state (with an optional note) and waits until it is sent; a bar that never
   * drew (nothing to do) stays silent.
   */
  async finish(info?: string): Promise<void> {
    if (!this.#shown) return;
    if (info !== undefined) this.#s.info = info;
    this.#s.elapsedSec = (this.#o.now() - this.#t0) / 1000;
    this.#draw(true);
    if (this.mode === "tty" && this.#shown) this.#o.write("\n");
    await this.#chain;
  }

  #draw(final: boolean): void {
    const t = this.#o.now();
    const s = this.#s;
    if (this.mode === "silent") return;
    if (this.mode === "lines") {
      const decile = s.total > 0 ? Math.floor((10 * s.done) / s.total) : 0;
      if (!final && decile === this.#lastDecile) return;
      if (final && decile === this.#lastDecile && this.#shown) return;
      this.#lastDecile = decile;
      this.#shown = true;
      this.#o.write(progressLine(s) + "\n");
      return;
    }
    if (!final && this.#shown && t - this.#last < this.#o.minIntervalMs) return;
    this.#last = t;
    if (this.mode === "tty") {
      this.#o.write(`\r\x1b[2K${progressLine(s)}`);
      this.#shown = true;
      return;
    }
    const type = this.#shown ? "update_display_data" : "display_data";
    this.#shown = true;
    const content = { data: progressBundle(s), metadata: {}, transient: { display_id: this.#id } };
    const send = this.#o.broadcast!;
    this.#chain = this.#chain.then(() => send(type, content)).catch(() => {});
  }
}

/** A bar wired to training: pass `onProgress` and `log` to `reproTrain` or `train`. */
export interface TrainingProgress {
  /** The bar itself. */
  bar: ProgressBar;
  /** For `TrainOptions.onProgress`: updates the bar after every update of the weights. */
  onProgress: (p: TrainProgress) => void;
  /** For `TrainOptions.log`: the trainer's progress lines, printed without breaking the bar. */
  log: (line: string) => void;
  /** Draws the final state; call after training. */
  finish: (info?: string) => Promise<void>;
}

/**
 * A progress bar for a training run: updates (the optimizer steps) done of all, epoch, loss,
 * samples/s and the trainer's ETA. In a notebook the trainer's own lines are dropped unless
 * `keepLog` (the bar and the log.jsonl curves say it all).
 */
export function trainingProgress(
  label = "training",
  opts: ProgressOptions & { keepLog?: boolean } = {},
): TrainingProgress {
  const bar = new ProgressBar({ label, unit: "updates", ...opts });
  return {
    bar,
    onProgress: (p) =>
      bar.update(p.step, {
        total: p.totalSteps,
        etaSec: p.etaSec,
        info: `epoch ${p.epoch + 1}, loss ${p.loss.toFixed(3)}, ${
          p.samplesPerSec.toFixed(0)
        } samples/s`,
      }),
    log: (line) => {
      if (bar.mode !== "notebook" || opts.keepLog) bar.log(line);
    },
    finish: (info) => bar.finish(info),
  };
}
