/**
 * The latent truths of a synthetic bundle's split, for analyses that need to know what the
 * embeddings cannot say: which round's generation went off-scene, which targets are hard to
 * generate (see generator.ts). A bundle written by {@linkcode ensureSyntheticBundle} carries them
 * in `latent/`; for an older one they are regenerated once from the config in its manifest (the
 * generator is deterministic) and written there.
 *
 * @module
 */
import { generateSynthetic, type SyntheticConfig, type SyntheticLatent } from "./generator.ts";
import { readLatentFiles, writeLatentFiles } from "./_latent_files.ts";
import { BENCHMARKS } from "../benchmarks.ts";
import { readNpy } from "../npy.ts";

/**
 * The latent truths of one split as stored in the bundle's `latent/`, or null when they are not
 * there (real embeddings, or an older synthetic bundle; {@linkcode syntheticLatent} regenerates
 * those). Never generates anything.
 */
export async function storedLatent(dir: string, split: string): Promise<SyntheticLatent | null> {
  const have = await readLatentFiles(dir, split);
  return have ? { hard: have.hard, offScene: have.offScene } : null;
}

/**
 * The latent truths of one split of a synthetic bundle (`hard` `[Q]`, `offScene` `[Q, rounds]`).
 * Throws, naming the folder, for a bundle that is not synthetic (real embeddings have no such
 * truth) or a split it lacks.
 *
 * @param dir the bundle folder.
 * @param split a split name, e.g. `visdial`.
 */
export async function syntheticLatent(dir: string, split: string): Promise<SyntheticLatent> {
  const have = await storedLatent(dir, split);
  if (have) return have;
  let manifest: {
    source?: string;
    config?: SyntheticConfig;
    splits?: Record<string, { target: string; gen: string }>;
  };
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch (e) {
    throw new Error(`${dir}/manifest.json: cannot read the bundle's manifest (${e})`);
  }
  if (manifest.source !== "synthetic" || !manifest.config) {
    throw new Error(
      `${dir}: not a synthetic bundle, so it has no record of which generations went ` +
        "off-scene; run this analysis on the synthetic data (leave config.data unset, or drop " +
        "--data)",
    );
  }
  if (!manifest.splits?.[split]) {
    throw new Error(
      `${dir}: has no split '${split}'; use one of ${
        Object.keys(manifest.splits ?? {}).join(", ")
      }`,
    );
  }
  const cfg = manifest.config;
  const benchmarksOnly = (BENCHMARKS as readonly string[]).includes(split);
  console.error(`latent: regenerating the latent truths of ${dir} (once)`);
  const data = generateSynthetic(cfg, { benchmarksOnly });
  // the regenerated split must be the bundle's: same targets and the same generations of its
  // first and last dialogues, or the generator has changed since the bundle was written (within
  // float16's rounding, 2^-11 for the unit vectors' entries: the train split is stored so)
  const file = (key: "target" | "gen") => `${dir}/${manifest.splits![split][key]}`;
  const target = readNpy(await Deno.readFile(file("target")), file("target")).data;
  const gen = readNpy(await Deno.readFile(file("gen")), file("gen")).data;
  const again = data.splits[split];
  const row = cfg.rounds * cfg.dim;
  const same = (a: ArrayLike<number>, b: ArrayLike<number>, from: number, to: number) => {
    for (let i = from; i < to; i++) if (!(Math.abs(a[i] - b[i]) <= 1e-3)) return false;
    return true;
  };
  if (
    target.length !== again.target.length || !same(target, again.target, 0, target.length) ||
    gen.length !== again.gen.length || !same(gen, again.gen, 0, row) ||
    !same(gen, again.gen, gen.length - row, gen.length)
  ) {
    throw new Error(
      `${dir}: regenerating its config gives other dialogues for '${split}' (the generator has ` +
        "changed since the bundle was written); delete the folder and generate it again",
    );
  }
  for (const [name, l] of Object.entries(data.latent)) {
    await writeLatentFiles(dir, name, cfg.rounds, l);
  }
  return data.latent[split];
}
