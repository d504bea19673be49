/**
 * One training run on a bundle folder, as `deno task train` and the paper pipeline start it:
 * a run folder that already holds the finished run of the same config is left alone (without
 * loading the data); otherwise the backend starts, the two splits load and {@linkcode train}
 * trains (continuing a stopped run with `resume`).
 *
 * @module
 */
import { type BackendName, initBackend } from "../runtime/backend.ts";
import { loadBundle } from "../data/bundle.ts";
import { storedLatent } from "../data/synthetic/latent.ts";
import { train, type TrainData, type TrainOptions, type TrainResult } from "./loop.ts";
import { type TrainConfig, trainConfigHash } from "./config.ts";
import { RunDir } from "./run_dir.ts";

/** Options of {@linkcode trainOnBundle}. */
export interface TrainOnBundleOptions {
  /** The run folder (`log.jsonl`, `state.json`, checkpoints). */
  outDir: string;
  /** Continue a stopped run in `outDir`. */
  resume?: boolean;
  /** tfjs backend (default: `ADAFUSE_BACKEND` or auto). */
  backend?: BackendName;
  /** How to load the two splits (default: lib/data/bundle.ts's `loadBundle`). */
  loadData?: (dir: string, splits: string[]) => Promise<TrainData>;
  /** Called after every update (e.g. lib/show/progress.ts's bar). */
  onProgress?: TrainOptions["onProgress"];
  /** Where the progress lines go (default: stderr). */
  log?: (line: string) => void;
}

/** What {@linkcode trainOnBundle} returns when `outDir` already held the finished run. */
export interface CachedTrainRun {
  /** Always true. */
  cached: true;
  /** The config's hash. */
  configHash: string;
  /** The run folder. */
  outDir: string;
}

/**
 * Trains `config` on the bundle in `dataDir` into `opts.outDir`, or returns at once when that
 * folder holds the finished run of the same config. Progress lines go to `opts.log` (default
 * stderr).
 */
export async function trainOnBundle(
  dataDir: string,
  config: TrainConfig,
  opts: TrainOnBundleOptions,
): Promise<TrainResult | CachedTrainRun> {
  const { outDir } = opts;
  const say = opts.log ?? ((line: string) => console.error(line));
  const hash = await trainConfigHash(config);
  const st = await new RunDir(outDir).finished(hash).catch(() => undefined);
  if (st) {
    say(
      `train: ${outDir} already holds the finished run of this config (hash ${
        hash.slice(0, 12)
      }, best val metric ${st.bestMetric} at epoch ${st.bestEpoch}); nothing to do`,
    );
    return { cached: true, configHash: hash, outDir };
  }
  const info = await initBackend(opts.backend);
  say(`train: backend ${info.name} (${info.device}); config hash ${hash.slice(0, 12)}`);
  const load = opts.loadData ?? ((dir, splits) => loadBundle(dir, { splits }));
  const data: TrainData = await load(dataDir, [config.trainSplit, config.valSplit]);
  // a synthetic bundle's latent truths let validation log the gate's AUC for off-scene renders
  const val = data.splits[config.valSplit];
  if (val && !val.offScene) {
    const truth = await storedLatent(dataDir, config.valSplit);
    if (truth && truth.offScene.length === val.count * data.rounds) val.offScene = truth.offScene;
  }
  const res = await train(data, config, {
    outDir,
    resume: opts.resume ?? false,
    onProgress: opts.onProgress,
    log: opts.log,
  });
  say(
    `train: done; best val metric ${res.bestMetric.toFixed(4)} at epoch ${res.bestEpoch} → ` +
      `${res.bestCheckpoint}`,
  );
  return res;
}
