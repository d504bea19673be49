import { assert } from "../testing/assert.ts";
import { stableHash, stableJson } from "./hash.ts";

Deno.test("stableJson sorts keys at every level and keeps array order", () => {
  assert.equal(stableJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(stableJson("x"), '"x"');
});

Deno.test("stableHash is the SHA-256 of the stable JSON, blind to key order", async () => {
  // sha256('{"a":1}'), computed with Python's hashlib
  assert.equal(
    await stableHash({ a: 1 }),
    "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
  );
  assert.equal(await stableHash({ a: 1, b: 2 }), await stableHash({ b: 2, a: 1 }));
  assert.notEqual(await stableHash({ a: 1 }), await stableHash({ a: 2 }));
});
