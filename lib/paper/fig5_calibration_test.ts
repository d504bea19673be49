import { assert } from "../testing/assert.ts";
import {
  calibrationFigure,
  calibrationSummary,
  calibrationTable,
  darDegradationTable,
  intervalText,
  missedTargets,
  parseCalibrationReport,
  publishedBaselines,
  readCalibrationReport,
  targetGroups,
} from "./fig5_calibration.ts";
import type { PaperReference } from "./reference.ts";

const report = () =>
  parseCalibrationReport({
    knobs: { textNoise: 0.5 },
    seeds: [1, 2],
    dialogues: 2064,
    corpusSize: 50000,
    objective: { "1": 1, "2": 2 },
    rows: [
      {
        id: "a",
        label: "ChatIR round 0",
        published: "63.61",
        source: "ChatIR §4.1",
        interval: [61.61, 65.61],
        values: { "1": 63.7, "2": 62.25 },
        met: true,
      },
      {
        id: "b",
        label: "DAR rate",
        published: "above 50",
        source: "ADaFuSE §3.1",
        interval: [48, null],
        values: { "1": 40, "2": 60 },
        met: false,
      },
    ],
    met: 1,
    total: 2,
    stats: {},
  });

const ref: PaperReference = {
  baselines: {
    chatir_hits10_round0: { value: 60, source: "s" },
    chatir_visdial_cumulative: { value: [60, 70, 80], source: "s" },
    chatir_chatgpt_blip2_rounds_2_5_10: { value: [1, 2, 3], source: "s" },
    chatir_human_blip2_round5: { value: 75, source: "s" },
    dar_minus_chatir_round10_max: { value: 7.5, source: "s" },
    dar_degradation_rate_visdial_rounds_2_10: {
      value: [50, 55],
      interval: [48, 57],
      source: "s",
    } as { value: number[]; source: string },
    dar_average_rank_drop_visdial: { value: 7500, interval: [5000, 10000], source: "s" } as {
      value: number;
      source: string;
    },
  },
};

Deno.test("calibrationTable: one column per data seed, the interval as text, met as yes/no", () => {
  const rep = report();
  const rows = calibrationTable(rep);
  assert.deepEqual(rows[0], {
    target: "ChatIR round 0",
    published: "63.61",
    source: "ChatIR §4.1",
    tolerance: "61.61 .. 65.61",
    "seed 1": "63.70",
    "seed 2": "62.25",
    met: "yes",
  });
  assert.equal(rows[1].tolerance, "48 .. +∞");
  assert.equal(intervalText([null, 4]), "−∞ .. 4");
  assert.equal(missedTargets(rep).length, 1);
  assert.equal(missedTargets(rep)[0].target, "DAR rate");
  assert.equal(
    calibrationSummary(rep),
    "met 1 of 2 on data seeds 1, 2 (2,064 dialogues per benchmark, corpus 50,000); per seed: " +
      "1 on seed 1, 2 on seed 2",
  );
});

Deno.test("parseCalibrationReport names the file and the fix", async () => {
  assert.throws(() => parseCalibrationReport({ seeds: [] }, "r.json"), /r\.json.*knobs.*calibrate/);
  const bad = { knobs: {}, seeds: [1], rows: [{ id: "x" }], met: 0, total: 1, stats: {} };
  assert.throws(() => parseCalibrationReport(bad, "r.json"), /rows\[0\] lacks "label"/);
  await assert.rejects(
    () => readCalibrationReport("/nonexistent/report.json"),
    /report\.json: not found; run `deno task calibrate`/,
  );
});

Deno.test("calibrationFigure: ours per method per panel, published markers, DAR's gain segment", () => {
  // 2 dialogues, 3 rounds: ChatIR hits at round 1 for one dialogue, at round 2 for both → 0, 50, 100
  const chatir = { count: 2, rounds: 3, ranks: Int32Array.from([50, 3, 2, 40, 40, 1]) };
  const dar = { count: 2, rounds: 3, ranks: Int32Array.from([1, 1, 1, 40, 40, 1]) };
  const pub = publishedBaselines(ref);
  assert.deepEqual(pub.visdial.chatir[1].values, [60, 70, 80]);
  assert.deepEqual(pub.chatgpt_blip2.chatir[1].rounds, [2, 5, 10]);
  assert.deepEqual(pub.human_blip2.chatir[1].values, [75]);
  const fig = calibrationFigure(
    [
      { benchmark: "visdial", methods: { chatir, dar } },
      { benchmark: "flan_alpaca_xxl_blip2", methods: { chatir, dar } },
    ],
    pub,
  );
  const ours = fig.data.filter((d) => String(d.name).endsWith("(ours)"));
  assert.equal(ours.length, 4);
  assert.deepEqual(ours[0].y, [0, 50, 100]);
  assert.deepEqual(ours[1].y, [50, 50, 100]);
  assert.equal(ours[2].xaxis, "x2");
  // visdial: round 0 and the curve; flan: round 0 only; the round-0 legend entry shows once
  const markers = fig.data.filter((d) => d.mode === "markers");
  assert.equal(markers.length, 3);
  assert.equal(markers.filter((d) => d.showlegend).length, 2);
  assert.deepEqual(markers.map((d) => d.marker.symbol), ["diamond", "x", "diamond"]);
  const seg = fig.data.filter((d) => d.legendgroup === "dar_gain");
  assert.equal(seg.length, 2);
  assert.deepEqual(seg[0].x, [2, 2]);
  assert.deepEqual(seg[0].y, [100, 107.5]);
  assert.ok(fig.layout?.xaxis2 && fig.layout?.yaxis2);
});

Deno.test("darDegradationTable: band verdicts from round 2 on and the 2..10 mean drop", () => {
  const rows = darDegradationTable(
    { method: "dar", rate: [10, 20, 50, 60], drop: [1, 2, 4000, 6000] },
    ref,
  );
  assert.equal(rows.length, 5);
  assert.equal(rows[0]["rate in band"], "");
  assert.equal(rows[2]["rate in band"], "yes");
  assert.equal(rows[3]["rate in band"], "no");
  assert.equal(rows[4]["DAR degraded %"], "55.0");
  assert.equal(rows[4]["rate in band"], "no");
  assert.equal(rows[4]["DAR rank drop"], "5000 (published 5000 .. 10000: yes)");
});

Deno.test("targetGroups: met count, published values and our range per id prefix", () => {
  const g = targetGroups(report(), [["round 0", "a"], ["rate", "b"]]);
  assert.deepEqual(g[0], {
    group: "round 0",
    prefix: "a",
    met: "1 of 1",
    published: "63.61",
    ours: "62.3 .. 63.7",
  });
  assert.equal(g[1].met, "0 of 1");
  assert.throws(() => targetGroups(report(), [["none", "zzz"]]), /no target id starts with "zzz"/);
});
