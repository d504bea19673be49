import { assert } from "../testing/assert.ts";
import { parseArgs } from "./_args.ts";

const spec = {
  options: ["data", "out"],
  flags: ["resume"],
  repeated: ["set"],
  required: ["data"],
  usage: "usage: x --data DIR",
};

Deno.test("parseArgs: options, flags, repeated options, = form", () => {
  const a = parseArgs(["--data", "d", "--set", "a=1", "--resume", "--set=b=2", "--out=o"], spec);
  assert.deepEqual(a.options, { data: "d", out: "o" });
  assert.deepEqual(a.flags, { resume: true });
  assert.deepEqual(a.repeated, { set: ["a=1", "b=2"] });
  assert.equal(a.help, false);
  const b = parseArgs(["--data", "d"], spec);
  assert.deepEqual([b.flags.resume, b.repeated.set], [false, []]);
  assert.equal(parseArgs(["--help"], spec).help, true);
});

Deno.test("parseArgs: errors name the argument", () => {
  assert.throws(
    () => parseArgs(["--data", "d", "--bogus", "1"], spec),
    /unknown option --bogus; usage/,
  );
  assert.throws(() => parseArgs(["--data"], spec), /--data needs a value/);
  assert.throws(() => parseArgs(["--data", "--out", "o"], spec), /--data needs a value/);
  assert.throws(() => parseArgs(["--out", "o"], spec), /missing --data/);
  assert.throws(() => parseArgs(["--data", "d", "--resume=1"], spec), /--resume is a flag/);
  assert.throws(() => parseArgs(["--data", "d", "stray"], spec), /unexpected argument 'stray'/);
});
