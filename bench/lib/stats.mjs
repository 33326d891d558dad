/** Order statistics over repeated trials: every figure in docs/BENCHMARKS.md is a median and a p99. */

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(samples, p) {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

export function summarize(samples) {
  if (!samples.length) return { n: 0, median: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(Math.max(Math.ceil((p / 100) * sorted.length), 1), sorted.length) - 1];
  return {
    n: sorted.length,
    median: at(50),
    p99: at(99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((s, x) => s + x, 0) / sorted.length,
  };
}

/** Rounds every number in a JSON-able value (results stay readable). */
export function rounded(value, digits = 3) {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(digits)) : v)));
}

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
