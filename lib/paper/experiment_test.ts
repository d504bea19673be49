import { assert } from "../testing/assert.ts";
import {
  provenanceLabel,
  REPRO_DEFAULTS,
  type ReproConfig,
  reproConfig,
  reproSeeds,
} from "./experiment.ts";

Deno.test("reproConfig: one default, derived seeds named, bad seeds refused", () => {
  const c = reproConfig();
  assert.equal(c.dataSeed, 0);
  assert.deepEqual(c.trainSeeds, [0, 1, 2], "the one default: three training seeds");
  assert.equal(c.gateSeed, 4, "the gate samples' seed: dataSeed + 4 unless given");
  assert.equal(reproConfig({ dataSeed: 3 }).gateSeed, 7);
  assert.equal(reproConfig({ dataSeed: 3, gateSeed: 11 }).gateSeed, 11);
  assert.deepEqual(reproSeeds({ dataSeed: 5 }), [0, 1, 2], "the data seed is not a training seed");
  assert.deepEqual(reproSeeds({ trainSeeds: [7] }), [7]);
  assert.throws(() => reproSeeds({ trainSeeds: [] }), /non-empty/);
  assert.throws(() => reproSeeds({ trainSeeds: [2, 2] }), /repeat/);
  assert.throws(() => reproSeeds({ trainSeeds: [1.5] }), /integers/);
  assert.throws(() => reproConfig({ dataSeed: 0.5 }), /dataSeed must be an integer/);
  assert.throws(() => reproConfig({ overrides: { seed: 9 } }), /list them in trainSeeds/);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => reproConfig({ overrides: ["lr=1e-4"] as any }),
    /overrides is a partial training config/,
  );
  // the defaults are not shared: a caller's change to its config stays its own
  c.trainSeeds.push(9);
  c.overrides.lr = 1;
  assert.deepEqual(REPRO_DEFAULTS.trainSeeds, [0, 1, 2]);
  assert.deepEqual(REPRO_DEFAULTS.overrides, {});
});

Deno.test("reproConfig: an older config's fields name their new names", () => {
  const old = (o: Record<string, unknown>) => reproConfig(o as Partial<ReproConfig>);
  assert.throws(() => old({ seed: 1 }), /'seed' is now 'dataSeed'/);
  assert.throws(() => old({ seeds: [0] }), /'seeds' is now 'trainSeeds'/);
  assert.throws(() => old({ preset: "small" }), /'preset' is now 'dataPreset'/);
  assert.throws(() => old({ trainSet: {} }), /'trainSet' is now 'overrides'/);
});

Deno.test("provenanceLabel: data and training seeds for a figure's subtitle", () => {
  assert.equal(provenanceLabel(), "synthetic stand-in, data seed 0, training seeds 0, 1, 2");
  assert.equal(
    provenanceLabel({ dataSeed: 3, trainSeeds: [1], data: "/x/my_bundle/" }),
    "real data (my_bundle), training seed 1",
  );
});
