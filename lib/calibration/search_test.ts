import { assert } from "../testing/assert.ts";
import { CALIBRATION_TARGETS } from "./targets.ts";
import { CALIBRATION_KNOBS, stagePlan, TEXT_KNOBS } from "./search.ts";
import { measureCalibration } from "./measure.ts";
import { syntheticConfig } from "../data/synthetic/generator.ts";

Deno.test("calibration: the text stage moves the text knobs against ChatIR's targets only", async () => {
  const text = stagePlan("text");
  assert.deepEqual(text.knobs.map((k) => k.key).sort(), [...TEXT_KNOBS].sort());
  assert.ok(text.textOnly);
  assert.ok(text.targets.length > 0);
  for (const i of text.targets) assert.ok(CALIBRATION_TARGETS[i].id.startsWith("chatir"));
  const gen = stagePlan("generator");
  assert.equal(gen.knobs.length + text.knobs.length, CALIBRATION_KNOBS.length);
  assert.ok(gen.knobs.every((k) => !TEXT_KNOBS.includes(k.key)));
  assert.equal(gen.targets.length, CALIBRATION_TARGETS.length);
  // ranking ChatIR alone gives the same ChatIR curves and no DAR numbers
  const cfg = syntheticConfig("small", 3);
  const both = await measureCalibration(cfg, { dialogues: 8 });
  const alone = await measureCalibration(cfg, { dialogues: 8, textOnly: true });
  assert.deepEqual(alone.chatir, both.chatir);
  assert.ok(alone.dar.visdial.every(Number.isNaN) && alone.degradation.every(Number.isNaN));
});
