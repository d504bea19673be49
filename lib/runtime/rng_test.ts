import { assert, assertClose } from "../testing/assert.ts";
import { Rng } from "./rng.ts";

Deno.test("same seed gives the same stream, different seeds differ", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 5 }, () => a.nextU32());
  const xb = Array.from({ length: 5 }, () => b.nextU32());
  const xc = Array.from({ length: 5 }, () => c.nextU32());
  assert.deepEqual(xa, xb);
  assert.deepEqual(xa.some((v, i) => v !== xc[i]), true);
});

Deno.test("uniform, normal and gamma have the right moments", () => {
  const r = new Rng(1);
  const n = 200_000;
  let su = 0, sn = 0, sn2 = 0, sg = 0;
  for (let i = 0; i < n; i++) {
    su += r.uniform();
    const z = r.normal();
    sn += z;
    sn2 += z * z;
    sg += r.gamma(2);
  }
  assertClose(su / n, 0.5, 0.005);
  assertClose(sn / n, 0, 0.01);
  assertClose(sn2 / n, 1, 0.01);
  assertClose(sg / n, 2, 0.02);
});

Deno.test("bad seeds and shapes are refused", () => {
  assert.throws(() => new Rng(NaN), /finite/);
  assert.throws(() => new Rng(1).gamma(0), /shape/);
});
