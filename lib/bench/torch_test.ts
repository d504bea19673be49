import { assert } from "../testing/assert.ts";
import { torchEnv } from "./torch.ts";

Deno.test("the PyTorch side gets the thread counts, and no OPENBLAS_CORETYPE unless kept", () => {
  Deno.env.set("OPENBLAS_CORETYPE", "Haswell");
  try {
    const e = torchEnv(3);
    assert.equal(e.OPENBLAS_CORETYPE, undefined);
    assert.equal(torchEnv(3, true).OPENBLAS_CORETYPE, "Haswell");
    assert.equal(e.OPENBLAS_NUM_THREADS, "3");
    assert.equal(e.OMP_NUM_THREADS, "3");
  } finally {
    Deno.env.delete("OPENBLAS_CORETYPE");
  }
});
