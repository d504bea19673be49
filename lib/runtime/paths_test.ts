import { assert } from "../testing/assert.ts";
import { readJsonIfExists, writeFileAtomic } from "./paths.ts";

Deno.test("readJsonIfExists: parsed JSON, undefined when missing, an error naming a bad file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/a.json`, '{"x":[1,2]}');
    assert.deepEqual(await readJsonIfExists(`${dir}/a.json`), { x: [1, 2] });
    assert.equal(await readJsonIfExists(`${dir}/missing.json`), undefined);
    await Deno.writeTextFile(`${dir}/bad.json`, "{oops");
    await assert.rejects(
      () => readJsonIfExists(`${dir}/bad.json`),
      new RegExp(`${dir}/bad\\.json: unreadable JSON file .*; delete it`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
