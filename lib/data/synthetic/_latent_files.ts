/**
 * The files that hold a synthetic bundle's latent truths (private to lib/data/synthetic/): per
 * split, `latent/<split>_offscene.npy` (uint8 `[Q, rounds]`, 1 where that round's generation went
 * off-scene) and `latent/<split>_hard.npy` (uint8 `[Q]`, 1 where the target is hard to generate).
 * They sit beside the bundle, are not named by its manifest, and `loadBundle` never reads them.
 *
 * @module
 */
import { encodeNpy, readNpy } from "../npy.ts";
import { writeFileAtomic } from "../../runtime/paths.ts";

/** The latent folder of a bundle. */
export function latentDir(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/latent`;
}

/** Paths of one split's latent files. */
export function latentPaths(dir: string, split: string): { offScene: string; hard: string } {
  const d = latentDir(dir);
  return { offScene: `${d}/${split}_offscene.npy`, hard: `${d}/${split}_hard.npy` };
}

/** Writes one split's latent files (each atomically; `hard` last, so it marks a complete pair). */
export async function writeLatentFiles(
  dir: string,
  split: string,
  rounds: number,
  latent: { hard: Uint8Array; offScene: Uint8Array },
): Promise<void> {
  const q = latent.hard.length;
  if (latent.offScene.length !== q * rounds) {
    throw new Error(
      `latent of '${split}': offScene has ${latent.offScene.length} values, expected ${q} × ${rounds}`,
    );
  }
  await Deno.mkdir(latentDir(dir), { recursive: true });
  const p = latentPaths(dir, split);
  await writeFileAtomic(
    p.offScene,
    encodeNpy({ dtype: "uint8", shape: [q, rounds], data: latent.offScene }),
  );
  await writeFileAtomic(p.hard, encodeNpy({ dtype: "uint8", shape: [q], data: latent.hard }));
}

/** Reads one split's latent files, or undefined when either is missing. */
export async function readLatentFiles(
  dir: string,
  split: string,
): Promise<{ hard: Uint8Array; offScene: Uint8Array; rounds: number } | undefined> {
  const p = latentPaths(dir, split);
  let off: Uint8Array, hard: Uint8Array;
  try {
    [off, hard] = await Promise.all([Deno.readFile(p.offScene), Deno.readFile(p.hard)]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const a = readNpy(off, p.offScene), b = readNpy(hard, p.hard);
  if (a.dtype !== "uint8" || a.shape.length !== 2 || b.dtype !== "uint8" || b.shape.length !== 1) {
    throw new Error(
      `${p.offScene}: expected uint8 [Q, rounds] and ${p.hard} uint8 [Q]; delete the latent/ ` +
        "folder and it is written again",
    );
  }
  if (a.shape[0] !== b.shape[0]) {
    throw new Error(`${p.offScene}: ${a.shape[0]} dialogues but ${p.hard} has ${b.shape[0]}`);
  }
  return { offScene: a.data as Uint8Array, hard: b.data as Uint8Array, rounds: a.shape[1] };
}
