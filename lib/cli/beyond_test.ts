import { assert } from "../testing/assert.ts";
import { main, parseCaseFilter, STUDIES } from "./beyond.ts";

Deno.test("beyond CLI: case filters parse; bad ones and unknown studies fail with the fix", async () => {
  assert.deepEqual(parseCaseFilter("darDrop"), { by: "darDrop", round: undefined });
  assert.deepEqual(parseCaseFilter("adafuseGain:10"), { by: "adafuseGain", round: 10 });
  assert.throws(() => parseCaseFilter("worst"), /use darDrop, adafuseGain or adafuseLoss/);
  assert.throws(() => parseCaseFilter("darDrop:x"), /must be a number/);
  await assert.rejects(() => main("ablations", []), /unknown; use one of ablate, robustness/);
  await assert.rejects(() => main("ablate", ["--index", "3"]), /--index/);
  assert.deepEqual(Object.values(STUDIES), [
    "07_ablations",
    "08_robustness",
    "09_cases",
    "10_gate_detector",
    "12_training_regime",
    "13_published_geometry",
  ]);
});
