/**
 * One run's task runs, loaded once per unit of work and written back once: applies worker
 * events (and server-side endings) against the transition table. It holds no engine: what it
 * needs beyond its transaction comes in as callbacks.
 */
import type { RunRecord, TaskRunRecord } from "../../domain/records";
import { canTransition, isTerminal, type RunState } from "../../domain/states";
import type { WorkerEvent } from "../../contracts/worker";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid } from "../errors";
import { resolveWeights } from "../weighted-progress";
import { pendingTaskRun } from "./task-runs";

export interface BatchHooks {
  /** Live progress of the run as it stands (its high-water mark included). */
  progress(run: RunRecord, tasks: TaskRunRecord[], now: number): number;
  /** A task run completed: statistics judge and record it (writes it). */
  taskCompleted(t: TaskRunRecord, now: number): Promise<void>;
  /** The run completed: calls per task are learnt. */
  runCompleted(run: RunRecord, tasks: TaskRunRecord[], now: number): Promise<void>;
  /** Statistics this unit of work changed, announced after it commits. */
  readonly statsChanged: { flowId: number; taskName: string }[];
}

export type LogLine = { level: "INFO" | "WARNING" | "ERROR"; message: string; taskRunId: number | null };

export class RunBatch {
  readonly byCall = new Map<number, TaskRunRecord>();
  /** Task runs to write back at flush. */
  private readonly dirty = new Set<number>();
  /** Every task run this batch changed (for the change feed), written already or not. */
  private readonly changed = new Set<number>();
  readonly run: RunRecord;
  /**
   * The latest end of any task run so far. Events apply in the worker's order, so a task that
   * starts after another ended (in seq order) really started after it; their times, corrected
   * by two batches' clock-offset estimates, could say otherwise by the estimates' difference.
   */
  private endFloor = -Infinity;

  constructor(
    private readonly tx: StoreOps,
    run: RunRecord,
    private readonly tasks: TaskRunRecord[],
    private readonly hooks: BatchHooks,
  ) {
    this.run = { ...run };
    for (const t of tasks) {
      if (t.callIndex !== null) this.byCall.set(t.callIndex, t);
      if (t.endedAt !== null && t.endedAt > this.endFloor) this.endFloor = t.endedAt;
    }
  }

  private task(call: number, type: string): TaskRunRecord {
    const t = this.byCall.get(call);
    if (!t) throw invalid("events", `${type} for call ${call} before its task_started`);
    return t;
  }

  private move(t: TaskRunRecord, to: RunState): void {
    if (!canTransition(t.state, to)) {
      throw new PerfectError("conflict", `task run ${t.name} (call ${t.callIndex}) cannot go from ${t.state} to ${to}`, { state: t.state });
    }
    t.state = to;
    this.touched(t);
  }

  private touched(t: TaskRunRecord): void {
    this.dirty.add(t.id);
    this.changed.add(t.id);
  }

  /** Applies one worker event; returns a log line the server writes for it, if any. */
  async apply(e: Exclude<WorkerEvent, { type: "log" }>, ts: number): Promise<LogLine | null> {
    switch (e.type) {
      case "task_started": {
        let t = this.byCall.get(e.call);
        if (!t) {
          t = this.tasks.find((x) => x.callIndex === null && x.state === "PENDING" && x.name === e.task) ?? (await this.addUndeclared(e.task));
          t.callIndex = e.call;
          this.byCall.set(e.call, t);
        }
        this.move(t, "RUNNING");
        const start = Math.max(ts, this.endFloor);
        Object.assign(t, { startedAt: start, attemptStartedAt: start, attempt: e.attempt ?? 1, progressChangedAt: start, reportedProgress: null });
        return null;
      }
      case "task_progress": {
        const t = this.task(e.call, e.type);
        if (t.state !== "RUNNING") return null;
        if (t.reportedProgress !== e.progress) {
          Object.assign(t, { reportedProgress: e.progress, progressChangedAt: ts, stalled: false });
          this.touched(t);
        }
        return null;
      }
      case "task_retrying": {
        const t = this.task(e.call, e.type);
        this.move(t, "RUNNING");
        // A new attempt: live outliers and stalls start over from here (warnings of a failed attempt stay).
        const start = Math.max(ts, this.endFloor);
        Object.assign(t, { attempt: e.attempt, attemptStartedAt: start, reportedProgress: null, progressChangedAt: start });
        return { level: "WARNING", taskRunId: t.id, message: `${t.name}: attempt ${e.attempt} after error: ${e.error ?? "unknown error"}` };
      }
      case "task_completed": {
        const t = this.task(e.call, e.type);
        this.move(t, "COMPLETED");
        this.ended(t, ts, e.durationMs);
        Object.assign(t, { reportedProgress: 1 });
        await this.hooks.taskCompleted(t, ts);
        return null;
      }
      case "task_failed": {
        const t = this.task(e.call, e.type);
        this.move(t, "FAILED");
        this.ended(t, ts, e.durationMs);
        t.error = e.error;
        return null;
      }
      case "run_completed":
        // The worker proposes, the server decides: a cancel answered 200 while the last task
        // ran is honoured, so the run ends CANCELLED, not COMPLETED.
        if (this.run.cancelRequestedAt !== null && !isTerminal(this.run.state)) {
          await this.finishRun("CANCELLED", ts, null);
          return { level: "WARNING", taskRunId: null, message: "run cancelled by request (its last task had already started)" };
        }
        await this.finishRun("COMPLETED", ts, null);
        return null;
      case "run_failed":
        await this.finishRun("FAILED", ts, e.error);
        return null;
      case "run_cancelled":
        await this.finishRun("CANCELLED", ts, null);
        return { level: "WARNING", taskRunId: null, message: "run cancelled by request" };
    }
  }

