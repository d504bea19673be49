/**
 * Stable hashing of configs: JSON with sorted keys and its SHA-256, the one cache key of the
 * synthetic bundles (lib/data/synthetic/config.ts) and of the training runs
 * (lib/train/config.ts).
 *
 * @module
 */

/** JSON with object keys sorted at every level, so equal configs give equal strings. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** SHA-256 (lower-case hex) of {@linkcode stableJson}`(v)`. */
export async function stableHash(v: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(stableJson(v));
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}
