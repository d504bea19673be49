import { assert } from "../testing/assert.ts";
import { main } from "./data.ts";

Deno.test("cli/data: rejects a bad preset and seed with a clear message", async () => {
  await assert.rejects(() => main(["--preset", "huge"]), /unknown --preset 'huge'/);
  await assert.rejects(
    () => main(["--preset", "small", "--seed", "x"]),
    /--seed must be an integer/,
  );
  await assert.rejects(() => main(["--bogus"]), /usage/);
});

Deno.test("cli/data: writes the small preset, then skips it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_data_test_" });
  try {
    assert.equal(await main(["--out", dir, "--preset", "small", "--seed", "3"]), 0);
    const m = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    assert.equal(m.config.preset, "small");
    assert.equal(m.config.seed, 3);
    const before = (await Deno.stat(`${dir}/manifest.json`)).mtime?.getTime();
    assert.equal(await main(["--out", dir, "--preset", "small", "--seed", "3"]), 0);
    assert.equal((await Deno.stat(`${dir}/manifest.json`)).mtime?.getTime(), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
