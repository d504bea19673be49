/**
 * `deno task beside-full [--preset P] [--seed N] [--seeds A] [--set key=value…]`
 *
 * The `repro` preset beside the paper's full recipe on one training seed (lib/paper/beside_full.ts):
 * trains what is not cached (the full recipe: over an hour a seed here, resumable), evaluates both
 * heads on the four benchmarks and prints cumulative Hits@10 at rounds 0 and 10 with DAR beside
 * them, and the mean image weight on VisDial.
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import { tableMarkdown } from "../show/tables.ts";
import { besideFull, besideFullTable } from "../paper/beside_full.ts";
import { parseArgs } from "./_args.ts";
import { REPRO_CONFIG_OPTIONS, reproConfigFromArgs } from "./repro.ts";

if (import.meta.main) {
  try {
    const a = parseArgs(Deno.args, {
      options: REPRO_CONFIG_OPTIONS.filter((o) => o !== "train-preset"),
      repeated: ["set"],
      usage: "usage: deno task beside-full [--preset P] [--seed N] [--seeds A] [--set key=value…]",
    });
    const config = reproConfigFromArgs(a, [0]);
    await initBackend();
    const seed = config.seeds?.[0] ?? config.seed;
    const r = await besideFull(config, seed, ["repro", "full"], (s) => console.error(s));
    console.log(`\n## repro beside full (training seed ${seed}; cumulative Hits@10)\n`);
    console.log(tableMarkdown(besideFullTable(r)));
    console.log(
      `\nimage weight on VisDial: ${
        r.presets.map((p) => `${p} ${(100 * r.imageWeight[p]).toFixed(1)}%`).join(", ")
      }`,
    );
  } catch (e) {
    console.error(`beside-full: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
