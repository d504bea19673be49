/**
 * Learning-rate schedule of the training recipe: linear warm-up then cosine decay to zero.
 *
 * @module
 */

/**
 * Learning rate for the optimizer update with 0-based index `step`.
 *
 * The same curve as `transformers.get_cosine_schedule_with_warmup` (the usual PyTorch
 * recipe): `base·step/warmup` during warm-up (so the very first update runs at lr 0), then
 * `base·½(1 + cos(π·progress))` with `progress = (step − warmup)/(total − warmup)`, reaching 0
 * at `step = total`. Steps past `total` stay at 0.
 *
 * @param step 0-based index of the update (updates already done).
 * @param baseLr peak learning rate, reached at the end of warm-up.
 * @param totalSteps number of updates in the whole run.
 * @param warmupSteps number of warm-up updates (0 for none).
 */
export function cosineWithWarmup(
  step: number,
  baseLr: number,
  totalSteps: number,
  warmupSteps: number,
): number {
  if (!(totalSteps > 0) || !Number.isInteger(totalSteps)) {
    throw new Error(`schedule: totalSteps must be a positive integer, got ${totalSteps}`);
  }
  if (!(warmupSteps >= 0 && warmupSteps <= totalSteps) || !Number.isInteger(warmupSteps)) {
    throw new Error(
      `schedule: warmupSteps must be an integer in [0, totalSteps=${totalSteps}], got ${warmupSteps}`,
    );
  }
  if (!(step >= 0)) throw new Error(`schedule: step must be >= 0, got ${step}`);
  if (step < warmupSteps) return baseLr * step / Math.max(1, warmupSteps);
  if (step >= totalSteps) return 0;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** The step counts of a run, from its epochs and updates per epoch. */
export interface ScheduleSteps {
  /** Updates in the whole run: `epochs · stepsPerEpoch`. */
  totalSteps: number;
  /** Warm-up updates: `warmupEpochs · stepsPerEpoch` (5 of 50 epochs = 10% of the run). */
  warmupSteps: number;
}

/** Total and warm-up step counts for `epochs` epochs of `stepsPerEpoch` updates each. */
export function scheduleSteps(
  epochs: number,
  warmupEpochs: number,
  stepsPerEpoch: number,
): ScheduleSteps {
  if (!(warmupEpochs >= 0 && warmupEpochs <= epochs)) {
    throw new Error(
      `schedule: warmupEpochs (${warmupEpochs}) must lie in [0, epochs=${epochs}]`,
    );
  }
  const totalSteps = epochs * stepsPerEpoch;
  return { totalSteps, warmupSteps: Math.round(warmupEpochs * stepsPerEpoch) };
}
