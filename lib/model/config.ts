/**
 * The ADaFuSE fusion head's configuration, its parameter list in the PyTorch reference's
 * `state_dict` layout, and the parameter count (docs/method.md, the head), computed without
 * allocating anything.
 *
 * @module
 */

/**
 * Which blocks the head has (the paper's ablations, and one more):
 * - `full`: gate and mixture of experts (the paper's model);
 * - `gate_only`: no MoE branch (no experts, router or output layer): `r = 0`;
 * - `moe_only`: no gate parameters: the text weight is fixed at
 *   `w =` {@linkcode FusionConfig.fixedTextWeight} (default 0.5);
 * - `proj_only`: no gate and no experts, a learned projection only: no gate, router or
 *   experts; the output layer maps the concatenated projections straight to the residual,
 *   `r = Drop(W_o h + b_o)` (`output_layer.weight` of PyTorch shape `[d, 2P]`, not the
 *   reference's `[d, H]`), and `w =` {@linkcode FusionConfig.fixedTextWeight} (default 0.5).
 */
export type FusionVariant = "full" | "gate_only" | "moe_only" | "proj_only";

/** Sizes and switches of the fusion head; every field has the reference's default. */
export interface FusionConfig {
  /** Embedding size `d` of the frozen encoder (BLIP: 256). */
  dim: number;
  /** Projection size `P` of each modality (512); the concatenation has `2P`. */
  proj: number;
  /** Hidden size `H` of the gate and of each expert (2048); the router's is `floor(H/4)`. */
  hidden: number;
  /** Number of experts `K` (4). */
  experts: number;
  /** Dropout rate used in training only (0.2); the router has none. */
  dropout: number;
  /** Whether the InfoNCE logit scale is trained (false: frozen, as in the reference). */
  learnableScale: boolean;
  /**
   * The initial logit scale `s` itself (not its log). The `logit_scale` tensor holds `log(s)`,
   * as CLIP stores it, and the loss uses `exp(logit_scale)`. Default: `1/0.07` (≈ 14.29) when
   * frozen, `50` when learnable (docs/method.md, the recipe).
   */
  logitScaleInit: number;
  /** Ablation switch; see {@linkcode FusionVariant}. */
  variant: FusionVariant;
  /**
   * The text weight `w` of the variants without a gate (`moe_only`, `proj_only`), in [0, 1]
   * (the image gets `1 − w`); absent means 0.5 ({@linkcode fixedTextWeightOf}). An error on
   * `full` and `gate_only`, which learn `w`. Optional and not in
   * {@linkcode DEFAULT_FUSION_CONFIG} on purpose: a config that does not set it serializes (and
   * so hashes, lib/train/config.ts) exactly as before the field existed.
   */
  fixedTextWeight?: number;
}

/** The reference defaults (docs/method.md, the head and the recipe). */
export const DEFAULT_FUSION_CONFIG: Readonly<FusionConfig> = Object.freeze({
  dim: 256,
  proj: 512,
  hidden: 2048,
  experts: 4,
  dropout: 0.2,
  learnableScale: false,
  logitScaleInit: 1 / 0.07,
  variant: "full" as FusionVariant,
});

/** Parameters of BLIP-base (ViT-B image encoder + BERT-base text encoder + projections). */
export const BLIP_BASE_PARAMS = 223_453_954;

const _VARIANTS: FusionVariant[] = ["full", "gate_only", "moe_only", "proj_only"];

/**
 * The text weight of the variants without a gate when {@linkcode FusionConfig.fixedTextWeight}
 * is absent (0.5: text and image weigh the same).
 */
export const DEFAULT_FIXED_TEXT_WEIGHT = 0.5;

/** Whether the variant has the gate (`dynamic_scalar.*`): `full` and `gate_only`. */
export function hasGate(variant: FusionVariant): boolean {
  return variant === "full" || variant === "gate_only";
}

/** Whether the variant has the experts and the router: `full` and `moe_only`. */
export function hasExperts(variant: FusionVariant): boolean {
  return variant === "full" || variant === "moe_only";
}

/**
 * The fixed text weight `w` of a variant without a gate: {@linkcode FusionConfig.fixedTextWeight}
 * when set, else {@linkcode DEFAULT_FIXED_TEXT_WEIGHT} (0.5). Meaningless for a variant with a
 * gate (which computes `w`).
 */
export function fixedTextWeightOf(config: Pick<FusionConfig, "fixedTextWeight">): number {
  return config.fixedTextWeight ?? DEFAULT_FIXED_TEXT_WEIGHT;
}

/**
 * A complete, checked config: `partial` over the defaults. `logitScaleInit`, when not given,
 * is `50` for a learnable scale and `1/0.07` for a frozen one. Throws on sizes that are not
 * positive integers, a dropout outside [0, 1), an unknown variant, or a `fixedTextWeight` that
 * is not a number in [0, 1] or is set on a variant with a gate. A `fixedTextWeight` given as
 * `undefined` is dropped (the key is absent from the result).
 */
