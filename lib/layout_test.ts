/**
 * The layout of lib/ (README "What is in it"): imports go down the pipeline stages only, and the
 * notebooks' façade exports no private (`_`) name, and no file imports itself through others
 * (no import circles).
 *
 * Stages, lowest first: runtime ← data ← model ← train ← eval ← calibration ← show ←
 * paper ← bench ← cli. A
 * file may import its own stage and lower ones. `testing/`, `integration/` and `tools/` may
 * import anything; any test file may import `testing/`; nothing outside `cli/` imports `cli/`.
 * A `_`-prefixed file is private to its folder.
 *
 * @module
 */
import { assert } from "./testing/assert.ts";
import * as facade from "./mod.ts";

/** The pipeline stages, lowest first. */
const STAGES = [
  "runtime",
  "data",
  "model",
  "train",
  "eval",
  "calibration",
  "show",
  "paper",
  "bench",
  "cli",
];
/** Folders outside the pipeline that may import any stage. */
const FREE = ["testing", "integration", "tools"];

const LIB = new URL("./", import.meta.url);

/** Every `.ts` file under lib/, relative to lib/. */
function libFiles(dir = LIB, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) out.push(...libFiles(new URL(`${e.name}/`, dir), `${rel}${e.name}/`));
    else if (e.name.endsWith(".ts")) out.push(`${rel}${e.name}`);
  }
  return out.sort();
}

/** The relative specifiers of `import`/`export … from`, `import(…)` and `new URL(…)`. */
export function relativeImports(source: string): string[] {
  const rx =
    /(?:^|[\s;}])(?:import|export)\s[^;]*?\sfrom\s*["'](\.{1,2}\/[^"']+)["']|import\s*\(\s*["'](\.{1,2}\/[^"']+)["']|new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']/g;
  const out: string[] = [];
  for (const m of source.matchAll(rx)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Why importing `to` from `from` (both relative to lib/) breaks the layout, or null. */
export function layoutViolation(from: string, to: string): string | null {
  const top = (p: string) => (p.includes("/") ? p.slice(0, p.indexOf("/")) : "");
  const dir = (p: string) => p.slice(0, p.lastIndexOf("/") + 1);
  const [a, b] = [top(from), top(to)];
  const base = to.slice(to.lastIndexOf("/") + 1);
  if (base.startsWith("_") && dir(from) !== dir(to)) {
    return `${to} is private to ${dir(to) || "lib/"} (leading _)`;
  }
  if (b === "cli" && a !== "cli") return "nothing outside cli/ may import cli/";
  if (FREE.includes(a)) return null;
  if (b === "testing") {
    return from.endsWith("_test.ts") ? null : "only tests may import testing/";
  }
  if (b === "integration" || b === "tools") return `nothing imports ${b}/`;
  if (a === "" || b === "") {
    // lib/mod.ts (the façade) and lib/layout_test.ts sit above every stage
    return a === "" ? null : `${to} is above every stage`;
  }
  const [i, j] = [STAGES.indexOf(a), STAGES.indexOf(b)];
  if (i < 0) return `${a}/ is not a known folder of lib/`;
  if (j < 0) return `${b}/ is not a known folder of lib/`;
  return j <= i ? null : `${a}/ may not import ${b}/ (stages: ${STAGES.join(" ← ")})`;
}

Deno.test("layout: every import goes down the pipeline stages", () => {
  const bad: string[] = [];
  let count = 0;
  for (const file of libFiles()) {
    const src = Deno.readTextFileSync(new URL(file, LIB));
    for (const spec of relativeImports(src)) {
      const target = new URL(spec, new URL(file, LIB)).href;
      if (!target.startsWith(LIB.href)) continue; // e.g. node_modules
      const to = target.slice(LIB.href.length);
      count++;
      const why = layoutViolation(file, to);
      if (why) bad.push(`lib/${file} imports "${spec}": ${why}`);
    }
  }
  assert.ok(count > 100, `found only ${count} imports; is the parser broken?`);
  assert.deepEqual(bad, [], `imports against the layout:\n${bad.join("\n")}`);
});

/** A cycle of imports among non-test files (`[a, b, …, a]`), or null when there is none. */
export function importCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>();
  const visit = (v: string, path: string[]): string[] | null => {
    state.set(v, 1);
    for (const w of graph.get(v) ?? []) {
      if (state.get(w) === 1) return [...path.slice(path.indexOf(w)), w];
      if (!state.has(w)) {
        const c = visit(w, [...path, w]);
        if (c) return c;
      }
    }
    state.set(v, 2);
    return null;
  };
  for (const v of graph.keys()) {
    if (!state.has(v)) {
      const c = visit(v, [v]);
      if (c) return c;
    }
  }
  return null;
}

Deno.test("layout: no import circles among lib/'s files (tests aside)", () => {
  const graph = new Map<string, string[]>();
  for (const file of libFiles().filter((f) => !f.endsWith("_test.ts"))) {
    const src = Deno.readTextFileSync(new URL(file, LIB));
    graph.set(
      file,
      relativeImports(src)
        .map((spec) => new URL(spec, new URL(file, LIB)).href)
        .filter((h) => h.startsWith(LIB.href))
        .map((h) => h.slice(LIB.href.length))
        // a file naming itself can only be prose (mod.ts's JSDoc shows the notebooks' import)
        .filter((to) => to !== file),
    );
  }
  const c = importCycle(graph);
  assert.equal(c, null, `import circle: ${c?.join(" → ")}`);
  assert.deepEqual(
    importCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])),
    ["a", "b", "c", "a"],
  );
});

