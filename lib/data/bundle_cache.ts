/**
 * The last bundle a process loaded, kept for the next step that reads the same splits: a
 * reproduction reads the VisDial-sized training split (1.4 GB of float16, 2.8 GB as float32; about
 * 10 s to read and check) for every training seed and again for the gate samples, and with this
 * cache it reads it once. One entry, so at most one bundle's splits stay in memory.
 *
 * @module
 */
import { type Bundle, loadBundle } from "./bundle.ts";

/** Keeps the most recently loaded bundle; see the module documentation. */
export class BundleCache {
  #last: { dir: string; stamp: string; splits: string[]; bundle: Bundle } | null = null;

  /**
   * The bundle in `dir` with at least `splits` loaded: the kept one when it holds them and its
   * `manifest.json` has not changed since, else a fresh {@linkcode loadBundle} of them (and of the
   * kept splits of the same folder, so that two steps asking for different splits of one bundle in
   * turn do not reload each other's).
   */
  async load(dir: string, splits: string[]): Promise<Bundle> {
    const stamp = await _stamp(dir);
    const same = this.#last !== null && this.#last.dir === dir && this.#last.stamp === stamp;
    const kept = same ? this.#last!.splits : [];
    if (same && splits.every((s) => kept.includes(s))) return this.#last!.bundle;
    const want = [...new Set([...kept, ...splits])];
    this.#last = null; // nothing refers to the old arrays while the new ones are read
    const bundle = await loadBundle(dir, { splits: want });
    this.#last = { dir, stamp, splits: want, bundle };
    return bundle;
  }

  /** Forgets the kept bundle. */
  clear(): void {
    this.#last = null;
  }
}

/** The manifest's modification time and size: a new bundle written in the folder changes it. */
async function _stamp(dir: string): Promise<string> {
  try {
    const s = await Deno.stat(`${dir}/manifest.json`);
    return `${s.mtime?.getTime() ?? 0}:${s.size}`;
  } catch {
    return "missing"; // loadBundle then says what is wrong
  }
}
