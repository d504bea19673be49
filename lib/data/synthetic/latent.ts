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
 * The latent truths of one split of a synthetic bundle (`hard` `[Q]`, `offScene` `[Q, rounds]`).
 * Throws, naming the folder, for a bundle that is not synthetic (real embeddings have no such
 * truth) or a split it lacks.
 *
 * @param dir the bundle folder.
 * @param split a split name, e.g. `visdial`.
 */
export async function syntheticLatent(dir: string, split: string): Promise<SyntheticLatent> {
  const have = await readLatentFiles(dir, split);
  if (have) return { hard: have.hard, offScene: have.offScene };
  let manifest: {
    source?: string;
    config?: SyntheticConfig;
    splits?: Record<string, { target: string }>;
  };
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch (e) {
    throw new Error(`${dir}/manifest.json: cannot read the bundle's manifest (${e})`);
  }
  if (manifest.source !== "synthetic" || !manifest.config) {
    throw new Error(
      `${dir}: not a synthetic bundle, so it has no record of which generations went ` +
        "off-scene; run this analysis on the synthetic data (config.data unset)",
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
  // the regenerated split must be the bundle's: same targets, or the generator has changed
  const target = readNpy(
    await Deno.readFile(`${dir}/${manifest.splits[split].target}`),
    `${dir}/${manifest.splits[split].target}`,
  ).data;
  const again = data.splits[split].target;
  if (target.length !== again.length || again.some((v, i) => v !== target[i])) {
    throw new Error(
      `${dir}: regenerating its config gives other targets for '${split}' (the generator has ` +
        "changed since the bundle was written); delete the folder and generate it again",
    );
  }
  for (const [name, l] of Object.entries(data.latent)) {
    await writeLatentFiles(dir, name, cfg.rounds, l);
  }
  return data.latent[split];
}
