/**
 * The paper as the notebooks see it (`lib.paper`): the experiment description and its one
 * default (experiment.ts), the cached pipeline (pipeline.ts), each of the paper's figures with its
 * paper-vs-ours table (fig1_degradation.ts … fig5_calibration.ts, training.ts) and the tables'
 * helpers (reference.ts). The studies beyond the paper are beyond.ts (`lib.beyond`).
 *
 * @module
 */
export * from "./experiment.ts";
export * from "./pipeline.ts";
export * from "./reference.ts";
export * from "./fig1_degradation.ts";
export * from "./fig2_architecture.ts";
export * from "./fig3_hits.ts";
export * from "./fig4_gate.ts";
export * from "./fig5_calibration.ts";
export * from "./training.ts";
export * from "./beside_full.ts";