export function fusionConfig(partial: Partial<FusionConfig> = {}): FusionConfig {
  const c: FusionConfig = { ...DEFAULT_FUSION_CONFIG, ...partial };
  if (partial.logitScaleInit === undefined) c.logitScaleInit = c.learnableScale ? 50 : 1 / 0.07;
  for (const k of ["dim", "proj", "hidden", "experts"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) {
      throw new Error(`fusion config: ${k} must be a positive integer, got ${c[k]}`);
    }
  }
  if (c.hidden < 4) {
    throw new Error(
      `fusion config: hidden must be ≥ 4 (the router uses hidden/4), got ${c.hidden}`,
    );
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new Error(`fusion config: dropout must be in [0, 1), got ${c.dropout}`);
  }
  if (!(c.logitScaleInit > 0 && Number.isFinite(c.logitScaleInit))) {
    throw new Error(`fusion config: logitScaleInit must be > 0 (the scale, not its log)`);
  }
  if (!_VARIANTS.includes(c.variant)) {
    throw new Error(
      `fusion config: variant '${c.variant}' is unknown; use one of ${_VARIANTS.join(", ")}`,
    );
  }
  if (c.fixedTextWeight === undefined) {
    delete c.fixedTextWeight;
  } else {
    const w = c.fixedTextWeight;
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0 || w > 1) {
      throw new Error(
        `fusion config: fixedTextWeight must be a finite number in [0, 1] (the text's weight; ` +
          `the image gets 1 − w), got ${JSON.stringify(w)}; omit it for the default 0.5`,
      );
    }
    if (hasGate(c.variant)) {
      throw new Error(
        `fusion config: fixedTextWeight is set (${w}) but the '${c.variant}' variant learns the ` +
          "text weight with its gate; remove fixedTextWeight, or use variant moe_only or " +
          "proj_only (no gate)",
      );
    }
  }
  c.learnableScale = Boolean(c.learnableScale);
  return c;
}

/** Hidden size of the router, `floor(hidden / 4)` as the reference's `hidden_dim // 4`. */
export function routerHidden(config: FusionConfig): number {
  return Math.floor(config.hidden / 4);
}

/** One tensor of the reference `state_dict`. */
export interface ParamSpec {
  /** The reference `state_dict` key, e.g. `experts.2.0.weight`. */
  name: string;
  /** Its shape in PyTorch's layout (`[out, in]` for Linear weights; `[]` for the scale). */
  shape: number[];
  /** Number of values. */
  count: number;
  /** The block it belongs to, for the per-block table. */
  block: string;
  /** `in_features` of its Linear (the init bound is `1/sqrt(fanIn)`); 0 for `logit_scale`. */
  fanIn: number;
}

function _linear(name: string, block: string, fin: number, fout: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [fout, fin], count: fout * fin, block, fanIn: fin },
    { name: `${name}.bias`, shape: [fout], count: fout, block, fanIn: fin },
  ];
}

/**
 * The reference `state_dict` of a head with this config: keys, PyTorch shapes and blocks, in
 * a fixed order (projections, gate, logit scale, experts, router, output), which is also the
 * order in which {@linkcode FusionHead} draws its initial values. `proj_only` has projections,
 * logit scale and an output layer of shape `[d, 2P]` only.
 */
export function stateDictSpec(config: FusionConfig): ParamSpec[] {
  const { dim: d, proj: p, hidden: h, experts: k, variant } = config;
  const out: ParamSpec[] = [
    ..._linear("text_projection_layer", "text projection", d, p),
    ..._linear("image_projection_layer", "image projection", d, p),
  ];
  if (hasGate(variant)) {
    out.push(..._linear("dynamic_scalar.0", "gate", 2 * p, h));
    out.push(..._linear("dynamic_scalar.3", "gate", h, 1));
  }
  out.push({ name: "logit_scale", shape: [], count: 1, block: "logit scale", fanIn: 0 });
  if (variant === "proj_only") {
    out.push(..._linear("output_layer", "output layer", 2 * p, d));
  } else if (hasExperts(variant)) {
    for (let e = 0; e < k; e++) out.push(..._linear(`experts.${e}.0`, "experts", 2 * p, h));
    const rh = routerHidden(config);
    out.push(..._linear("moe_router.0", "router", 2 * p, rh));
    out.push(..._linear("moe_router.2", "router", rh, k));
    out.push(..._linear("output_layer", "output layer", h, d));
  }
  return out;
}

/** Total number of parameters (the defaults give 11,812,614, one scalar logit scale included). */
export function parameterCount(config: Partial<FusionConfig> = {}): number {
  return stateDictSpec(fusionConfig(config)).reduce((s, t) => s + t.count, 0);
}

/** One row of {@linkcode parameterTable}. */
export interface ParamBlock {
  /** Block name (`text projection`, `gate`, `experts`, ...). */
  block: string;
  /** Parameters in the block. */
  count: number;
  /** The block's tensors with their PyTorch shapes. */
  tensors: { name: string; shape: number[]; count: number }[];
}

/** The parameters grouped by block, in {@linkcode stateDictSpec} order. */
export function parameterTable(config: Partial<FusionConfig> = {}): ParamBlock[] {
  const rows: ParamBlock[] = [];
  for (const t of stateDictSpec(fusionConfig(config))) {
    let row = rows.find((r) => r.block === t.block);
    if (!row) rows.push(row = { block: t.block, count: 0, tensors: [] });
    row.count += t.count;
    row.tensors.push({ name: t.name, shape: t.shape, count: t.count });
  }
  return rows;
}

/**
 * The head's size as a share of BLIP-base ({@linkcode BLIP_BASE_PARAMS}); the defaults give
 * 0.05286 (the paper's "+5.29%").
 */
export function parameterShare(config: Partial<FusionConfig> = {}): number {
  return parameterCount(config) / BLIP_BASE_PARAMS;
}
