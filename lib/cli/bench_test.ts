import { assert } from "../testing/assert.ts";
import { parseBenchArgs } from "./bench.ts";

Deno.test("bench command line: defaults, quick, numbers checked, unknown options named", () => {
  const full = parseBenchArgs([]);
  const quick = parseBenchArgs(["--quick", "--runs", "2", "--no-torch", "--out=/tmp/b.json"]);
  assert.equal(quick.runs, 2);
  assert.equal(quick.torch, false);
  assert.equal(quick.out, "/tmp/b.json");
  assert.ok(full.runs >= quick.runs);
  assert.match(full.out, /data\/cache\/bench\.json$/);
  assert.equal(full.full, false);
  assert.equal(full.products, true);
  const long = parseBenchArgs(["--full", "--no-products"]);
  assert.equal(long.full, true);
  assert.equal(long.products, false);
  assert.equal(full.docs, true, "a full run to the default file rewrites the docs' bench blocks");
  assert.equal(quick.docs, false);
  assert.equal(parseBenchArgs(["--no-docs"]).docs, false);
  assert.throws(() => parseBenchArgs(["--runs", "0"]), /--runs must be an integer ≥ 1/);
  assert.throws(() => parseBenchArgs(["--fast"]), /unknown option --fast/);
  const short = parseBenchArgs(["--full-preset", "repro"]);
  assert.equal(short.full, true);
  assert.equal(short.fullPreset, "repro");
  assert.throws(
    () => parseBenchArgs(["--full-preset", "fast"]),
    /no training preset \(full, repro\)/,
  );
});
