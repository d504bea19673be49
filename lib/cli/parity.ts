/**
 * `deno task parity [--preset small|default] [--data DIR] [--data-seed N] [--train-seeds A,B,…]
 * [--train-preset NAME] [--set key=value…] [--python PATH] [--no-install]`
 *
 * Trains the fusion head with this project's trainer and with PyTorch running the reference's
 * loop (lib/bench/parity.ts, lib/tools/parity_torch.py) on the same bundle, recipe and seeds,
 * and prints per-epoch loss, validation Hits@10 and the gate's image weight and slope side by
 * side, then whether the gap between the two sides is within the spread over seeds. Defaults:
 * the `small` synthetic preset, seeds 0,1,2, the `repro` recipe with validation every epoch.
 *
 * @module
 */
import { initBackend } from "../runtime/backend.ts";
import { ensureSynthetic } from "../data/synthetic/generator.ts";
import { trainConfig, trainOverridesFromSets } from "../train/config.ts";
import { paritySummary, parityTable, runParity } from "../bench/parity.ts";
import { tableMarkdown } from "../show/tables.ts";
import { checkRenamedOptions, parseArgs, RENAMED_SEED_OPTIONS, trainSeedsOption } from "./_args.ts";

const USAGE = "usage: deno task parity [--preset small|default] [--data DIR] [--data-seed N] " +
  "[--train-seeds A,B,...] [--train-preset NAME] [--set key=value ...] [--python PATH] " +
  "[--no-install]";

/** Runs the command on `argv`; returns the exit code (1 when a verdict fails). */
export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, {
    options: [
      "preset",
      "data",
      "data-seed",
      "train-seeds",
      "train-preset",
      "python",
      ...RENAMED_SEED_OPTIONS,
    ],
    flags: ["no-install"],
    repeated: ["set"],
    usage: USAGE,
  });
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  checkRenamedOptions(a);
  const seeds = trainSeedsOption(a) ?? [0, 1, 2];
  // the PyTorch side seeds with them too: non-negative only, as before
  if (seeds.some((s) => s < 0)) throw new Error(`--train-seeds: '${seeds}' has a negative seed`);
  const preset = a.options["train-preset"] ?? "repro";
  // trainConfig names the presets when this one is unknown
  const config = trainConfig(preset, trainOverridesFromSets(["evalEvery=1", ...a.repeated.set]));
  const data = a.options.data ?? await ensureSynthetic({
    preset: a.options.preset ?? "small",
    seed: Number(a.options["data-seed"] ?? 0),
  });
  await initBackend("wasm");
  const res = await runParity({
    data,
    config,
    seeds,
    python: a.options.python,
    install: !a.flags["no-install"],
  });
  console.log(tableMarkdown(parityTable(res)));
  const summary = paritySummary(res);
  console.log("\nlast validation, mean over seeds: ours vs PyTorch (gap within the spread?)");
  for (const [k, v] of Object.entries(summary)) {
    console.log(
      `  ${k}: ours ${v.ours.toFixed(4)}, torch ${v.torch.toFixed(4)}, gap ${v.gap.toFixed(4)}, ` +
        `spread over seeds ${v.spread.toFixed(4)}: ${v.within ? "within" : "OUTSIDE"}`,
    );
  }
  return Object.values(summary).every((v) => v.within) ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}
