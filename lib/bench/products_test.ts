import * as tf from "@tensorflow/tfjs";
import { assert } from "../testing/assert.ts";
import { initBackend } from "../runtime/backend.ts";
import { benchProducts, type ProductRow, productTable, timeProduct } from "./products.ts";
import { nativeBlas } from "../runtime/native_kernels.ts";

await initBackend("wasm");

Deno.test("product table: one row per product, n/a where a library did not run", () => {
  const rows: ProductRow[] = [{
    shape: { name: "p", m: 2, n: 3, k: 4, transA: false, transB: true },
    gflops: { "tfjs-wasm": 1.25, openblas: 80, dnnl: null, torch: 150.4 },
  }];
  const t = productTable(rows, 2).split("\n");
  assert.equal(t.length, 3);
  assert.match(t[0], /OpenBLAS \(2 thr\).*oneDNN \(2 thr\).*PyTorch \(2 thr\)/);
  assert.match(t[2], /^p\s+2×3×4\s+1\.3\s+80\s+n\/a\s+150$/);
});

Deno.test("timeProduct and benchProducts measure small products and restore the kernels", async () => {
  const before = nativeBlas();
  const sec = await timeProduct(
    { name: "x", m: 8, n: 8, k: 8, transA: true, transB: false },
    1,
  );
  assert.ok(sec > 0 && sec < 1);
  // the real table's shapes take tfjs seconds; small ones here
  const shapes = [
    { name: "a", m: 16, n: 24, k: 8, transA: false, transB: true },
    { name: "b", m: 16, n: 24, k: 8, transA: true, transB: false },
  ];
  const { rows, libraries } = await benchProducts(1, 1, () => {}, shapes);
  assert.equal(rows.length, 2);
  for (const r of rows) {
    for (const impl of ["tfjs-wasm", ...Object.keys(libraries).filter((l) => l !== "tfjs-wasm")]) {
      assert.ok((r.gflops[impl] ?? 0) > 0, `${r.shape.name} ${impl}`);
    }
  }
  assert.ok(libraries["tfjs-wasm"]);
  assert.ok(Object.keys(libraries).length >= 2, "no native library measured");
  assert.equal(nativeBlas()?.library, before?.library);
  assert.equal(tf.getBackend(), "wasm");
});
