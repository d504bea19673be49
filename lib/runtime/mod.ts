/**
 * The runtime stage as the notebooks see it (`lib.runtime`): the backend, seeded randomness,
 * unit rows.
 *
 * @module
 */
export { type BackendInfo, type BackendName, initBackend } from "./backend.ts";
export { Rng } from "./rng.ts";
export { normalizeRows } from "./rows.ts";
export { type RocCurve, rocCurve } from "./roc.ts";
