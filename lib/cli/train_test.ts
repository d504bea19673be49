import { assert } from "../testing/assert.ts";
import { configFromArgs, parseTrainArgs, runTrain } from "./train.ts";
import { TINY_TRAIN_SETS, tinyTrainData } from "../testing/tiny_train_data.ts";

const _TINY = [...TINY_TRAIN_SETS, "epochs=2"].flatMap((s) => ["--set", s]);

Deno.test("parseTrainArgs: flags, --flag=value, repeated --set, errors", () => {
  const a = parseTrainArgs(["--data", "d", "--out=o", "--set", "epochs=3", "--set=lr=1e-4"]);
  assert.equal(a.data, "d");
  assert.equal(a.out, "o");
  assert.deepEqual(a.set, ["epochs=3", "lr=1e-4"]);
  assert.equal(a.resume, false);
  assert.equal(a.preset, undefined); // configFromArgs takes `full`
  assert.equal(parseTrainArgs(["--data", "d", "--out", "o", "--resume"]).resume, true);
  assert.throws(() => parseTrainArgs(["--data", "d"]), /missing --out/);
  assert.throws(
    () => parseTrainArgs(["--data", "d", "--out", "o", "--epochs", "3"]),
    /unknown option --epochs/,
  );
  assert.throws(() => parseTrainArgs(["--data", "--out", "o"]), /--data needs a value/);
});

Deno.test("configFromArgs: preset, file, then --set", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = await configFromArgs(
      parseTrainArgs(["--data", "d", "--out", "o", "--preset", "repro"]),
    );
    assert.equal(c.epochs, 2);
    await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify({ preset: "repro", epochs: 5 }));
    const f = await configFromArgs(
      parseTrainArgs(["--data", "d", "--out", "o", "--config", `${dir}/c.json`, "--set", "seed=9"]),
    );
    assert.deepEqual([f.epochs, f.accumulate, f.seed], [5, 2, 9]);
    await assert.rejects(
      () => configFromArgs(parseTrainArgs(["--data", "d", "--out", "o", "--preset", "x"])),
      /preset 'x'/,
    );
    // the merged preset's old name says which to use
    await assert.rejects(
      () => configFromArgs(parseTrainArgs(["--data", "d", "--out", "o", "--preset", "default"])),
      /now one preset: use full/,
    );
    await assert.rejects(
      () =>
        configFromArgs(
          parseTrainArgs(["--data", "d", "--out", "o", "--preset", "full", "--config", "c.json"]),
        ),
      /both given/,
    );
    assert.equal((await configFromArgs(parseTrainArgs(["--data", "d", "--out", "o"]))).epochs, 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runTrain trains once, then reports the cached run without loading data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let loads = 0;
    const load = () => {
      loads++;
      return Promise.resolve(tinyTrainData(5));
    };
    const argv = ["--data", "unused", "--out", dir, "--backend", "wasm", ..._TINY];
    const first = await runTrain(argv, load);
    assert.equal(first.cached, false);
    assert.equal(loads, 1);
    const again = await runTrain(argv, load);
    assert.equal(again.cached, true);
    assert.equal(loads, 1, "a finished run must not load the data again");
    const st = JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
    assert.equal(st.finished, true);
    assert.equal(st.epochsDone, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
