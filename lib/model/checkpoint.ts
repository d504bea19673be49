/**
 * Checkpoints of the fusion head that interoperate with the PyTorch reference.
 *
 * A checkpoint `head.safetensors` holds fp32 tensors named by the reference `state_dict` keys
 * (`text_projection_layer.weight`, …, `experts.{k}.0.weight`, `logit_scale`) in PyTorch's
 * `[out, in]` layout; `logit_scale` is a 0-d tensor holding the log of the scale. Beside it,
 * `head.config.json` (the path with `.safetensors` replaced by `.config.json`, so several
 * checkpoints can share a folder) holds the {@linkcode FusionConfig}; the same config is also in
 * the safetensors `__metadata__` under `adafuse_config`, so the weights file alone suffices.
 * Both are written atomically (temporary file, then rename), config first, weights last, so a
 * weights file that exists is always complete.
 *
 * Loading in PyTorch (the reference module built with the sizes of `head.config.json`):
 *
 * ```python
 * from safetensors.torch import load_file
 * state = load_file("head.safetensors")               # fp32 tensors, reference key names
 * model = ADaFuSE(...)                                 # the reference nn.Module, same sizes
 * model.load_state_dict(state, strict=True)            # every key and shape must match
 * model.eval()                                         # q = model(t, g) as computed here
 * ```
 *
 * The other way round, `safetensors.torch.save_file({k: v.contiguous() for k, v in
 * model.state_dict().items()}, "head.safetensors")` writes a file {@linkcode loadCheckpoint}
 * reads (fp32, fp16 or bf16); sizes and variant are inferred from the shapes when there is no
 * config file (a `fixedTextWeight` cannot be seen in shapes: it comes from the config file or
 * the metadata, else it is the default 0.5).
 *
 * @module
 */
import { FusionHead, type StateDict } from "./fusion_head.ts";
import { writeFileAtomic } from "../runtime/paths.ts";
import { type FusionConfig, fusionConfig, parameterCount } from "./config.ts";
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  type SafetensorsInput,
} from "../data/safetensors.ts";

/** Options of {@linkcode loadCheckpoint} and {@linkcode decodeCheckpoint}. */
export interface LoadOptions {
  /**
   * Config fields laid over what the checkpoint says (its config file, else its metadata,
   * else sizes inferred from the shapes); e.g. `{ dropout: 0.1 }` to fine-tune differently.
   */
  config?: Partial<FusionConfig>;
  /** When false, tensors the head does not have are ignored instead of refused. Default true. */
  strict?: boolean;
}

/** The config file written beside a checkpoint: `x.safetensors` → `x.config.json`. */
export function checkpointConfigPath(path: string): string {
  return (path.endsWith(".safetensors") ? path.slice(0, -".safetensors".length) : path) +
    ".config.json";
}

