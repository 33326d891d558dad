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

/** BatchHooks plus what statistics do once the batch's transaction has committed. */
export interface StatsHooks extends BatchHooks {
  settle(now: number): Promise<void>;
}

export class StatisticsSystem {
  private readonly refreshing = new Map<number, { next: Set<string>; done: Promise<void> }>();

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
   * A task completed: judged against the stored baseline as the batch read it (the duration
   * that raised a warning is not part of the baseline it was compared with), inside the
   * batch's transaction (the batch writes the task run with its other changes). The window
   * moves after that transaction commits (see StatsHooks.settle).
   */
  judgeCompletion(t: TaskRunRecord, clientId: string, before: Baseline | undefined): void {
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
  }

  /**
   * Recomputes the duration windows of a flow's named tasks from their completed task runs and
   * stores them (two statements), once for every caller that asks while a refresh of the flow
   * is under way: they share the next one, which reads after each of their commits. A window
   * is a summary of task_runs, so a refresh lost to a crash is made good by the next one.
   */
  refreshWindows(flowId: number, clientId: string, names: Iterable<string>): Promise<void> {
    const current = this.refreshing.get(flowId);
    if (current) {
      for (const n of names) current.next.add(n);
      return current.done;
    }
    const entry = { next: new Set(names), done: Promise.resolve() };
    entry.done = (async () => {
      try {
        while (entry.next.size) {
          const batch = [...entry.next];
          entry.next = new Set();
          const now = this.ctx.clock.now();
          const windows = await this.ctx.store.recentDurations(flowId, batch, STATS_WINDOW);
          await this.ctx.store.upsertTaskStats(
            batch.map((taskName) => {
              const window = windows.get(taskName) ?? [];
              const s = summarize(window);
              // Stored unless a refresh that read later got there first (updatedAt guard).
              return { flowId, taskName, clientId, mean: s.mean, stddev: s.stddev, samples: s.samples, updatedAt: now, recent: [...window].reverse(), callsRecent: [], callsMean: 1 };
            }),
          );
        }
      } finally {
        this.refreshing.delete(flowId);
      }
    })();
    this.refreshing.set(flowId, entry);
    return entry.done;
  }

  /** What a RunBatch needs from statistics, bound to one transaction and one run. */
  async hooksFor(tx: StoreOps, run: RunRecord): Promise<StatsHooks> {
    const baselines = await this.baselinesOf(run.flowId, tx);
    const statsChanged: { flowId: number; taskName: string }[] = [];
    const completed = new Set<string>();
    let calls: Map<string, number> | null = null;
    return {
      progress: (r, tasks, now) => this.progress(r, tasks, now, baselines),
      taskCompleted: async (t) => {
        this.judgeCompletion(t, run.clientId, baselines.get(t.name));
        if (!completed.has(t.name)) {
          completed.add(t.name);
          statsChanged.push({ flowId: t.flowId, taskName: t.name });
        }
      },
      runCompleted: async (r, tasks) => {
        calls = new Map<string, number>();
        for (const t of tasks) calls.set(t.name, (calls.get(t.name) ?? 0) + (t.callIndex !== null ? 1 : 0));
      },
      statsChanged,
      // After the batch committed: no statistics row is locked while a batch holds its run,
      // so batches of one flow's runs do not queue behind each other's task_stats rows (on
      // PostgreSQL that queue was most of a batch's time at 8 runs at once).
      settle: async (now) => {
        try {
          if (completed.size) await this.refreshWindows(run.flowId, run.clientId, completed);
          if (calls) await this.ctx.store.recordTaskCalls(run.flowId, run.clientId, [...calls].map(([taskName, n]) => ({ taskName, calls: n })), CALLS_WINDOW, now);
        } catch (e) {
          // The batch is stored; statistics catch up at the task's next completion.
          console.error(`[perfect] statistics of run ${run.id} not updated: ${(e as Error).message}`);
        }
        this.announce(statsChanged);
      },
    };
  }
}
