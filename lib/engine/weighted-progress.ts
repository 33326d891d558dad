/**
 * Weighted progress and ETA of a run: pure functions over its task runs.
 * run.progress = Σ wᵢ·pᵢ / Σ wᵢ; a running task without a reported fraction counts
 * min(elapsed / expected, 0.95), where expected is its historical mean (≥ 5 samples) or its weight.
 */
import { MIN_SAMPLES, type Baseline } from "./outliers";
import type { TaskRunState } from "../domain/states";

export const DEFAULT_TASK_WEIGHT_MS = 1000;
export const RUNNING_CAP = 0.95;

export interface TaskProgressInput {
  /** The task's name: calls of one task share its expected call count. */
  name?: string;
  state: TaskRunState;
  weight: number;
  reportedProgress: number | null;
  startedAt: number | null;
  baseline?: Baseline | null;
}

/** Weights for declared tasks: a task without an estimate weighs the mean of the others, or 1000. */
export function resolveWeights(estimates: readonly (number | null | undefined)[]): number[] {
  const known = estimates.filter((e): e is number => typeof e === "number" && e > 0);
  const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : DEFAULT_TASK_WEIGHT_MS;
  return estimates.map((e) => (typeof e === "number" && e > 0 ? e : fallback));
}

export function expectedMs(task: Pick<TaskProgressInput, "weight" | "baseline">): number {
  const b = task.baseline;
  return b && b.samples >= MIN_SAMPLES && b.mean > 0 ? b.mean : task.weight;
}

export function taskFraction(task: TaskProgressInput, now: number): number {
  switch (task.state) {
    case "COMPLETED":
    case "FAILED":
    case "CANCELLED":
      return 1;
    case "PENDING":
      return 0;
    case "RUNNING": {
      if (task.reportedProgress !== null) return clamp01(task.reportedProgress);
      if (task.startedAt === null) return 0;
      const expected = expectedMs(task);
      return Math.min(Math.max(now - task.startedAt, 0) / Math.max(expected, 1), RUNNING_CAP);
    }
  }
}

/**
 * Calls a run has not made yet but, by its history, will: a task called in a loop (declared
 * once, called 1,000 times) is expected `calls` times, so after its first call the run is at
 * 1/1,000 of that task's share, not done. One entry per task name with its per-call weight.
 */
export function expectedFutureCalls(
  tasks: readonly TaskProgressInput[],
  expectedCalls: ReadonlyMap<string, number> | undefined,
): { weight: number; expected: number; count: number }[] {
  if (!expectedCalls?.size) return [];
  const seen = new Map<string, { n: number; t: TaskProgressInput }>();
  for (const t of tasks) {
    if (t.name === undefined) continue;
    const cur = seen.get(t.name);
    if (cur) cur.n++;
    else seen.set(t.name, { n: 1, t });
  }
  const out: { weight: number; expected: number; count: number }[] = [];
  for (const [name, { n, t }] of seen) {
    const calls = Math.round(expectedCalls.get(name) ?? 1);
    if (calls > n) out.push({ weight: t.weight, expected: expectedMs(t), count: calls - n });
  }
  return out;
}

export function runProgress(tasks: readonly TaskProgressInput[], now: number, expectedCalls?: ReadonlyMap<string, number>): number {
  let num = 0;
  let den = 0;
  for (const t of tasks) {
    num += t.weight * taskFraction(t, now);
    den += t.weight;
  }
  for (const f of expectedFutureCalls(tasks, expectedCalls)) den += f.weight * f.count;
  return den > 0 ? clamp01(num / den) : 0;
}

export interface Eta {
  /** Expected milliseconds left. */
  remainingMs: number;
  /** ±1σ band from the tasks' historical spread (equal to remainingMs without history). */
  lowMs: number;
  highMs: number;
}

/** Remaining time, assuming the flow's tasks run one after another (the SDK runs them in order). */
export function estimateRemaining(tasks: readonly TaskProgressInput[], now: number, expectedCalls?: ReadonlyMap<string, number>): Eta {
  let remaining = 0;
  let variance = 0;
  for (const f of expectedFutureCalls(tasks, expectedCalls)) remaining += f.expected * f.count;
  for (const t of tasks) {
    if (t.state !== "PENDING" && t.state !== "RUNNING") continue;
    const expected = expectedMs(t);
    let left = expected;
    if (t.state === "RUNNING") {
      const elapsed = t.startedAt === null ? 0 : Math.max(now - t.startedAt, 0);
      left = t.reportedProgress !== null && t.reportedProgress > 0
        ? (elapsed / clamp01(t.reportedProgress)) * (1 - clamp01(t.reportedProgress))
        : Math.max(expected - elapsed, 0);
    }
    remaining += left;
    if (t.baseline && t.baseline.samples >= MIN_SAMPLES) variance += t.baseline.stddev ** 2;
  }
  const sigma = Math.sqrt(variance);
  return { remainingMs: remaining, lowMs: Math.max(remaining - sigma, 0), highMs: remaining + sigma };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
