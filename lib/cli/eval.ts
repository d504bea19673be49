/**
 * `deno run -A lib/cli/eval.ts --data DIR --benchmark NAME --method chatir|dar|add|adafuse
 * [--checkpoint FILE.safetensors] --out FILE.json [--backend wasm|webgpu|auto] [--workers N]`
 *
 * Parses the command line and runs {@linkcode runEval} of lib/eval/evaluate.ts.
 *
 * @module
 */
import type { BackendName } from "../runtime/backend.ts";
import { EVAL_METHODS, type EvalArgs, type EvalMethod, runEval } from "../eval/evaluate.ts";
import { parseArgs } from "./_args.ts";

const _USAGE = "usage: deno run -A lib/cli/eval.ts --data DIR --benchmark NAME " +
  "--method chatir|dar|add|adafuse [--checkpoint FILE] --out FILE.json " +
  "[--backend wasm|webgpu|auto] [--workers N]";

/** Parses the command line of `lib/cli/eval.ts`; errors name the bad argument. */
export function parseEvalArgs(argv: string[]): EvalArgs {
  const a = parseArgs(argv, {
    options: ["data", "benchmark", "method", "out", "backend", "workers", "checkpoint"],
    required: ["data", "benchmark", "method", "out"],
    usage: _USAGE,
  });
  if (a.help) throw new Error(_USAGE);
  const method = a.options.method as EvalMethod;
  if (!EVAL_METHODS.includes(method)) {
    throw new Error(`--method '${method}' is unknown; use one of ${EVAL_METHODS.join(", ")}`);
  }
  if (method === "adafuse" && !a.options.checkpoint) {
    throw new Error("--method adafuse needs --checkpoint FILE.safetensors (from deno task train)");
  }
  let workers: number | undefined;
  if (a.options.workers !== undefined) {
    workers = Number(a.options.workers);
    if (!Number.isInteger(workers) || workers < 0) {
      throw new Error(`--workers '${a.options.workers}' must be a count (0 = none)`);
    }
  }
  return {
    data: a.options.data,
    benchmark: a.options.benchmark,
    method,
    checkpoint: a.options.checkpoint,
    out: a.options.out,
    backend: a.options.backend as BackendName | undefined,
    workers,
  };
}

if (import.meta.main) {
  try {
    await runEval(parseEvalArgs(Deno.args));
  } catch (e) {
    console.error(`eval: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
