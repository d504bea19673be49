/**
 * `deno task beside-full [--preset P] [--data-seed N] [--train-seeds A] [--set key=value…]
 * [--no-docs]`
 *
 * The `repro` preset beside the paper's full recipe on one training seed (lib/paper/beside_full.ts):
 * trains what is not cached (the full recipe: about 2 h a seed here, resumable), evaluates the
 * selected and the last head of each on the four benchmarks, prints ADaFuSE − DAR at rounds 0 and
 * 10, each run's validations, and writes the same tables into README.md and docs/results.md
 * (between `<!-- beside-full:start -->` and `<!-- beside-full:end -->`; `--no-docs` skips that, and
 * so does any run not on the default data).
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import { ROOT, writeMarkedBlock } from "../runtime/paths.ts";
import { BESIDE_FULL_MARKERS, besideFull, besideFullMarkdown } from "../paper/beside_full.ts";
import { parseArgs, RENAMED_SEED_OPTIONS } from "./_args.ts";
import { REPRO_CONFIG_OPTIONS, reproConfigFromArgs } from "./repro.ts";

if (import.meta.main) {
  try {
    const a = parseArgs(Deno.args, {
      options: [
        ...REPRO_CONFIG_OPTIONS.filter((o) => o !== "train-preset"),
        ...RENAMED_SEED_OPTIONS,
      ],
      flags: ["no-docs"],
      repeated: ["set"],
      usage: "usage: deno task beside-full [--preset P] [--data-seed N] [--train-seeds A] " +
        "[--set key=value…] [--no-docs]",
    });
    const config = reproConfigFromArgs(a);
    await initBackend();
    // one training seed: the first of --train-seeds (default 0)
    const seed = config.trainSeeds[0];
    const r = await besideFull(config, seed, ["repro", "full"], (s) => console.error(s));
    console.log(`\n## repro beside full\n\n${besideFullMarkdown(r, true)}`);
    const isDefault = config.dataPreset === "default" && !config.data && !config.synthetic &&
      config.dataSeed === 0 && Object.keys(config.overrides).length === 0;
    if (!a.flags["no-docs"] && isDefault) {
      await writeMarkedBlock(`${ROOT}/README.md`, BESIDE_FULL_MARKERS, besideFullMarkdown(r));
      await writeMarkedBlock(
        `${ROOT}/docs/results.md`,
        BESIDE_FULL_MARKERS,
        besideFullMarkdown(r, true),
      );
      console.error("beside-full: wrote README.md and docs/results.md");
    }
  } catch (e) {
    console.error(`beside-full: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
