/**
 * `deno task gpu-check`: the argument parser, the software-adapter rule, the budget stop, the
 * no-adapter exit, and one tiny run of the CLI in its own process on whatever WebGPU adapter
 * this machine has (Mesa's lavapipe on CI: flagged as software).
 */
import { assert } from "../testing/assert.ts";
import { gpuCheckMain, parseGpuCheckArgs } from "./gpu_check.ts";
import {
  type GpuCheckResult,
  runGpuCheck,
  softwareAdapterReason,
  timeAutodiffSteps,
  TINY_MODEL,
} from "../bench/gpu.ts";
import { initBackend } from "../runtime/backend.ts";

const _NAMES = { vendor: "", architecture: "", device: "", description: "" };

Deno.test("gpu-check: software adapters are named, hardware ones are not", () => {
  const lava = softwareAdapterReason({
    ..._NAMES,
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  });
  assert.ok(lava?.includes("llvmpipe"), String(lava));
  assert.ok(softwareAdapterReason({ ..._NAMES, device: "Lavapipe" })?.includes("lavapipe"));
  assert.ok(softwareAdapterReason({ ..._NAMES, vendor: "Google SwiftShader" }) !== null);
  assert.deepStrictEqual(
    softwareAdapterReason({ ..._NAMES, vendor: "nvidia", device: "NVIDIA H200" }),
    null,
  );
  assert.ok(softwareAdapterReason({ ..._NAMES, vendor: "x" }, true)?.includes("fallback"));
});

Deno.test("gpu-check: arguments over the defaults; bad values name the flag", () => {
  const d = parseGpuCheckArgs([]);
  assert.deepStrictEqual([d.steps, d.batch, d.budgetSec, d.tiny, d.workers, d.torch], [
    200,
    128,
    480,
    false,
    "auto",
    true,
  ]);
  assert.ok(d.out.endsWith("data/cache/gpu_check.json"));
  assert.deepStrictEqual(d.python, ["python3", "/usr/bin/python3"]);
  assert.deepStrictEqual(parseGpuCheckArgs(["--python", "/opt/py/bin/python"]).python, [
    "/opt/py/bin/python",
  ]);
  const o = parseGpuCheckArgs(
    ["--steps", "3", "--batch=8", "--budget-s", "2.5", "--tiny", "--workers", "1", "--no-torch"],
  );
  assert.deepStrictEqual([o.steps, o.batch, o.budgetSec, o.tiny, o.workers, o.torch], [
    3,
    8,
    2.5,
    true,
    1,
    false,
  ]);
  assert.throws(() => parseGpuCheckArgs(["--steps", "0"]), /--steps/);
  assert.throws(() => parseGpuCheckArgs(["--batch", "x"]), /--batch/);
  assert.throws(() => parseGpuCheckArgs(["--frobnicate"]), /frobnicate/);
});

Deno.test("gpu-check: the step loop stops on the budget and says how many steps it did", async () => {
  await initBackend("wasm");
  const r = await timeAutodiffSteps({ batch: 4, steps: 50, budgetSec: 1e-6, model: TINY_MODEL });
  assert.deepStrictEqual([r.steps, r.stepsTimed, r.budgetHit, r.stepsRequested], [1, 0, true, 50]);
  assert.ok(r.warmupSec > 0 && Number.isFinite(r.lastLoss));
  const full = await timeAutodiffSteps({ batch: 4, steps: 3, budgetSec: 60, model: TINY_MODEL });
  assert.deepStrictEqual([full.steps, full.stepsTimed, full.budgetHit], [3, 2, false]);
  assert.ok(Math.abs(full.samplesPerSec - (4 * 2) / full.sec) < 1e-9);
});

Deno.test("gpu-check: no WebGPU adapter: nothing runs, exit code 2, JSON says adapter null", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpu_check_none_" });
  try {
    const probe = () => Promise.resolve(null);
    const initBackend = () => Promise.reject(new Error("must not start a backend"));
    const errs: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errs.push(a.join(" "));
    let code: number;
    try {
      code = await gpuCheckMain(["--out", `${dir}/g.json`, "--tiny"], { probe, initBackend });
    } finally {
      console.error = orig;
    }
    assert.deepStrictEqual(code, 2);
    assert.ok(errs.join("\n").includes("no WebGPU adapter"), errs.join("\n"));
    const res = JSON.parse(await Deno.readTextFile(`${dir}/g.json`)) as GpuCheckResult;
    assert.deepStrictEqual([res.adapter, res.rows.length], [null, 0]);
    const r2 = await runGpuCheck({ ...parseGpuCheckArgs(["--tiny"]), out: "" }, { probe });
    assert.deepStrictEqual(r2.rows, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "gpu-check: the CLI on this machine's adapter: table, JSON, software flag (tiny, 3 steps)",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "gpu_check_cli_" });
    try {
      const deno = Deno.execPath();
      const cli = new URL("./gpu_check.ts", import.meta.url).pathname;
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const out = await new Deno.Command(deno, {
        args: [
          "run",
          "-A",
          "--config",
          config,
          cli,
          "--steps",
          "3",
          "--batch",
          "8",
          "--tiny",
          "--workers",
          "1",
        ]
          .concat(["--budget-s", "60", "--out", `${dir}/g.json`]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      if (out.code === 2) {
        // no adapter on this machine: the message, not a crash
        assert.ok(stderr.includes("no WebGPU adapter"), stderr);
        return;
      }
      assert.deepStrictEqual(out.code, 0, `exit ${out.code}\n${stdout}\n${stderr}`);
      const res = JSON.parse(await Deno.readTextFile(`${dir}/g.json`)) as GpuCheckResult;
      assert.deepStrictEqual(res.rows.map((r) => r.path), ["webgpu", "cpu", "torch-cuda"]);
      assert.deepStrictEqual(res.settings.model.dim, TINY_MODEL.dim);
      for (const r of res.rows.slice(0, 2)) {
        const t = r.timing!;
        assert.ok(t, `${r.path}: ${r.note}`);
        assert.deepStrictEqual([t.steps, t.stepsTimed, t.stepsRequested, t.budgetHit], [
          3,
          2,
          3,
          false,
        ]);
        assert.ok(t.samplesPerSec > 0 && Number.isFinite(t.lastLoss), JSON.stringify(t));
      }
      const torch = res.rows[2];
      assert.ok(
        torch.timing !== null || (torch.note ?? "").length > 0,
        "torch row: timing or note",
      );
      assert.ok(typeof res.adapter!.limits.maxStorageBufferBindingSize === "number");
      for (const h of ["WebGPU adapter:", "samples/s", "vs CPU", "tfjs WebGPU", "1 worker"]) {
        assert.ok(stdout.includes(h), `table lacks '${h}':\n${stdout}`);
      }
      const soft = /lavapipe|llvmpipe|swiftshader/i.test(
        res.adapter!.description + " " +
          res.adapter!.device,
      );
      if (soft || res.adapter!.isFallbackAdapter) {
        assert.ok(res.adapter!.software !== null, "software adapter not flagged in JSON");
        assert.ok(stdout.includes("SOFTWARE ADAPTER"), stdout);
      } else {
        assert.deepStrictEqual(res.adapter!.software, null);
        assert.ok(!stdout.includes("SOFTWARE ADAPTER"), stdout);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