  /**
   * The worker's monotonic duration of the last attempt is authoritative (a slow first request
   * skews its recorded start, not its span); placed on the server's clock, it never begins
   * before a task that ended ahead of its start, so sequential tasks never overlap.
   */
  private ended(t: TaskRunRecord, ts: number, durationMs: number | null | undefined): void {
    const recordedStart = t.attemptStartedAt ?? t.startedAt;
    const duration = Math.round(durationMs ?? Math.max(ts - (recordedStart ?? ts), 0));
    let attemptStart = ts - duration;
    if (recordedStart !== null && attemptStart < recordedStart) {
      let floor = -Infinity;
      for (const x of this.tasks) if (x !== t && x.endedAt !== null && x.endedAt <= recordedStart && x.endedAt > floor) floor = x.endedAt;
      attemptStart = Math.max(attemptStart, floor);
    }
    const end = Math.max(ts, attemptStart);
    if (end > this.endFloor) this.endFloor = end;
    Object.assign(t, {
      startedAt: t.attempt > 1 && t.startedAt !== null ? Math.min(t.startedAt, attemptStart) : attemptStart,
      attemptStartedAt: attemptStart,
      endedAt: end,
      durationMs: duration,
      stalled: false,
    });
  }

  private async finishRun(to: RunState, ts: number, error: string | null): Promise<void> {
    if (isTerminal(this.run.state)) return; // later events of a finished batch change nothing
    if (!canTransition(this.run.state, to)) {
      throw new PerfectError("conflict", `run cannot go from ${this.run.state} to ${to}`, { state: this.run.state });
    }
    await this.finish(to, ts, error);
  }

  /**
   * Ends the run: its progress is frozen at what it reached (only COMPLETED is 1), then every
   * unfinished task run is closed the way the run ended.
   */
  async finish(to: RunState, ts: number, error: string | null): Promise<void> {
    if (this.run.state === "RUNNING") this.run.progress = this.hooks.progress(this.run, this.tasks, ts);
    if (to === "COMPLETED") {
      this.run.progress = 1;
      await this.hooks.runCompleted(this.run, this.tasks, ts);
    }
    Object.assign(this.run, { state: to, endedAt: ts, error });
    for (const t of this.tasks) {
      if (t.state === "RUNNING") {
        t.state = to === "FAILED" ? "FAILED" : "CANCELLED";
        t.endedAt = ts;
        t.durationMs = t.startedAt !== null ? Math.max(ts - t.startedAt, 0) : null;
        if (to === "FAILED") t.error = t.error ?? error;
        this.touched(t);
      } else if (t.state === "PENDING") {
        t.state = "CANCELLED";
        this.touched(t);
      }
    }
  }

  private async addUndeclared(name: string): Promise<TaskRunRecord> {
    const declared = this.tasks.filter((t) => t.estimatedTime !== null).map((t) => t.estimatedTime);
    const weight = resolveWeights([...declared, null]).at(-1)!;
    const row = pendingTaskRun({
      runId: this.run.id,
      flowId: this.run.flowId,
      position: this.tasks.reduce((m, t) => Math.max(m, t.position), -1) + 1,
      name,
      weight,
      estimatedTime: null,
    });
    const id = await this.tx.insertTaskRun(row);
    const t = { ...row, id };
    this.tasks.push(t);
    return t;
  }

  changedTasks(): TaskRunRecord[] {
    return this.tasks.filter((t) => this.changed.has(t.id));
  }

  /** Writes changed task runs and refreshes the run's progress high-water mark. */
  async flush(now: number): Promise<void> {
    await this.tx.updateTaskRuns(this.tasks.filter((t) => this.dirty.has(t.id)));
    this.dirty.clear();
    if (this.run.state === "RUNNING") this.run.progress = this.hooks.progress(this.run, this.tasks, now);
    if (this.run.state === "COMPLETED") this.run.progress = 1;
  }
}
