/**
 * The monitor, once a second in every instance: forgets long-gone workers, fails the runs of
 * silent ones (each exactly once: conditional updates), publishes clients going offline, and
 * judges running tasks live (SLOW / CRITICAL while they run, stalls) and their progress.
 */
import type { TaskRunRecord, TaskStatRecord } from "../../domain/records";
import type { AlertWork, LostWorker } from "./alerts";
import { criticalDurationMs, escalate, evaluateDuration, type Baseline } from "../outliers";
import type { EngineContext } from "./context";
import type { LifecycleSystem } from "./lifecycle";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";
import type { StatisticsSystem } from "./statistics";

export const HEARTBEAT_LOST = "client heartbeat lost";
/** Without a baseline, a task whose reported progress is frozen this long (or 3× its weight) is stalled. */
export const STALL_FLOOR_MS = 30_000;

export class MonitorSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly lifecycle: LifecycleSystem,
    private readonly stats: StatisticsSystem,
    private readonly publish: RunPublisher,
  ) {}

  async tick(): Promise<void> {
    const now = this.ctx.clock.now();
    await this.presence.refresh();
    await this.presence.forgetGone(now);
    const failed = await this.failSilentWorkers(now);
    this.presence.publishClientTransitions(now);
    await this.reportLostWorkers(now, failed);
    await this.ctx.alerts?.checkLate(now);
    await this.evaluateRunning(now);
  }

  /** Fails the runs of silent workers; the ids failed, per worker. */
  private async failSilentWorkers(now: number): Promise<Map<string, number[]>> {
    const timeout = this.ctx.config.heartbeatTimeoutMs;
    const failed = new Map<string, number[]>();
    for (const r of await this.ctx.store.listRunsInState("RUNNING")) {
      // A claimed run whose worker never spoke again is judged from its claim time.
      const last = Math.max(this.presence.lastSeen(r.workerId), r.claimedAt ?? 0);
      if (now - last <= timeout) continue;
      const done = await this.lifecycle.finishOnServer(r.id, "FAILED", HEARTBEAT_LOST, now,
        `${HEARTBEAT_LOST}: worker ${r.workerId ?? "?"} silent for ${now - last} ms (timeout ${timeout} ms)`);
      if (done && r.workerId !== null) failed.set(r.workerId, [...(failed.get(r.workerId) ?? []), r.id]);
    }
    return failed;
  }

  /** worker.lost for each worker silent past the timeout (read only while a rule listens). */
  private async reportLostWorkers(now: number, failed: Map<string, number[]>): Promise<void> {
    const alerts = this.ctx.alerts;
    if (!alerts) return;
    const lost: LostWorker[] = [];
    if (alerts.registry.listens("worker.lost")) {
      for (const w of await this.ctx.store.listWorkers()) {
        const silent = now - this.presence.lastSeen(w.id);
        if (silent > this.ctx.config.heartbeatTimeoutMs) lost.push({ worker: w, silentForMs: silent, failedRunIds: failed.get(w.id) ?? [] });
      }
    }
    await alerts.workersLost(lost, now);
  }

  private async evaluateRunning(now: number): Promise<void> {
    const running = await this.ctx.store.listRunningTaskRuns();
    if (!running.length) return;
    const baselines = new Map<string, TaskStatRecord | undefined>();
    const changedRuns = new Set<number>();
    const flagged: { runId: number; taskRunId: number; state: string }[] = [];
    const alertWork: AlertWork[] = [];
    await this.ctx.store.transaction(async (tx) => {
      for (const { taskRun: t, clientId, workerId } of running) {
        const attemptStart = t.attemptStartedAt ?? t.startedAt;
        if (attemptStart === null) continue;
        const key = `${t.flowId}\u0000${t.name}`;
        if (!baselines.has(key)) baselines.set(key, await tx.getTaskStat(t.flowId, t.name));
        const baseline = baselines.get(key);
        const sensitivity = this.ctx.clients.sensitivity(clientId);
        const ev = evaluateDuration(now - attemptStart, baseline, sensitivity);
        const warning = escalate(t.warning, ev?.warning ?? null);
        const patch: Partial<TaskRunRecord> = {};
        if (ev && warning !== t.warning) Object.assign(patch, { warning, zScore: ev.zScore, threshold: ev.threshold });
        else if (ev && warning && ev.zScore > (t.zScore ?? -Infinity)) Object.assign(patch, { zScore: ev.zScore, threshold: ev.threshold });
        const stalled = this.isStalled(t, baseline, sensitivity, workerId, now);
        if (stalled !== t.stalled) patch.stalled = stalled;
        if (Object.keys(patch).length) {
          await tx.updateTaskRun(t.id, patch);
          changedRuns.add(t.runId);
          // task.slow / task.critical, live: in the transaction that stores the warning.
          if (ev && patch.warning) {
            const raised = await this.ctx.alerts?.taskWarned(tx, { ...t, ...patch }, patch.warning, ev, baseline, now);
            if (raised) alertWork.push(raised);
          }
          if (patch.warning || patch.stalled !== undefined) flagged.push({ runId: t.runId, taskRunId: t.id, state: t.state });
        }
      }
      // Progress moves with time for running tasks: keep the stored high-water mark current.
      for (const runId of new Set(running.map((r) => r.taskRun.runId))) {
        const run = await tx.getRun(runId);
        if (!run || run.state !== "RUNNING") continue;
        const p = this.stats.progress(run, await tx.listTaskRuns(runId), now, await this.stats.baselinesOf(run.flowId, tx));
        if (p > run.progress + 0.0005) {
          await tx.updateRunIf(runId, "RUNNING", { progress: p });
          changedRuns.add(runId);
          // A subflow's progress is its parent's task call's (between the child's batches too,
          // so a long child task neither freezes the parent's figure nor reads as a stall).
          if (run.parentRunId !== null && run.parentCall !== null) {
            const call = (await tx.listTaskRuns(run.parentRunId)).find((t) => t.callIndex === run.parentCall && t.state === "RUNNING");
            if (call && (call.reportedProgress ?? 0) < p) {
              await tx.updateTaskRun(call.id, { reportedProgress: p, progressChangedAt: now, stalled: false });
              changedRuns.add(run.parentRunId);
            }
          }
        }
      }
    });
    for (const w of alertWork) this.ctx.alerts?.done(w);
    for (const f of flagged) this.ctx.feed.publish({ kind: "taskRun", runId: String(f.runId), taskRunId: String(f.taskRunId), state: f.state });
    for (const runId of changedRuns) {
      const run = await this.ctx.store.getRun(runId);
      if (run) this.publish.run(run);
    }
  }

  /** Frozen progress on a live worker, for longer than the task's CRITICAL duration. */
  private isStalled(t: TaskRunRecord, baseline: Baseline | undefined, sensitivity: Parameters<typeof criticalDurationMs>[1], workerId: string | null, now: number): boolean {
    if (t.reportedProgress === null || t.progressChangedAt === null) return false;
    const alive = now - this.presence.lastSeen(workerId) <= this.ctx.config.heartbeatTimeoutMs;
    if (!alive) return false;
    const horizon = (baseline && criticalDurationMs(baseline, sensitivity)) ?? Math.max(3 * t.weight, STALL_FLOOR_MS);
    return now - t.progressChangedAt > horizon;
  }
}
