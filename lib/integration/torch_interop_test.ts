/**
 * Interoperability with PyTorch (docs/method.md, the head): a checkpoint written by
 * lib/model/checkpoint.ts is loaded by lib/tools/bench_torch.py into a PyTorch module written from
 * the head's equations (docs/method.md) with the reference `state_dict` names, and gives the same
 * fused queries to 1e-5. Skipped when `/usr/bin/python3` cannot import torch (Debian: `apt-get
 * install python3-torch`).
 */
import { assert } from "../testing/assert.ts";
import { hasTorch } from "../testing/torch.ts";
import { initBackend } from "../runtime/backend.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { FusionHead } from "../model/fusion_head.ts";
import { encodeNpy } from "../data/npy.ts";
import { Rng } from "../runtime/rng.ts";

const PY = "/usr/bin/python3";

// the paper's head, and an ablation variant with the reference's shapes (K = 2 experts; notebook
// 07): both load into the reference module
for (const experts of [4, 2]) {
  Deno.test({
    name:
      `a checkpoint written here gives the same fused queries in PyTorch (1e-5; K = ${experts})`,
    ignore: !hasTorch(),
    async fn() {
      await initBackend("wasm");
      const dir = await Deno.makeTempDir();
      try {
        const head = FusionHead.create({ experts }, 17);
        const n = 64, d = 256, rng = new Rng(3);
        const tg = new Float32Array(2 * n * d);
        for (let r = 0; r < 2 * n; r++) {
          let s = 0;
          for (let k = 0; k < d; k++) s += (tg[r * d + k] = rng.normal()) ** 2;
          for (let k = 0; k < d; k++) tg[r * d + k] /= Math.sqrt(s);
        }
        const fused = await head.fuse(tg.subarray(0, n * d), tg.subarray(n * d), n);
        await saveCheckpoint(head, `${dir}/head.safetensors`);
        head.dispose();
        await Deno.writeFile(
          `${dir}/tg.npy`,
          encodeNpy({ dtype: "float32", shape: [2, n, d], data: tg }),
        );
        await Deno.writeFile(
          `${dir}/q.npy`,
          encodeNpy({ dtype: "float32", shape: [n, d], data: fused.q }),
        );
        const script = new URL("../tools/bench_torch.py", import.meta.url).pathname;
        const out = await new Deno.Command(PY, {
          args: [
            script,
            "--threads",
            "1",
            "--check-checkpoint",
            `${dir}/head.safetensors`,
            "--inputs",
            `${dir}/tg.npy`,
            "--expected",
            `${dir}/q.npy`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const err = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `the PyTorch check failed: ${err.slice(-500)}`);
        const res = JSON.parse(new TextDecoder().decode(out.stdout));
        console.log(`max |q_ours − q_torch| = ${res.maxAbsDiff}`);
        assert.ok(res.maxAbsDiff <= 1e-5, `fused queries differ by ${res.maxAbsDiff} > 1e-5`);
        assert.deepEqual(res.config, { dim: 256, proj: 512, hidden: 2048, experts });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
