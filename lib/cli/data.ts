/**
 * Writes the synthetic benchmark as an embedding bundle (see `lib/data/synthetic/generator.ts`).
 *
 * ```sh
 * deno run -A lib/cli/data.ts --out DIR [--seed N] [--preset default|small]
 * ```
 *
 * Cached by config: when `DIR/manifest.json` exists with the same `config_hash` (SHA-256 of the
 * full config: preset, seed and every knob), nothing is generated. Without `--out` the bundle
 * goes to `data/cache/synthetic-<preset>-<seed>-<hash8>`. Prints the folder on stdout.
 *
 * @module
 */
import { parseArgs } from "./_args.ts";
import { ensureSyntheticBundle, PRESETS } from "../data/synthetic/generator.ts";

const USAGE = "usage: deno run -A lib/cli/data.ts [--out DIR] [--seed N] [--preset default|small]";

/** Runs the command on `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { options: ["out", "seed", "preset"], usage: USAGE });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const preset = args.options.preset ?? "default";
  if (!PRESETS[preset]) {
    throw new Error(
      `lib/cli/data.ts: unknown --preset '${preset}'; use one of ${
        Object.keys(PRESETS).join(", ")
      }`,
    );
  }
  const seedText = args.options.seed ?? "0";
  const seed = Number(seedText);
  if (!/^-?\d+$/.test(seedText) || !Number.isSafeInteger(seed)) {
    throw new Error(`lib/cli/data.ts: --seed must be an integer, got '${seedText}'`);
  }
  const log = (line: string) => console.error(line);
  const r = await ensureSyntheticBundle({ preset, seed, dir: args.options.out, log });
  if (r.cached) {
    console.error(
      `synthetic: ${r.dir} already holds preset '${preset}' seed ${seed} ` +
        `(config ${r.hash.slice(0, 8)}); skipped`,
    );
  }
  console.log(r.dir);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}
