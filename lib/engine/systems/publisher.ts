/** The one place run changes are announced on the feed (after their transaction committed). */
import type { RunRecord } from "../../domain/records";
import { isTerminal, type RunState } from "../../domain/states";
import type { ChangeFeed, RunNotifier } from "../../store/store";
import { routeOf } from "./context";

type Announced = Pick<RunRecord, "id" | "flowId" | "state" | "progress" | "clientId" | "flowVersion" | "scheduleId" | "limited">;

export class RunPublisher {
  private readonly slotListeners = new Set<(keys: string[]) => void>();

  constructor(
    private readonly feed: ChangeFeed,
    private readonly notifier: RunNotifier,
  ) {}

  run(r: Announced): void {
    this.feed.publish({ kind: "run", runId: String(r.id), flowId: String(r.flowId), state: r.state, progress: r.state === "COMPLETED" ? 1 : r.progress });
    // The end of a scheduled run may free the next run of its schedule (overlap `queue`), the
    // end of a limited flow's run a slot of its max_active_runs: wake the pollers that serve the
    // flow (a needless wake costs one empty claim). Runs of other flows free nothing.
    if ((r.scheduleId !== null || r.limited) && isTerminal(r.state)) this.notifier.runQueued(r.clientId, 1, routeOf(r.flowId, r.flowVersion));
  }

  /** A run, the task runs one unit of work changed, and its new log lines. */
  changes(run: Announced, tasks: { id: number; state: RunState }[], lastLogId: number, logCount: number): void {
    const runId = String(run.id);
    this.run(run);
    for (const t of tasks) this.feed.publish({ kind: "taskRun", runId, taskRunId: String(t.id), state: t.state });
    if (logCount) this.log(run.id, lastLogId, logCount);
  }

  /** Concurrency keys whose slots changed (freed, granted, requested) or whose limit did. */
  slots(keys: readonly string[]): void {
    if (!keys.length) return;
    for (const l of [...this.slotListeners]) l([...keys]);
    for (const key of keys) this.feed.publish({ kind: "concurrency", key });
  }

  /** This instance's ConcurrencySystem wakes its waiters without the feed's round trip. */
  onSlots(listener: (keys: string[]) => void): () => void {
    this.slotListeners.add(listener);
    return () => this.slotListeners.delete(listener);
  }

  log(runId: number, lastLogId: number, count: number): void {
    this.feed.publish({ kind: "log", runId: String(runId), lastLogId: String(lastLogId), count });
  }
}
