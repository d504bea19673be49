/**
 * Trainer parity with PyTorch (`deno task parity`): the same bundle, recipe and seeds trained by
 * this project's trainer (lib/train/) and by a PyTorch head trained with the reference's loop
 * (lib/tools/parity_torch.py, written here from the published recipe), compared epoch by epoch:
 * training loss, validation Hits@K and the gate's image weight and slope. The two draw their
 * randomness from different generators (initial weights, rounds, shuffles, dropout), so they
 * agree in distribution, not bit for bit: the verdict asks whether the gap between their means
 * over seeds is within the spread over seeds ({@linkcode parityVerdict}).
 *
 * @module
 */
import { CACHE_DIR, readJsonIfExists, ROOT, writeFileAtomic } from "../runtime/paths.ts";
import { type TrainConfig, trainConfigHash } from "../train/config.ts";
import { trainOnBundle } from "../train/run.ts";
import type { EvalRecord } from "../train/loop.ts";
import { ensureTorch, torchEnv } from "./torch.ts";
import { stableHash } from "../runtime/hash.ts";
import { readTrainLog } from "../show/training_view.ts";

/** One validation of one side, as the comparison reads it. */
export interface ParityEval {
  /** 0-based epoch. */
  epoch: number;
  /** Updates done. */
  step: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** Selection metric (mean over rounds of the cumulative Hits@K on the val gallery). */
  valMetric: number;
  /** Mean image weight `1 − w` on the val pairs. */
  imageWeight: number;
  /** Its slope against cos(t, g). */
  slope: number;
}

/** Both sides of one training seed. */
export interface ParitySeed {
  /** The training seed. */
  seed: number;
  /** This project's trainer. */
  ours: ParityEval[];
  /** PyTorch with the reference's loop. */
  torch: ParityEval[];
}

/** Whether two samples over seeds agree: the gap of their means against the spread. */
export interface ParityVerdict {
  /** Mean over seeds, ours. */
  ours: number;
  /** Mean over seeds, PyTorch. */
  torch: number;
  /** ours − torch. */
  gap: number;
  /** The larger of the two sides' ranges over seeds (max − min). */
  spread: number;
  /** |gap| ≤ spread. */
  within: boolean;
}

/**
 * The verdict on one quantity (say, the last validation's metric) measured once per seed on
 * each side: the gap between the two means is "within the spread" when it is no larger than
 * the larger range over seeds of either side.
 */
export function parityVerdict(ours: number[], torch: number[]): ParityVerdict {
  if (ours.length === 0 || torch.length === 0) {
    throw new Error("parity: each side needs at least one seed");
  }
  const mean = (x: number[]) => x.reduce((a, v) => a + v, 0) / x.length;
  const range = (x: number[]) => Math.max(...x) - Math.min(...x);
  const o = mean(ours), t = mean(torch);
  const spread = Math.max(range(ours), range(torch));
  return { ours: o, torch: t, gap: o - t, spread, within: Math.abs(o - t) <= spread };
}

function _fromOurs(e: EvalRecord): ParityEval {
  return {
    epoch: e.epoch,
    step: e.step,
    trainLoss: e.trainLoss,
    valMetric: e.valMetric,
    imageWeight: e.gate?.mean ?? NaN,
    slope: e.gate?.slope ?? NaN,
  };
}

/** Options of {@linkcode runParity}. */
export interface ParityOptions {
  /** The bundle folder. */
  data: string;
  /** The recipe both sides train with (its `seed` is replaced by each of `seeds`). */
  config: TrainConfig;
  /** Training seeds. */
  seeds: number[];
  /** Python with torch (default `/usr/bin/python3`, Debian's). */
  python?: string;
  /** Install Debian's python3-torch when missing (default true). */
  install?: boolean;
  /** Threads of the PyTorch side (default 2). */
  threads?: number;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
  /** Where the runs and PyTorch's results are cached (default `CACHE_DIR`, i.e. `data/`). */
  cacheDir?: string;
}

/**
 * Trains both sides on every seed (each run cached: ours in `data/runs/parity/`, PyTorch's
 * validation lines in `data/cache/parity/`) and returns their validations.
 */
