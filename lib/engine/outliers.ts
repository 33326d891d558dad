/**
 * Outlier detection for task durations: pure functions over a baseline (mean, σ, samples).
 * z = (d − μ) / max(σ, 5 % of μ, 1 ms); z ≥ T → SLOW, z ≥ 2T → CRITICAL, T from the client's
 * sensitivity and the sample count. No flag below MIN_SAMPLES.
 */
import type { Sensitivity, Warning } from "../domain/states";

/** The brief's table. Advanced users tune detection here (and only here). */
export const SENSITIVITY_THRESHOLDS: Record<Sensitivity, { belowLargeSample: number; largeSample: number }> = {
  conservative: { belowLargeSample: 7, largeSample: 5 },
  normal: { belowLargeSample: 5, largeSample: 3.3 },
  aggressive: { belowLargeSample: 3, largeSample: 2.5 },
};
export const MIN_SAMPLES = 5;
export const LARGE_SAMPLE = 20;
/** Rolling window of COMPLETED task runs that forms a baseline. */
export const STATS_WINDOW = 100;

export interface Baseline {
  mean: number;
  stddev: number;
  samples: number;
}

export interface Evaluation {
  warning: Warning | null;
  zScore: number;
  threshold: number;
}

/** The threshold T in force, or null when there are too few samples to judge. */
export function thresholdFor(sensitivity: Sensitivity, samples: number): number | null {
  if (samples < MIN_SAMPLES) return null;
  const row = SENSITIVITY_THRESHOLDS[sensitivity];
  return samples < LARGE_SAMPLE ? row.belowLargeSample : row.largeSample;
}

/** σ floored so a perfectly regular task (σ = 0) does not flag on a millisecond of jitter. */
export function flooredSigma(mean: number, stddev: number): number {
  return Math.max(stddev, 0.05 * mean, 1);
}

export function zScore(durationMs: number, baseline: Baseline): number {
  return (durationMs - baseline.mean) / flooredSigma(baseline.mean, baseline.stddev);
}

export function classify(z: number, threshold: number): Warning | null {
  if (z >= 2 * threshold) return "CRITICAL";
  if (z >= threshold) return "SLOW";
  return null;
}

/** Judges a duration (finished, or elapsed so far) against a baseline; null when unjudgeable. */
export function evaluateDuration(
  durationMs: number,
  baseline: Baseline | null | undefined,
  sensitivity: Sensitivity,
): Evaluation | null {
  if (!baseline) return null;
  const threshold = thresholdFor(sensitivity, baseline.samples);
  if (threshold === null) return null;
  const z = zScore(durationMs, baseline);
  return { warning: classify(z, threshold), zScore: z, threshold };
}

/** The duration at which a task would turn CRITICAL: also the stall horizon for frozen progress. */
export function criticalDurationMs(baseline: Baseline, sensitivity: Sensitivity): number | null {
  const threshold = thresholdFor(sensitivity, baseline.samples);
  if (threshold === null) return null;
  return baseline.mean + 2 * threshold * flooredSigma(baseline.mean, baseline.stddev);
}

/** Mean and population σ of a window of durations. */
export function summarize(durations: readonly number[]): Baseline {
  const n = durations.length;
  if (n === 0) return { mean: 0, stddev: 0, samples: 0 };
  let sum = 0;
  for (const d of durations) sum += d;
  const mean = sum / n;
  let sq = 0;
  for (const d of durations) sq += (d - mean) * (d - mean);
  return { mean, stddev: Math.sqrt(sq / n), samples: n };
}

/** Warnings only ever escalate on a task run: SLOW may become CRITICAL, never the reverse. */
export function escalate(current: Warning | null, next: Warning | null): Warning | null {
  if (current === "CRITICAL" || next === "CRITICAL") return "CRITICAL";
  if (current === "SLOW" || next === "SLOW") return "SLOW";
  return null;
}
