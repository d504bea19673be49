/**
 * A tiny retrieval problem for the training tests: the text sees the first half of the
 * target's coordinates, the generated image the second half, both noisy; the text's noise
 * shrinks with the round.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import type { TrainData } from "../train.ts";

function _unit(v: Float32Array, off: number, d: number) {
  let n = 0;
  for (let k = 0; k < d; k++) n += v[off + k] ** 2;
  n = Math.sqrt(n) || 1;
  for (let k = 0; k < d; k++) v[off + k] /= n;
}

/** Splits `train` (192 dialogues) and `val` (64) over a corpus of `corpusSize` unit vectors. */
export function tinyTrainData(seed: number, d = 16, rounds = 3, corpusSize = 300): TrainData {
  const rng = new Rng(seed);
  const corpus = new Float32Array(corpusSize * d);
  rng.fillNormal(corpus);
  for (let i = 0; i < corpusSize; i++) _unit(corpus, i * d, d);
  const perm = rng.shuffle(Int32Array.from({ length: corpusSize }, (_, i) => i));
  let used = 0;
  const split = (count: number) => {
    const target = perm.slice(used, used + count);
    used += count;
    const text = new Float32Array(count * rounds * d), gen = new Float32Array(count * rounds * d);
    for (let i = 0; i < count; i++) {
      for (let r = 0; r < rounds; r++) {
        const off = (i * rounds + r) * d, c = target[i] * d;
        for (let k = 0; k < d; k++) {
          const half = k < d / 2;
          text[off + k] = (half ? corpus[c + k] : 0) + rng.normal() * (0.5 / (r + 1));
          gen[off + k] = (half ? 0 : corpus[c + k]) + rng.normal() * 0.3;
        }
        _unit(text, off, d);
        _unit(gen, off, d);
      }
    }
    return { count, text, gen, target };
  };
  return { dim: d, rounds, corpusSize, corpus, splits: { train: split(192), val: split(64) } };
}
