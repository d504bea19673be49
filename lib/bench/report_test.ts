import { assert } from "../testing/assert.ts";
import { type BenchResult, recipeLabel } from "./harness.ts";
import {
  BENCH_MARKERS,
  performanceMarkdown,
  readmePerformanceLine,
  writePerformanceDocs,
} from "./report.ts";
import { replaceMarked } from "../runtime/paths.ts";

const RES: BenchResult = {
  date: "2026-12-07T03:00:00.000Z",
  machine: {
    name: "Test CPU (2 cores, AVX2, 8 GB)",
    cpus: 2,
    loadavg: [0.1],
    loadavgEnd: [1],
    deno: "x",
  },
  settings: { runs: 5, warmup: 2, threads: 2, torchEnv: "no OPENBLAS_CORETYPE override" },
  ours: {
    blas: "oneDNN",
    train: {
      "128": {
        breakdown: {
          updateMs: 100,
          productMs: 60,
          elementwiseMs: 10,
          optimizerMs: 20,
          otherMs: 10,
          flopsPerSample: 70e6,
          stepGflops: 89.6,
          productGflopsPerCore: 75,
          productCeiling: 2133,
        },
      },
    },
  },
  torch: {},
  rows: [
    {
      name: "train b128 (2 workers)",
      unit: "samples/s",
      ours: 1280,
      theirs: 640,
      ratio: 2,
      higherIsBetter: true,
    },
    {
      name: "peak memory, training",
      unit: "MB",
      ours: 500,
      theirs: 1000,
      ratio: 0.5,
      higherIsBetter: false,
    },
  ],
  products: [],
};

Deno.test("the performance text is made of the bench result: machine, table, breakdown", () => {
  const md = performanceMarkdown(RES);
  assert.match(md, /Test CPU \(2 cores, AVX2, 8 GB\), 2026-12-07/);
  assert.match(md, /\| train b128 \(2 workers\) \| samples\/s +\| +1280 \| +640 \| +2\.00x \|/);
  assert.match(md, /MB \(lower is better\)/);
  assert.match(md, /100\.0 ms an update = products 60\.0 \(60%\)/);
  assert.match(md, /products alone would allow 2133 samples\/s/);
  assert.match(readmePerformanceLine(RES), /1280 samples\/s at batch 128 \(PyTorch 640, 2\.00x\)/);
});

Deno.test("replaceMarked rewrites only the marked block and names the file when it is missing", async () => {
  const [a, b] = BENCH_MARKERS;
  const text = `intro\n${a}\nold\n${b}\noutro\n`;
  assert.equal(
    replaceMarked(text, "new", "f.md", BENCH_MARKERS),
    `intro\n${a}\nnew\n${b}\noutro\n`,
  );
  assert.throws(
    () => replaceMarked("no block", "x", "docs/x.md", BENCH_MARKERS),
    /docs\/x\.md: no '<!-- bench:start/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/docs`);
    await Deno.writeTextFile(`${dir}/docs/performance.md`, text);
    await Deno.writeTextFile(`${dir}/README.md`, text);
    await writePerformanceDocs(RES, dir);
    const rd = await Deno.readTextFile(`${dir}/README.md`);
    assert.match(
      rd,
      /^intro\n+<!-- bench:start -->\n[^]*1280 samples\/s[^]*<!-- bench:end -->\n+outro\n$/,
    );
    assert.match(await Deno.readTextFile(`${dir}/docs/performance.md`), /Test CPU/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recipeLabel: the paper's recipe is the full recipe, another preset is named", () => {
  assert.equal(recipeLabel(), "full recipe");
  assert.equal(recipeLabel("default"), "full recipe");
  assert.equal(recipeLabel("repro"), "'repro' recipe");
});
