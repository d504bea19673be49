/**
 * The model stage as the notebooks see it (`lib.model`): the fusion head, its sizes, and the
 * backend demo of notebook 00.
 *
 * @module
 */
export {
  BLIP_BASE_PARAMS,
  DEFAULT_FUSION_CONFIG,
  type FusionConfig,
  type FusionVariant,
  type ParamBlock,
  parameterCount,
  parameterShare,
  parameterTable,
} from "./config.ts";
export {
  type ApplyOptions,
  type FusedArrays,
  FusionHead,
  type FusionOutput,
  type StateDict,
  type StateTensor,
} from "./fusion_head.ts";
export { type DenseDemoConfig, type DenseDemoResult, fitDenseDemo } from "./demo.ts";
