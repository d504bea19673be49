/**
 * A data-parallel training worker: one {@linkcode Replica} on its own wasm backend, driven by
 * {@linkcode ./trainer.ts}. Every request carries an `id`; every reply echoes it, as
 * `{ id, ok: true, ... }` or `{ id, ok: false, message }`. The gradients, their sum, the
 * weights and the AdamW moments live in shared memory (see `shared.ts`).
 *
 * @module
 */
import { initBackend } from "../../runtime/backend.ts";
import { ReplicaHost } from "./shared.ts";

const host = new ReplicaHost();
// deno-lint-ignore no-explicit-any
const port = self as any;

port.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.type === "init") await initBackend("wasm");
    const [reply, transfer] = await host.handle(m);
    port.postMessage({ id: m.id, ok: true, ...reply }, transfer);
  } catch (err) {
    port.postMessage({ id: m.id, ok: false, message: String((err as Error)?.stack ?? err) });
  }
};
