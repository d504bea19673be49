import { assert } from "../testing/assert.ts";
import { besideFullTable } from "./beside_full.ts";

Deno.test("besideFullTable: Hits@10 and ADaFuSE − DAR per preset, one row per benchmark and round", () => {
  const rows = besideFullTable({
    seed: 0,
    presets: ["repro", "full"],
    rows: [{ benchmark: "visdial", round: 10, dar: 80, adafuse: { repro: 82.5, full: 79 } }],
    imageWeight: { repro: 0.35, full: 0.3 },
  });
  assert.deepEqual(rows, [{
    benchmark: "visdial",
    round: 10,
    DAR: 80,
    "ADaFuSE repro": 82.5,
    "Δ repro": 2.5,
    "ADaFuSE full": 79,
    "Δ full": -1,
  }]);
});
