/**
 * A ranking worker: holds one copy of the corpus on its own wasm backend and ranks chunks of
 * queries sent by lib/model/ranking.ts. Started only on the wasm backend, where tfjs runs
 * single-threaded, so that several cores can share one evaluation.
 *
 * Messages in: `{ type: "init", corpusT, dim, size }`, `{ type: "chunk", id, queries, targets }`.
 * Messages out: `{ type: "ready" }`, `{ type: "ranks", id, ranks }`, `{ type: "error", id?, message }`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../runtime/backend.ts";
import { rankChunk } from "./_rank_chunk.ts";

let corpusT: tf.Tensor2D | undefined;
// deno-lint-ignore no-explicit-any
const port = self as any;

port.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      await initBackend("wasm");
      corpusT?.dispose();
      corpusT = tf.tensor2d(m.corpusT as Float32Array, [m.dim, m.size]);
      port.postMessage({ type: "ready" });
    } else if (m.type === "chunk") {
      if (!corpusT) throw new Error("ranking worker: got a chunk before init");
      const ranks = await rankChunk(corpusT, m.queries, m.targets);
      port.postMessage({ type: "ranks", id: m.id, ranks }, [ranks.buffer]);
    }
  } catch (err) {
    port.postMessage({ type: "error", id: m.id, message: String((err as Error)?.message ?? err) });
  }
};
