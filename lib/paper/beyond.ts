/**
 * The studies beyond the paper as the notebooks see them (`lib.beyond`), one file each: the
 * ablations (07), the robustness landscape (08), the case explorer (09), the gate as a detector
 * (10), the toy world's lesson (11), the training regime (12) and the published text geometry's
 * probe (13).
 *
 * @module
 */
export * from "./ablations.ts";
export * from "./robustness.ts";
export * from "./cases.ts";
export * from "./gate_detector.ts";
export * from "./lesson.ts";
export * from "./regime.ts";
export * from "./regime_recalibration.ts";
