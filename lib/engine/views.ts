/** Rows → wire shapes (camelCase, ISO times, string ids). Pure; the engine supplies live figures. */
import type { FlowRecord as FlowRow, FlowTaskRecord as FlowTaskRow, LogRecord as LogRow, RunRecord as RunRow, TaskRunRecord as TaskRunRow, TaskStatRecord as TaskStatRow } from "../domain/records";
import type { FlowView, LogView, RunSummary, TaskRunView, TaskStatView } from "../contracts/dashboard";
import type { Baseline } from "./outliers";
import { criticalDurationMs, flooredSigma, thresholdFor } from "./outliers";
import type { Sensitivity, Warning } from "../domain/states";
import { expectedMs, resolveWeights, taskFraction, type Eta } from "./weighted-progress";

/** Largest time a Date can hold (ms): anything beyond is not a time and reads as null, never a throw. */
const MAX_DATE_MS = 8.64e15;
export const iso = (t: number | null | undefined): string | null =>
  t === null || t === undefined || !Number.isFinite(t) || Math.abs(t) > MAX_DATE_MS ? null : new Date(t).toISOString();


export function runSummary(
  r: RunRow,
  live: { progress?: number; eta?: Eta | null; now: number; warning?: Warning | null; stalled?: boolean; waitingForWorker?: boolean; waitingForSlot?: boolean; graceMs: number },
): RunSummary {
  const eta = live.eta ?? null;
  const lateness = latenessOf(r, live.now, live.graceMs);
  return {
    id: String(r.id),
    flowId: String(r.flowId),
    flowName: r.flowName,
    clientId: r.clientId,
    state: r.state,
    progress: r.state === "COMPLETED" ? 1 : (live.progress ?? r.progress),
    eta: eta ? iso(live.now + eta.remainingMs) : null,
    etaMs: eta ? Math.round(eta.remainingMs) : null,
    etaLowMs: eta ? Math.round(eta.lowMs) : null,
    etaHighMs: eta ? Math.round(eta.highMs) : null,
    parameters: r.parameters,
    tags: r.tags,
    trigger: r.trigger,
    workerId: r.workerId,
    createdAt: iso(r.createdAt)!,
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    durationMs: r.startedAt !== null ? (r.endedAt ?? live.now) - r.startedAt : null,
    error: r.error,
    cancelRequested: r.cancelRequestedAt !== null,
    warning: live.warning ?? null,
    stalled: live.stalled ?? false,
    waitingForWorker: live.waitingForWorker ?? false,
    waitingForSlot: live.waitingForSlot ?? false,
    scheduleId: r.scheduleId === null ? null : String(r.scheduleId),
    retryOf: r.retryOf === null ? null : String(r.retryOf),
    parentRunId: r.parentRunId === null ? null : String(r.parentRunId),
    triggeredBy: r.triggeredBy ?? null,
    cancelledBy: r.cancelledBy ?? null,
    scheduledFor: iso(r.scheduledFor),
    ...lateness,
  };
}

/**
 * A scheduled run is late when it waited longer than the grace period between becoming due
 * (its fire time, or its creation when that came later: a catch-up or a backfill) and
 * starting — or is still waiting. `lateByMs`: how long after it became due it started (or has
 * waited so far): a backfilled run is not "85,000 hours late".
 */
export function latenessOf(r: Pick<RunRow, "scheduledFor" | "createdAt" | "startedAt" | "endedAt" | "state">, now: number, graceMs: number): { late: boolean; lateByMs: number | null } {
  if (r.scheduledFor === null) return { late: false, lateByMs: null };
  const due = Math.max(r.scheduledFor, r.createdAt);
  if (r.state === "PENDING") return { late: now - due > graceMs, lateByMs: Math.max(0, now - due) };
  if (r.startedAt !== null) return { late: r.startedAt - due > graceMs, lateByMs: Math.max(0, r.startedAt - due) };
  return { late: (r.endedAt ?? now) - due > graceMs, lateByMs: null };
}

export function taskRunView(t: TaskRunRow, baseline: Baseline | null, now: number): TaskRunView {
  const input = { state: t.state, weight: t.weight, reportedProgress: t.reportedProgress, startedAt: t.startedAt, baseline };
  return {
    id: String(t.id),
    name: t.name,
    position: t.position,
    state: t.state,
    progress: taskFraction(input, now),
    weight: t.weight,
    startedAt: iso(t.startedAt),
    endedAt: iso(t.endedAt),
    durationMs: t.durationMs ?? (t.state === "RUNNING" && t.startedAt !== null ? now - t.startedAt : null),
    attempt: t.attempt,
    warning: t.warning,
    zScore: t.zScore,
    threshold: t.threshold,
    stalled: t.stalled,
    error: t.error,
    expectedMs: expectedMs(input),
    meanMs: baseline ? baseline.mean : null,
    stddevMs: baseline ? baseline.stddev : null,
    samples: baseline ? baseline.samples : 0,
  };
}

export function flowView(
  f: FlowRow,
  tasks: FlowTaskRow[],
  extra: { online: boolean; clientName: string; lastRun: RunRow | undefined; warnings: number; lastRunWarning: Warning | null },
): FlowView {
  const weights = resolveWeights(tasks.map((t) => t.estimatedTime));
  return {
    id: String(f.id),
    name: f.name,
    description: f.description,
    tags: f.tags,
    clientId: f.clientId,
    clientName: extra.clientName,
    online: extra.online,
    tasks: tasks.map((t, i) => ({ name: t.name, estimatedTime: t.estimatedTime, weight: weights[i], description: t.description })),
    parameters: f.parameters,
    maxActiveRuns: f.maxActiveRuns,
    registeredAt: iso(f.registeredAt)!,
    updatedAt: iso(f.updatedAt)!,
    lastRun: extra.lastRun
      ? {
          id: String(extra.lastRun.id),
          state: extra.lastRun.state,
          createdAt: iso(extra.lastRun.createdAt)!,
          endedAt: iso(extra.lastRun.endedAt),
          progress: extra.lastRun.state === "COMPLETED" ? 1 : extra.lastRun.progress,
          warning: extra.lastRunWarning,
        }
      : null,
    warnings: extra.warnings,
  };
}

export function logView(l: LogRow, taskName: string | null): LogView {
  return {
    id: String(l.id),
    runId: String(l.runId),
    taskRunId: l.taskRunId === null ? null : String(l.taskRunId),
    taskName,
    level: l.level,
    message: l.message,
    ts: iso(l.ts)!,
    seq: l.seq,
  };
}

export function taskStatView(s: TaskStatRow, flowName: string, sensitivity: Sensitivity): TaskStatView {
  const threshold = thresholdFor(sensitivity, s.samples);
  const sigma = flooredSigma(s.mean, s.stddev);
  return {
    flowId: String(s.flowId),
    flowName,
    clientId: s.clientId,
    taskName: s.taskName,
    meanMs: s.mean,
    stddevMs: s.stddev,
    samples: s.samples,
    updatedAt: iso(s.updatedAt)!,
    sensitivity,
    threshold,
    slowAtMs: threshold === null ? null : s.mean + threshold * sigma,
    criticalAtMs: criticalDurationMs(s, sensitivity),
    recentMs: s.recent,
  };
}
