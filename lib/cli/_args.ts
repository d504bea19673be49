/**
 * A tiny command-line parser shared by the CLIs: `--key value` or `--key=value` options,
 * `--flag` booleans, and repeatable options (e.g. `--set k=v --set k2=v2`). Errors name the
 * unknown or incomplete argument and show the usage line.
 *
 * @module
 */

/** What a command accepts. */
export interface ArgSpec {
  /** Options that take one value (`--data DIR`); the last one given wins. */
  options?: string[];
  /** Boolean flags (`--resume`). */
  flags?: string[];
  /** Options that take a value and may repeat (`--set k=v`). */
  repeated?: string[];
  /** Options that must be given. */
  required?: string[];
  /** Whether bare arguments (not starting with `--`) are allowed; they go to `rest`. */
  positional?: boolean;
  /** The usage line shown with errors. */
  usage: string;
}

/** The parsed command line. */
export interface ParsedArgs {
  /** Values of the one-value options given. */
  options: Record<string, string>;
  /** Every flag of the spec: true when given. */
  flags: Record<string, boolean>;
  /** Every repeatable option of the spec with its values, in order (empty when absent). */
  repeated: Record<string, string[]>;
  /** True when `--help` or `-h` was given (required options are not checked then). */
  help: boolean;
  /** The bare arguments, in order (only with `spec.positional`). */
  rest: string[];
}

/**
 * Parses `argv` (names without the leading `--` in the spec and the result).
 *
 * @throws on an unknown argument, an option without its value, a value given to a flag, or a
 *   missing required option; the message names it and shows `spec.usage`.
 */
export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const options = new Set(spec.options ?? []);
  const flags = new Set(spec.flags ?? []);
  const repeated = new Set(spec.repeated ?? []);
  const out: ParsedArgs = {
    options: {},
    flags: Object.fromEntries([...flags].map((f) => [f, false])),
    repeated: Object.fromEntries([...repeated].map((r) => [r, [] as string[]])),
    help: false,
    rest: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") {
      out.help = true;
      continue;
    }
    if (spec.positional && !arg.startsWith("-")) {
      out.rest.push(arg);
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      throw new Error(`unexpected argument '${arg}'; ${spec.usage}`);
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (flags.has(name)) {
      if (value !== undefined) {
        throw new Error(`--${name} is a flag and takes no value; ${spec.usage}`);
      }
      out.flags[name] = true;
      continue;
    }
    if (!options.has(name) && !repeated.has(name)) {
      throw new Error(`unknown option --${name}; ${spec.usage}`);
    }
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new Error(`--${name} needs a value; ${spec.usage}`);
      }
      i++;
    }
    if (repeated.has(name)) out.repeated[name].push(value);
    else out.options[name] = value;
  }
  if (!out.help) {
    const missing = (spec.required ?? []).filter((r) => !(r in out.options));
    if (missing.length) {
      throw new Error(`missing ${missing.map((m) => `--${m}`).join(", ")}; ${spec.usage}`);
    }
  }
  return out;
}

/** Options of older command lines, and the option that replaced each. */
const _RENAMED_OPTIONS: Record<string, string> = {
  seed: "--data-seed N (the training seeds are --train-seeds A,B,...)",
  seeds: "--train-seeds A,B,...",
};

/**
 * The seed options of older command lines (`--seed`, `--seeds`): a command that takes the seeds
 * lists them among its options so that {@linkcode checkRenamedOptions} can name the new ones.
 */
export const RENAMED_SEED_OPTIONS: readonly string[] = Object.keys(_RENAMED_OPTIONS);

/** Throws, naming the option to use, when an older seed option is given. */
export function checkRenamedOptions(a: ParsedArgs): void {
  for (const [old, now] of Object.entries(_RENAMED_OPTIONS)) {
    if (a.options[old] !== undefined) throw new Error(`--${old} is now ${now}`);
  }
}

/** The training seeds of `--train-seeds A,B,…`, or undefined when it is not given. */
export function trainSeedsOption(a: ParsedArgs): number[] | undefined {
  const text = a.options["train-seeds"];
  const seeds = text?.split(",").map((x) => Number(x.trim()));
  if (seeds && (seeds.length === 0 || seeds.some((x) => !Number.isInteger(x)))) {
    throw new Error(`--train-seeds '${text}' must be integers separated by commas, e.g. 0,1,2`);
  }
  return seeds;
}
