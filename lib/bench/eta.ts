/**
 * How right a training run's ETA was: the ETA its progress reported at fixed shares of its
 * updates, beside the time the rest of the run then took. `deno task bench --full` prints it.
 *
 * @module
 */
import type { TrainProgress } from "../train/data.ts";

/** One ETA check: what the progress line said at a share of the updates, and what came true. */
export interface EtaCheck {
  /** The share of the run's updates done when the ETA was read (0.25 = a quarter). */
  at: number;
  /** The update it was read after. */
  step: number;
  /** The ETA then, in seconds. */
  predictedSec: number;
  /** The seconds the run then still took. */
  actualSec: number;
  /** `predicted / actual − 1`: +0.1 is an ETA 10% too long. */
  error: number;
}

/** Records a run's ETA at fixed shares of its updates; see the module documentation. */
export class EtaRecorder {
  #at: number[];
  #seen: { at: number; step: number; t: number; eta: number }[] = [];
  #now: () => number;

  /**
   * @param at the shares of the updates at which to read the ETA, ascending in (0, 1).
   * @param now the clock in seconds (tests pass their own).
   */
  constructor(at: number[] = [0.25, 0.5, 0.75], now = () => performance.now() / 1000) {
    if (at.some((x, i) => !(x > 0 && x < 1) || (i > 0 && x <= at[i - 1]))) {
      throw new Error(`EtaRecorder: shares must ascend within (0, 1), got [${at}]`);
    }
    this.#at = [...at];
    this.#now = now;
  }

  #next = 0;

  /**
   * The `onProgress` callback to hand to `train()`: one reading each time the run crosses one of
   * the shares or more (a run resumed past some reads once, at the share where it is).
   */
  readonly onProgress = (p: TrainProgress): void => {
    const next = this.#at[this.#next];
    if (next === undefined || p.totalSteps <= 0 || p.step < next * p.totalSteps) return;
    const share = p.step / p.totalSteps;
    while (this.#next < this.#at.length && this.#at[this.#next] <= share) this.#next++;
    this.#seen.push({ at: share, step: p.step, t: this.#now(), eta: p.etaSec });
  };

  /** The checks, with the time since each reading as the actual rest; call when the run ended. */
  finish(): EtaCheck[] {
    const end = this.#now();
    return this.#seen.map((s) => ({
      at: s.at,
      step: s.step,
      predictedSec: s.eta,
      actualSec: end - s.t,
      error: end - s.t > 0 ? s.eta / (end - s.t) - 1 : 0,
    }));
  }
}

/** The checks as one line: `at 25%: ETA 61.0 min, took 58.2 min (+4.8%); …`. */
export function etaLine(checks: EtaCheck[]): string {
  if (!checks.length) return "no ETA read (the run resumed past the checkpoints, or was too short)";
  return checks.map((c) =>
    `at ${(100 * c.at).toFixed(0)}%: ETA ${(c.predictedSec / 60).toFixed(1)} min, took ${
      (c.actualSec / 60).toFixed(1)
    } min (${c.error >= 0 ? "+" : ""}${(100 * c.error).toFixed(1)}%)`
  ).join("; ");
}
