/**
 * Statistics: each task's rolling duration window (the outlier baseline), its usual number of
 * calls per run, and the weighted progress they imply.
 */
import type { RunRecord, TaskRunRecord, TaskStatRecord } from "../../domain/records";
import { isTerminal } from "../../domain/states";
import type { StoreOps } from "../../store/store";
import { STATS_WINDOW, escalate, evaluateDuration, summarize, type Baseline } from "../outliers";
import { runProgress, type TaskProgressInput } from "../weighted-progress";
import type { EngineContext } from "./context";
import type { BatchHooks } from "./run-batch";

/** How many completed runs' call counts make a task's expected calls per run. */
export const CALLS_WINDOW = 100;

export type Baselines = Map<string, TaskStatRecord>;

export function progressInput(t: TaskRunRecord, baseline: Baseline | undefined): TaskProgressInput {
  // A running task's elapsed time is its current attempt's: a retry starts over.
  const startedAt = t.state === "RUNNING" ? (t.attemptStartedAt ?? t.startedAt) : t.startedAt;
  return { name: t.name, state: t.state, weight: t.weight, reportedProgress: t.reportedProgress, startedAt, baseline };
}

export function expectedCallsOf(stats: Baselines): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, s] of stats) if (s.callsMean > 1) out.set(name, s.callsMean);
  return out;
}

export class StatisticsSystem {
  constructor(private readonly ctx: EngineContext) {}

  /** Announces changed statistics (after their transaction committed). */
  announce(changed: { flowId: number; taskName: string }[]): void {
    for (const c of changed) this.ctx.feed.publish({ kind: "stats", flowId: String(c.flowId), taskName: c.taskName });
  }

  async baselinesOf(flowId: number, ops: StoreOps = this.ctx.store): Promise<Baselines> {
    return new Map((await ops.getTaskStats(flowId)).map((s) => [s.taskName, s]));
  }

  /** Live weighted progress of an active run (never below its high-water mark); an ended run keeps what it reached. */
  progress(run: RunRecord, tasks: TaskRunRecord[], now: number, baselines: Baselines): number {
    if (run.state === "COMPLETED") return 1;
    if (isTerminal(run.state)) return run.progress;
    const p = runProgress(tasks.map((t) => progressInput(t, baselines.get(t.name))), now, expectedCallsOf(baselines));
    return Math.max(p, run.progress);
  }

  /**
   * A task completed: judged against the baseline before it (the duration that raised a warning
   * is not part of the baseline it was compared with), then the window moves.
   */
  async recordCompletion(tx: StoreOps, t: TaskRunRecord, clientId: string, now: number): Promise<void> {
    const before = await tx.getTaskStat(t.flowId, t.name);
    const ev = evaluateDuration(t.durationMs ?? 0, before, this.ctx.clients.sensitivity(clientId));
    if (ev) {
      const warning = escalate(t.warning, ev.warning);
      t.warning = warning;
      // Keep the z-score that raised the (possibly live) warning when it was higher.
      if (ev.zScore >= (t.zScore ?? -Infinity) || warning === ev.warning) {
        t.zScore = ev.zScore;
        t.threshold = ev.threshold;
      }
    }
    const { id, ...patch } = t;
    await tx.updateTaskRun(id, patch);
    const window = await tx.recentDurations(t.flowId, t.name, STATS_WINDOW);
    const s = summarize(window);
    await tx.upsertTaskStat({
      flowId: t.flowId,
      taskName: t.name,
      clientId,
      mean: s.mean,
      stddev: s.stddev,
      samples: s.samples,
      updatedAt: now,
      recent: [...window].reverse(),
      callsRecent: before?.callsRecent ?? [],
      callsMean: before?.callsMean ?? 1,
    });
  }

  /** What a RunBatch needs from statistics, bound to one transaction and one run. */
  async hooksFor(tx: StoreOps, run: RunRecord): Promise<BatchHooks> {
    const baselines = await this.baselinesOf(run.flowId, tx);
    const statsChanged: { flowId: number; taskName: string }[] = [];
    return {
      progress: (r, tasks, now) => this.progress(r, tasks, now, baselines),
      taskCompleted: async (t, now) => {
        await this.recordCompletion(tx, t, run.clientId, now);
        statsChanged.push({ flowId: t.flowId, taskName: t.name });
      },
      runCompleted: (r, tasks, now) => this.recordCalls(tx, r, tasks, now),
      statsChanged,
    };
  }

  /** A completed run teaches each task's usual number of calls per run. */
  async recordCalls(tx: StoreOps, run: RunRecord, tasks: TaskRunRecord[], now: number): Promise<void> {
    const calls = new Map<string, number>();
    for (const t of tasks) calls.set(t.name, (calls.get(t.name) ?? 0) + (t.callIndex !== null ? 1 : 0));
    for (const [name, n] of calls) await tx.recordTaskCalls(run.flowId, name, run.clientId, n, CALLS_WINDOW, now);
  }
}
