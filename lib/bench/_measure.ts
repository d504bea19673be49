/**
 * The measuring helpers the benchmark's parts share: medians of timed runs, number formats, the
 * machine's name, load and peak memory.
 *
 * @module
 */

/** How many untimed and timed runs a measurement makes. */
export interface RunCounts {
  /** Untimed warm-up runs. */
  warmup: number;
  /** Timed runs (the median is reported). */
  runs: number;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of an empty list");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A measured value with 3 significant digits or so (`1234`, `56.7`, `8.90`); `n/a` for null. */
export function formatValue(x: number | null): string {
  return x === null ? "n/a" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** A ratio written like `1.23x`; `n/a` for null. */
export function formatRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}x`;
}

/**
 * The machine in words, from /proc/cpuinfo and /proc/meminfo: CPU model, cores, widest vector
 * extension, memory (e.g. `AMD EPYC (2 cores, AVX2, 23 GB)`); `unknown` elsewhere.
 */
export function machineName(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const model = info.match(/model name\s*:\s*(.+)/)?.[1]?.trim() ?? "unknown CPU";
    const flags = info.match(/flags\s*:\s*(.+)/)?.[1] ?? "";
    const simd = /\bavx512f\b/.test(flags) ? "AVX-512" : /\bavx2\b/.test(flags) ? "AVX2" : "SSE";
    const kb = Number(Deno.readTextFileSync("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1] ?? 0);
    const cores = navigator.hardwareConcurrency ?? 0;
    return `${model} (${cores} cores, ${simd}, ${Math.round(kb / 2 ** 20)} GB)`;
  } catch {
    return "unknown";
  }
}

/** The load average over 1, 5 and 15 minutes (empty where /proc is missing). */
export function loadavg(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/** The process's peak resident memory (`VmHWM`, all threads) in MB; 0 when unknown. */
export function peakRssMB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current RSS
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** Seconds of each of `runs` calls of `f` after `warmup` untimed ones. */
export async function timeRuns(
  warmup: number,
  runs: number,
  f: () => Promise<unknown>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}