Deno.test("layout: the rule itself, on hand-picked cases", () => {
  assert.equal(layoutViolation("train/loop.ts", "model/fusion_head.ts"), null);
  assert.equal(layoutViolation("train/parallel/trainer.ts", "train/parallel/worker.ts"), null);
  assert.match(layoutViolation("model/ops.ts", "train/loss.ts")!, /model\/ may not import train\//);
  assert.match(layoutViolation("paper/pipeline.ts", "cli/train.ts")!, /outside cli\//);
  assert.match(layoutViolation("eval/x.ts", "model/_rank_chunk.ts")!, /private to model\//);
  assert.equal(layoutViolation("model/ranking.ts", "model/_rank_chunk.ts"), null);
  assert.equal(layoutViolation("data/npy_test.ts", "testing/assert.ts"), null);
  assert.match(layoutViolation("data/npy.ts", "testing/assert.ts")!, /only tests/);
  assert.equal(layoutViolation("integration/webgpu_test.ts", "train/parallel/trainer.ts"), null);
  assert.deepEqual(
    relativeImports(
      'import { a } from "./a.ts";\nexport * from "../b.ts";\nimport type {\n  C,\n} from "./c.ts";\n' +
        'await import("./d.ts");\nnew URL("./e.ts", import.meta.url);\nconst s = "from ./x.ts";',
    ),
    ["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts"],
  );
});

Deno.test("layout: mod.ts (the notebooks' façade) is a few namespaces and names, none private", () => {
  const top = Object.keys(facade);
  assert.ok(top.length <= 12, `mod.ts exports ${top.length} names: a handful, please`);
  const names = top.flatMap((k) => {
    const v = (facade as Record<string, unknown>)[k];
    // a namespace (a module object) is checked one level down; arquero is a dependency's
    return k !== "aq" && v && typeof v === "object" && Object.getPrototypeOf(v) === null
      ? Object.keys(v).map((n) => `${k}.${n}`)
      : [k];
  });
  assert.ok(names.length > 100, "the namespaces hold what the notebooks use");
  const priv = names.filter((n) => /(^|\.)_/.test(n));
  assert.deepEqual(priv, [], `mod.ts exports private names: ${priv.join(", ")}`);
});

Deno.test("layout: no file exports a _ name (private helpers stay in their file; shared ones are named)", () => {
  const rx =
    /^export\s+(?:async\s+)?(?:function\*?|const|let|interface|type|class|enum)\s+(_\w*)/gm;
  const bad = libFiles().flatMap((f) =>
    [...Deno.readTextFileSync(new URL(f, LIB)).matchAll(rx)].map((m) => `${f}: ${m[1]}`)
  );
  assert.deepEqual(bad, []);
});
