import { assert, assertClose } from "../testing/assert.ts";
import { CALIBRATION_KNOBS, TEXT_KNOBS } from "../calibration/search.ts";
import type { SyntheticData } from "../data/synthetic/generator.ts";
import {
  harshestGenerator,
  probeComparison,
  probeFigure,
  probeSettings,
  probeTable,
  RECALIBRATION_TEXT_GAP,
  recalibrationProbe,
  scoreMargin,
} from "./regime_recalibration.ts";
import type { CalibrationReport } from "../calibration/report.ts";
import { initBackend } from "../runtime/backend.ts";

Deno.test("harshestGenerator: every generator knob at the top of its range, no text knob", () => {
  const h = harshestGenerator();
  const gen = CALIBRATION_KNOBS.filter((k) => !TEXT_KNOBS.includes(k.key) && k.key !== "textGap");
  assert.equal(Object.keys(h).length, gen.length);
  for (const k of gen) assert.equal(h[k.key], k.hi, k.key);
  assert.ok(!("textGap" in h) && TEXT_KNOBS.every((k) => !(k in h)));
});

Deno.test("scoreMargin: a matching row minus an unrelated one, by hand", () => {
  // d = 2, R = 1: two dialogues whose text equals their target; the other image is orthogonal
  const corpus = new Float32Array([1, 0, 0, 1]);
  const visdial = {
    text: new Float32Array([1, 0, 0, 1]),
    gen: new Float32Array([Math.SQRT1_2, Math.SQRT1_2, 1, 0]),
    target: new Int32Array([0, 1]),
  };
  const data = { dim: 2, rounds: 1, corpus, splits: { visdial } } as unknown as SyntheticData;
  assertClose(scoreMargin(data, "text", 0), 1 - 0, 1e-6);
  // gen: row 0 is at 45° from both images (margin 0); row 1 is the other image (margin −1)
  assertClose(scoreMargin(data, "gen", 0), (0 + -1) / 2, 1e-6);
});

Deno.test("recalibrationProbe measures every setting; the published gap widens the caption margin (small preset)", async () => {
  await initBackend("wasm");
  const report = { knobs: {} } as unknown as CalibrationReport;
  const s = probeSettings(report);
  assert.equal(s.length, 4);
  assert.equal(s[1].overrides.textGap, RECALIBRATION_TEXT_GAP);
  const rows = await recalibrationProbe([s[0], s[1]], { preset: "small", dialogues: 64 });
  assert.equal(rows.length, 2);
  for (const r of rows) {
    for (const v of [r.darGainR0, r.rankDrop, r.textMargin, r.genMargin]) {
      assert.ok(Number.isFinite(v), JSON.stringify(r));
    }
  }
  // a wider text cone: the caption's margin grows with the smaller gap
  assert.ok(rows[1].textMargin > 2 * rows[0].textMargin, JSON.stringify(rows));
});

Deno.test("probeTable, probeComparison and probeFigure: one column or bar per generator, published bands", () => {
  const row = (setting: string, rankDrop: number) => ({
    setting,
    darGainR0: 0.5,
    darGainR10: 3,
    degradation: 51,
    rankDrop,
    darMet: "19 of 19",
    textMargin: 0.05,
    genMargin: 0.2,
  });
  const rows = [row("a", 7000), row("b, c", 800)];
  assert.equal(probeTable(rows).length, 2);
  assert.equal(probeTable(rows)[1]["rank drop r2-10"], "800");
  const cmp = probeComparison(rows);
  assert.equal(cmp.length, 4);
  const drop = cmp.find((r) => /rank drop/.test(r.statistic))!;
  assert.match(drop.published, /about 7,500/);
  assert.deepEqual([drop.a, drop["b, c"]], ["7000", "800"]);
  const fig = probeFigure(rows, "t");
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].y, [7000, 800]);
  assert.deepEqual(fig.layout!.shapes.map((s: { y0: number; y1: number }) => [s.y0, s.y1]), [
    [5000, 10000],
    [-1, 2],
  ]);
});
