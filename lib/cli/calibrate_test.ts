import { assert } from "../testing/assert.ts";
import { main } from "./calibrate.ts";
import { CALIBRATION_TARGETS } from "../calibration/targets.ts";

/** A search on the small preset with 8 dialogues, confirmed on data seed 3, written to `out`. */
const _tiny = (out: string, evaluations: number, dataSeeds: string, extra: string[] = []) =>
  main([
    "--preset",
    "small",
    ...extra,
    "--evaluations",
    String(evaluations),
    "--dialogues",
    "8",
    "--confirm-dialogues",
    "8",
    "--data-seeds",
    dataSeeds,
    "--confirm-seeds",
    "3",
    "--out",
    out,
  ]);

Deno.test("calibrate CLI: a tiny search and confirmation write both reports", async () => {
  const out = await Deno.makeTempDir({ prefix: "calibrate_test_" });
  try {
    const code = await _tiny(out, 2, "4,5");
    assert.equal(code, 0);
    const rep = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    assert.equal(rep.rows.length, CALIBRATION_TARGETS.length);
    assert.deepEqual(rep.seeds, [3]);
    assert.equal(rep.dialogues, 8);
    const md = await Deno.readTextFile(`${out}/report.md`);
    assert.ok(md.includes("| ChatIR Hits@10, visdial, round 0 |"), md);
    assert.deepEqual(rep.search, {
      textEvaluations: 0,
      evaluations: 2,
      dialogues: 8,
      dataSeeds: [4, 5],
      searchSeed: 0,
    });
    assert.ok(md.includes("--data-seeds 4,5 --search-seed 0 --confirm-seeds 3"), md);
    const search = JSON.parse(await Deno.readTextFile(`${out}/search.json`));
    assert.equal(search.all.history.length, 2);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("calibrate CLI: a bad number names the option", async () => {
  await assert.rejects(() => main(["--evaluations", "x"]), Error, "--evaluations");
});

Deno.test("calibrate CLI: --pin holds a knob out of the search and the report says so", async () => {
  const out = await Deno.makeTempDir({ prefix: "calibrate_test_" });
  try {
    const code = await _tiny(out, 3, "4", ["--stage", "generator", "--pin", "textGap=1.5"]);
    assert.equal(code, 0);
    const rep = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    assert.equal(rep.knobs.textGap, 1.5);
    assert.deepEqual(rep.search.pins, { textGap: 1.5 });
    assert.equal(rep.search.stage, "generator");
    const search = JSON.parse(await Deno.readTextFile(`${out}/search.json`));
    for (const c of search.generator.history) {
      assert.ok(!("textGap" in c.knobs), "textGap searched");
    }
    const md = await Deno.readTextFile(`${out}/report.md`);
    assert.ok(md.includes("--stage generator --pin textGap=1.5"), md);
    assert.ok(md.includes("a study, not the `default` preset"), md);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("calibrate CLI: a bad --pin or --stage names the fix", async () => {
  await assert.rejects(() => main(["--pin", "colour=1"]), Error, "KNOB=NUMBER with KNOB one of");
  await assert.rejects(() => main(["--pin", "textGap=x"]), Error, "--pin 'textGap=x'");
  await assert.rejects(() => main(["--stage", "text"]), Error, "--stage must be all or generator");
});
