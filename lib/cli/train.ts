/**
 * `deno run -A lib/cli/train.ts --data DIR --out RUN_DIR [--preset full|repro]
 * [--config FILE] [--set key=value…] [--resume] [--backend wasm|webgpu|auto]`
 *
 * Trains the fusion head on the bundle in `--data` with the recipe of `lib/train/config.ts`:
 * the preset (default: `full`, the reference recipe), then the JSON config file, then each
 * `--set` override. A run directory that already holds the finished run of the same config is
 * reported and left alone; an unfinished one continues with `--resume`.
 *
 * The engine is a config field like any other: `--set engine=autodiff` for tfjs autodiff on
 * the main thread, `--set workers=2` (or `0`, or `auto`) for the worker threads of the default
 * `parallel` engine (wasm backend only; on another backend training falls back to autodiff).
 *
 * @module
 */
import type { BackendName } from "../runtime/backend.ts";
import { loadBundle } from "../data/bundle.ts";
import type { TrainData, TrainResult } from "../train/loop.ts";
import {
  applyTrainOverrides,
  DEFAULT_TRAIN_PRESET,
  loadTrainConfig,
  type TrainConfig,
  trainPreset,
} from "../train/config.ts";
import { type CachedTrainRun, trainOnBundle, type TrainOnBundleOptions } from "../train/run.ts";
import { trainingProgress } from "../show/progress.ts";
import { parseArgs } from "./_args.ts";

/** Parsed command line of {@linkcode runTrain}. */
export interface TrainArgs {
  /** Bundle directory (`--data`). */
  data: string;
  /** Run directory (`--out`). */
  out: string;
  /** Preset name (`--preset`); absent: `full` (with `--config`: the file's preset). */
  preset?: string;
  /** JSON config file (`--config`), merged over the preset. */
  config?: string;
  /** `key=value` overrides (`--set`, repeatable), applied last. */
  set: string[];
  /** Continue a stopped run (`--resume`). */
  resume: boolean;
  /** tfjs backend (`--backend`). */
  backend?: BackendName;
}

const _USAGE =
  "usage: deno run -A lib/cli/train.ts --data DIR --out RUN_DIR [--preset full|repro] " +
  "[--config FILE] [--set key=value ...] [--resume] [--backend wasm|webgpu|auto]";

/** Parses the command line (`--flag value` or `--flag=value`); errors name the flag. */
export function parseTrainArgs(argv: string[]): TrainArgs {
  const a = parseArgs(argv, {
    options: ["data", "out", "preset", "config", "backend"],
    repeated: ["set"],
    flags: ["resume"],
    required: ["data", "out"],
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  return {
    data: a.options.data,
    out: a.options.out,
    preset: a.options.preset,
    config: a.options.config,
    set: a.repeated.set,
    resume: a.flags.resume,
    backend: a.options.backend as BackendName | undefined,
  };
}

/** The config a command line asks for: preset, then `--config` file, then `--set`. */
export async function configFromArgs(args: TrainArgs): Promise<TrainConfig> {
  let base: TrainConfig;
  if (args.config) {
    if (args.preset !== undefined) {
      throw new Error(
        '--preset and --config both given: put the preset in the config file ({"preset": ...})',
      );
    }
    base = await loadTrainConfig(args.config);
  } else {
    base = structuredClone(
      trainPreset(args.preset ?? DEFAULT_TRAIN_PRESET, "lib/cli/train.ts --preset"),
    ) as TrainConfig;
  }
  return applyTrainOverrides(base, args.set);
}

/**
 * Runs the command: builds the config and hands it to {@linkcode trainOnBundle} (which returns
 * at once when `--out` holds the finished run of the same config).
 *
 * @param loadData how to load the two splits of `--data` (default: lib/data/bundle.ts's
 *   `loadBundle`).
 * @param opts `onProgress` (called after every update) and `log` (where the progress lines go;
 *   default stderr) of lib/train/loop.ts's `train`.
 */
export async function runTrain(
  argv: string[],
  loadData: (dir: string, splits: string[]) => Promise<TrainData> = (dir, splits) =>
    loadBundle(dir, { splits }),
  opts: Pick<TrainOnBundleOptions, "onProgress" | "log"> = {},
): Promise<TrainResult | CachedTrainRun> {
  const args = parseTrainArgs(argv);
  const config = await configFromArgs(args);
  return await trainOnBundle(args.data, config, {
    outDir: args.out,
    resume: args.resume,
    backend: args.backend,
    loadData,
    ...opts,
  });
}

if (import.meta.main) {
  try {
    // in a terminal: one line with a bar and the ETA, rewritten in place
    const bar = trainingProgress("train");
    await runTrain(Deno.args, undefined, bar.bar.mode === "tty" ? bar : {});
    await bar.finish();
  } catch (e) {
    console.error(`train: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
