import { assert, assertClose } from "../testing/assert.ts";
import { etaLine, EtaRecorder } from "./eta.ts";

function _progress(step: number, totalSteps: number, etaSec: number) {
  return { step, totalSteps, epoch: 0, loss: 1, samplesPerSec: 1, etaSec };
}

Deno.test("EtaRecorder: reads the ETA at each share once and compares it with the time left", () => {
  let t = 0;
  const rec = new EtaRecorder([0.25, 0.5], () => t);
  // 100 updates of 1 s each; the ETA says 1.1 s an update left
  for (let step = 1; step <= 100; step++) {
    t = step;
    rec.onProgress(_progress(step, 100, 1.1 * (100 - step)));
  }
  const checks = rec.finish();
  assert.deepEqual(checks.map((c) => [c.at, c.step]), [[0.25, 25], [0.5, 50]]);
  assertClose(checks.map((c) => c.actualSec), [75, 50], 1e-9);
  assertClose(checks.map((c) => c.error), [0.1, 0.1], 1e-9);
  assert.match(etaLine(checks), /^at 25%: ETA 1\.4 min, took 1\.3 min \(\+10\.0%\); at 50%/);
});

Deno.test("EtaRecorder: a run resumed past shares reads once, at the share where it is", () => {
  let t = 0;
  const rec = new EtaRecorder([0.25, 0.5], () => t);
  t = 10;
  rec.onProgress(_progress(60, 100, 30));
  t = 11;
  rec.onProgress(_progress(61, 100, 29));
  t = 40;
  assert.deepEqual(rec.finish().map((c) => [c.at, c.step, c.actualSec]), [[0.6, 60, 30]]);
  assert.match(etaLine([]), /no ETA read/);
  assert.throws(() => new EtaRecorder([0.5, 0.25]), /ascend/);
});
