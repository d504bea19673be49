import { assert } from "../testing/assert.ts";
import { main } from "./calibrate.ts";
import { CALIBRATION_TARGETS } from "../paper/calibration.ts";

Deno.test("calibrate CLI: a tiny search and confirmation write both reports", async () => {
  const out = await Deno.makeTempDir({ prefix: "calibrate_test_" });
  try {
    const code = await main([
      "--preset",
      "small",
      "--evaluations",
      "2",
      "--dialogues",
      "8",
      "--confirm-dialogues",
      "8",
      "--data-seeds",
      "4,5",
      "--confirm-seeds",
      "3",
      "--out",
      out,
    ]);
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
