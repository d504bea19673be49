/**
 * Trainer parity with PyTorch on the small preset (lib/bench/parity.ts): this project's trainer
 * and a PyTorch head trained with the reference's loop (lib/tools/parity_torch.py), same bundle,
 * recipe and three seeds, end with training losses and validation Hits@10 whose means differ by
 * no more than their spread over seeds. Skipped when `/usr/bin/python3` cannot import torch (the
 * set-up installs Debian's python3-torch).
 */
import { assert } from "../testing/assert.ts";
import { hasTorch } from "../testing/torch.ts";
import { initBackend } from "../runtime/backend.ts";
import { ensureSyntheticBundle } from "../data/synthetic/generator.ts";
import { applyTrainOverrides, TRAIN_PRESETS } from "../train/config.ts";
import { paritySummary, runParity } from "../bench/parity.ts";

/** The recipe of the test: `repro` with enough updates on 512 dialogues for the head to move. */
export const PARITY_TEST_SETS = [
  "epochs=6",
  "warmupEpochs=0.6",
  "accumulate=1",
  "lr=0.0003",
  "evalEvery=1",
];

Deno.test({
  name: "parity: ours and PyTorch's reference loop agree within the spread over three seeds",
  ignore: !hasTorch(),
  async fn() {
    await initBackend("wasm");
    const dir = await Deno.makeTempDir({ prefix: "parity_test_" });
    try {
      await ensureSyntheticBundle({ preset: "small", seed: 0, dir: `${dir}/data` });
      const res = await runParity({
        data: `${dir}/data`,
        config: applyTrainOverrides(TRAIN_PRESETS.repro, PARITY_TEST_SETS),
        seeds: [0, 1, 2],
        install: false,
        log: () => {},
        cacheDir: dir,
      });
      const s = paritySummary(res);
      const say = (k: string) =>
        `${k}: ours ${s[k].ours.toFixed(4)}, torch ${s[k].torch.toFixed(4)}, spread ${
          s[k].spread.toFixed(4)
        }`;
      console.log(Object.keys(s).map(say).join("\n"));
      for (const k of ["trainLoss", "valMetric"]) assert.ok(s[k].within, say(k));
      // both heads learn: the loss falls from its first validation to its last
      for (const r of res) {
        assert.ok(r.ours.at(-1)!.trainLoss < r.ours[0].trainLoss, `ours seed ${r.seed} learns`);
        assert.ok(r.torch.at(-1)!.trainLoss < r.torch[0].trainLoss, `torch seed ${r.seed} learns`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