async function _writeAtomic(path: string, content: Uint8Array | string): Promise<void> {
  try {
    await writeFileAtomic(path, content);
  } catch (e) {
    throw new Error(`cannot write ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

/** The head's parameters as a reference `state_dict` (PyTorch names, `[out, in]`, fp32). */
export function stateDict(model: FusionHead): Promise<StateDict> {
  return model.toStateDict();
}

/**
 * Loads a reference `state_dict` into an existing head (shapes must match its config; see
 * {@linkcode FusionHead.loadStateDict}).
 */
export function loadStateDict(
  model: FusionHead,
  sd: StateDict,
  opts: { strict?: boolean; file?: string } = {},
): void {
  model.loadStateDict(sd, opts);
}

/**
 * Writes `model` to `path` (fp32 safetensors, reference names and layout) and its config to
 * {@linkcode checkpointConfigPath}, atomically, config first and weights last.
 *
 * @param extraMeta strings stored in the safetensors `__metadata__` (e.g. epoch, seed, git
 *   commit) and in the config file under `meta`.
 */
export async function saveCheckpoint(
  model: FusionHead,
  path: string,
  extraMeta: Record<string, string> = {},
): Promise<void> {
  const sd = await model.toStateDict();
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [k, v] of Object.entries(sd)) {
    tensors[k] = { dtype: "F32", shape: v.shape, data: v.data };
  }
  const config = { ...model.config };
  const meta: Record<string, string> = {
    ...extraMeta,
    format: "pt",
    adafuse_config: JSON.stringify(config),
  };
  const json = {
    model_type: "adafuse_fusion_head",
    parameters: parameterCount(config),
    ...config,
    meta: extraMeta,
  };
  await _writeAtomic(checkpointConfigPath(path), JSON.stringify(json, null, 2) + "\n");
  await _writeAtomic(path, encodeSafetensors(tensors, meta));
}

const _CONFIG_KEYS = [
  "dim",
  "proj",
  "hidden",
  "experts",
  "dropout",
  "learnableScale",
  "logitScaleInit",
  "variant",
  "fixedTextWeight",
] as const;

function _pickConfig(o: Record<string, unknown>): Partial<FusionConfig> {
  const out: Record<string, unknown> = {};
  for (const k of _CONFIG_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as Partial<FusionConfig>;
}

/**
 * Sizes and variant read off a reference `state_dict`'s shapes: `dim` and `proj` from the text
 * projection, `hidden` from the gate or the first expert, `experts` from the router's output,
 * the variant from which blocks exist (gate and experts: `full`; gate only: `gate_only`;
 * experts only: `moe_only`; neither, but an `output_layer` of shape `[d, 2P]`: `proj_only`,
 * whose `hidden` and `experts` are unused and left out). Dropout, `learnableScale` and
 * `fixedTextWeight` cannot be seen in shapes (defaults: 0.2, false, 0.5); `logitScaleInit` is
 * `exp(logit_scale)`.
 */
export function inferConfig(
  sd: Record<string, { shape: number[]; data: ArrayLike<number> }>,
  file = "state_dict",
): Partial<FusionConfig> {
  const tp = sd["text_projection_layer.weight"];
  if (!tp || tp.shape.length !== 2) {
    throw new Error(
      `${file}: cannot infer the head's sizes: 'text_projection_layer.weight' is missing or not ` +
        "2-D; is this an ADaFuSE fusion head checkpoint? Pass { config } or a config file",
    );
  }
  const gate = sd["dynamic_scalar.0.weight"], exp0 = sd["experts.0.0.weight"];
  const router = sd["moe_router.2.weight"], out = sd["output_layer.weight"];
  if (!gate && !exp0) {
    if (!out) {
      throw new Error(
        `${file}: none of 'dynamic_scalar.0.weight' (gate), 'experts.0.0.weight' (experts) and ` +
          "'output_layer.weight' (proj_only) is present, so the variant cannot be inferred; is " +
          "this a fusion head checkpoint?",
      );
    }
    const want = [tp.shape[1], 2 * tp.shape[0]];
    if (out.shape.length !== 2 || out.shape[0] !== want[0] || out.shape[1] !== want[1]) {
      throw new Error(
        `${file}: 'output_layer.weight' has shape [${out.shape}] but there is neither a gate nor ` +
          `experts: a proj_only head's output layer is [d, 2P] = [${want}], a moe_only head's ` +
          "[d, hidden] comes with 'experts.{k}.0.weight'; are tensors missing from the file?",
      );
    }
  }
  const c: Partial<FusionConfig> = {
    dim: tp.shape[1],
    proj: tp.shape[0],
    variant: gate && exp0 ? "full" : gate ? "gate_only" : exp0 ? "moe_only" : "proj_only",
  };
  if (gate || exp0) c.hidden = (gate ?? exp0).shape[0];
  if (exp0) {
    let k = 0;
    while (sd[`experts.${k}.0.weight`]) k++;
    c.experts = router?.shape[0] ?? k;
  }
  const ls = sd["logit_scale"];
  if (ls && ls.data.length === 1 && Number.isFinite(Math.exp(ls.data[0]))) {
    c.logitScaleInit = Math.exp(ls.data[0]);
  }
  return c;
}

/**
 * A head from the bytes of a safetensors checkpoint (fp32, fp16, bf16 or fp64 tensors).
 * Config: `configJson` (the parsed config file) if given, else the file's `adafuse_config`
 * metadata, else {@linkcode inferConfig}; `opts.config` is laid over it. Every expected tensor
 * must be present with its shape (errors name the tensor, both shapes and `file`).
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  file = "checkpoint",
  opts: LoadOptions = {},
  configJson?: Record<string, unknown>,
): FusionHead {
  const raw = readSafetensors(bytes, file);
  const sd: StateDict = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(v.data instanceof Float32Array)) {
      throw new Error(
        `${file}: tensor '${k}' has integer dtype ${v.dtype}; fusion head parameters are ` +
          "floating point (F32, F16, BF16): re-export with model.float().state_dict()",
      );
    }
    sd[k] = { shape: v.shape, data: v.data };
  }
  let base: Partial<FusionConfig>;
  if (configJson) {
    base = _pickConfig(configJson);
  } else {
    const meta = readSafetensorsMetadata(bytes, file);
    if (meta.adafuse_config) {
      try {
        base = _pickConfig(JSON.parse(meta.adafuse_config));
      } catch (e) {
        throw new Error(`${file}: metadata 'adafuse_config' is not valid JSON (${e})`);
      }
    } else {
      base = inferConfig(sd, file);
    }
  }
  const config = fusionConfig({ ...base, ...opts.config });
  return FusionHead.fromStateDict(sd, config, { strict: opts.strict, file });
}

/**
 * Reads a checkpoint written by {@linkcode saveCheckpoint} or by PyTorch's
 * `safetensors.torch.save_file(model.state_dict(), path)`. The config comes from
 * `opts.config` laid over the config file beside it ({@linkcode checkpointConfigPath}) if
 * present, else the file's metadata, else the shapes. Missing tensors and wrong shapes are
 * errors naming the tensor and the file; unexpected tensors too unless `strict: false`.
 */
export async function loadCheckpoint(path: string, opts: LoadOptions = {}): Promise<FusionHead> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `cannot read checkpoint ${path}: ${e instanceof Error ? e.message : e}; check the path`,
    );
  }
  let configJson: Record<string, unknown> | undefined;
  const cpath = checkpointConfigPath(path);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(cpath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new Error(`cannot read ${cpath}: ${e}`);
  }
  if (text !== undefined) {
    try {
      configJson = JSON.parse(text);
    } catch (e) {
      throw new Error(`${cpath}: not valid JSON (${e}); fix or delete it to infer from shapes`);
    }
  }
  return decodeCheckpoint(bytes, path, opts, configJson);
}