export async function runParity(opts: ParityOptions): Promise<ParitySeed[]> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const python = opts.python ?? "/usr/bin/python3";
  const why = await ensureTorch(python, opts.install ?? true, log);
  if (why) throw new Error(`parity: the PyTorch side cannot run: ${why}`);
  const bundle = opts.data.replace(/\/+$/, "").replace(/^.*\//, "");
  // PyTorch's results are cached per version of the script that computed them
  const script = (await stableHash(await Deno.readTextFile(`${ROOT}/lib/tools/parity_torch.py`)))
    .slice(0, 8);
  const out: ParitySeed[] = [];
  for (const seed of opts.seeds) {
    const cfg: TrainConfig = { ...structuredClone(opts.config), seed };
    const hash = (await trainConfigHash(cfg)).slice(0, 8);
    const root = opts.cacheDir ?? CACHE_DIR;
    const dir = `${root}/runs/parity/${bundle}--${hash}-seed${seed}`;
    log(`parity: seed ${seed}, ours → ${dir}`);
    await trainOnBundle(opts.data, cfg, { outDir: dir, resume: true, log: () => {} });
    const ours = (await readTrainLog(dir)).evals.map(_fromOurs);
    const cached = `${root}/cache/parity/${bundle}--${hash}-${script}-seed${seed}.json`;
    let torch = await readJsonIfExists<ParityEval[]>(cached);
    if (!torch) {
      log(`parity: seed ${seed}, PyTorch (reference loop)`);
      torch = await _torchSide(python, opts.data, cfg, seed, opts.threads ?? 2);
      await writeFileAtomic(cached, JSON.stringify(torch));
    }
    out.push({ seed, ours, torch });
  }
  return out;
}

async function _torchSide(
  python: string,
  data: string,
  cfg: TrainConfig,
  seed: number,
  threads: number,
): Promise<ParityEval[]> {
  const tmp = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(tmp, JSON.stringify(cfg));
    const script = `${ROOT}/lib/tools/parity_torch.py`;
    const r = await new Deno.Command(python, {
      args: [
        script,
        "--data",
        data,
        "--config",
        tmp,
        "--seed",
        String(seed),
        "--threads",
        String(threads),
      ],
      env: torchEnv(threads),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (r.code !== 0) {
      throw new Error(
        `parity: ${script} failed (exit ${r.code}): ${dec.decode(r.stderr).slice(-800)}`,
      );
    }
    return dec.decode(r.stdout).split("\n").filter((l) => l.trim()).map((l) => {
      const o = JSON.parse(l);
      return {
        epoch: o.epoch,
        step: o.step,
        trainLoss: o.trainLoss,
        valMetric: o.valMetric,
        imageWeight: o.gate.mean,
        slope: o.gate.slope,
      };
    });
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/**
 * One row per (seed, validation): both sides' loss, validation metric (%), image weight and
 * slope side by side.
 */
export function parityTable(seeds: ParitySeed[]): Record<string, number | string>[] {
  const rows: Record<string, number | string>[] = [];
  for (const s of seeds) {
    s.ours.forEach((o, i) => {
      const t = s.torch[i];
      rows.push({
        seed: s.seed,
        epoch: o.epoch + 1,
        update: o.step,
        "loss ours": o.trainLoss,
        "loss torch": t?.trainLoss ?? NaN,
        "val % ours": 100 * o.valMetric,
        "val % torch": 100 * (t?.valMetric ?? NaN),
        "1 − w ours": o.imageWeight,
        "1 − w torch": t?.imageWeight ?? NaN,
        "slope ours": o.slope,
        "slope torch": t?.slope ?? NaN,
      });
    });
  }
  return rows;
}

/** The verdicts on the last validation: loss, validation metric, image weight, slope. */
export function paritySummary(seeds: ParitySeed[]): Record<string, ParityVerdict> {
  const last = (side: "ours" | "torch", k: keyof ParityEval) =>
    seeds.map((s) => s[side].at(-1)![k] as number);
  const keys = ["trainLoss", "valMetric", "imageWeight", "slope"] as const;
  return Object.fromEntries(keys.map((k) => [k, parityVerdict(last("ours", k), last("torch", k))]));
}
