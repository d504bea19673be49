import { assert } from "../testing/assert.ts";
import {
  formatDuration,
  ProgressBar,
  progressBundle,
  progressLine,
  trainingProgress,
} from "./progress.ts";

const state = {
  label: "training",
  done: 4,
  total: 10,
  unit: "updates",
  elapsedSec: 12,
  etaSec: 18,
  info: "loss 2.31",
};

Deno.test("formatDuration and progressLine, hand-worked", () => {
  assert.equal(formatDuration(83), "1:23");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(
    progressLine(state),
    "training  40% [########------------] 4/10 updates  0:12 < 0:18  loss 2.31",
  );
  // finished: no ETA, a full bar
  assert.equal(
    progressLine({ ...state, done: 10, info: "" }, 4),
    "training 100% [####] 10/10 updates  0:12",
  );
  const b = progressBundle(state);
  assert.match(b["text/html"], /width:40\.0%/);
  assert.equal(b["text/plain"], progressLine(state));
});

Deno.test("tty mode rewrites one line with \\r, throttled, and keeps log lines above it", async () => {
  let t = 0;
  const out: string[] = [];
  const bar = new ProgressBar({
    label: "x",
    total: 4,
    mode: "tty",
    minIntervalMs: 100,
    write: (s) => out.push(s),
    now: () => t,
  });
  bar.update(1); // first draw
  t = 50;
  bar.update(2); // throttled
  t = 200;
  bar.update(3); // drawn
  bar.log("a log line");
  await bar.finish();
  const draws = out.filter((s) => s.startsWith("\r"));
  assert.equal(draws.length, 4, JSON.stringify(out)); // 1, 3, the log line, the final
  assert.match(draws[0], /1\/4/);
  assert.match(draws[1], /3\/4 steps {2}0:00 < 0:00/);
  assert.equal(draws[2], "\r\x1b[2Ka log line\n");
  assert.match(out.at(-2)!, /3\/4/); // the final state
  assert.equal(out.at(-1), "\n");
  assert.ok(!out.some((s) => s.includes("2/4")), "a throttled update was drawn");
});

Deno.test("lines mode prints at most one line per 10% and the final state once", async () => {
  const out: string[] = [];
  const bar = new ProgressBar({ total: 100, mode: "lines", write: (s) => out.push(s) });
  for (let i = 1; i <= 100; i++) bar.update(i);
  await bar.finish();
  assert.equal(out.length, 11, out.join("")); // 1% (decile 0), 10%, ..., 100%
  assert.match(out.at(-1)!, /100\/100/);
});

Deno.test("notebook mode: one display_data, then update_display_data with the same display_id", async () => {
  const msgs: { type: string; content: Record<string, unknown> }[] = [];
  let t = 0;
  const p = trainingProgress("training", {
    broadcast: (type, content) => {
      msgs.push({ type, content });
      return Promise.resolve();
    },
    minIntervalMs: 0,
    now: () => (t += 1000),
  });
  assert.equal(p.bar.mode, "notebook");
  for (let step = 1; step <= 3; step++) {
    p.onProgress({
      step,
      totalSteps: 3,
      epoch: 0,
      loss: 3 - step,
      samplesPerSec: 256,
      etaSec: 3 - step,
    });
  }
  p.log("train: a line the notebook does not need"); // dropped in a notebook
  await p.finish();
  assert.deepEqual(msgs.map((m) => m.type), [
    "display_data",
    "update_display_data",
    "update_display_data",
    "update_display_data",
  ]);
  const ids = new Set(msgs.map((m) => (m.content.transient as { display_id: string }).display_id));
  assert.equal(ids.size, 1);
  const last = (msgs.at(-1)!.content.data as Record<string, string>)["text/plain"];
  assert.match(
    last,
    /^training 100% \[#+\] 3\/3 updates {2}0:0\d {2}epoch 1, loss 0\.000, 256 samples\/s$/,
  );
});

Deno.test("a bar that never drew stays silent at finish (a cached step)", async () => {
  const out: string[] = [];
  const bar = new ProgressBar({ mode: "tty", write: (s) => out.push(s) });
  await bar.finish("cached");
  assert.deepEqual(out, []);
});
