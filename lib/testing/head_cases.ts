/**
 * Head configurations the tests of the head's math and of the trainer share.
 *
 * @module
 */
import type { FusionConfig } from "../model/config.ts";

/** A small head (d 8, P 6, H 12, K 3): every product has distinct sizes. */
export const SMALL_HEAD: Partial<FusionConfig> = { dim: 8, proj: 6, hidden: 12, experts: 3 };

/** Every variant, the gateless ones with a text weight other than 0.5, and a learned scale. */
export const HEAD_CASES: readonly Partial<FusionConfig>[] = [
  { variant: "full" },
  { variant: "gate_only" },
  { variant: "moe_only" },
  { variant: "proj_only" },
  { variant: "moe_only", fixedTextWeight: 0.8 },
  { variant: "proj_only", fixedTextWeight: 0.8 },
  { variant: "full", learnableScale: true },
];

/** A short label of a case, for assertion messages. */
export function caseLabel(c: Partial<FusionConfig>): string {
  return JSON.stringify(c);
}
