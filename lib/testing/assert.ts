/**
 * Assertions for the tests (JSR's @std/assert is out of reach here; `node:assert` is built in).
 *
 * @module
 */
import assert from "node:assert/strict";

export { assert };

/** Asserts `|actual - expected| <= tol` elementwise (numbers or array-likes of equal length). */
export function assertClose(
  actual: number | ArrayLike<number>,
  expected: number | ArrayLike<number>,
  tol = 1e-6,
  what = "value",
): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  assert.equal(a.length, e.length, `${what}: length ${a.length} != ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= tol)) {
      throw new assert.AssertionError({
        message: `${what}[${i}]: ${a[i]} differs from ${e[i]} by ${d} > ${tol}`,
      });
    }
  }
}
