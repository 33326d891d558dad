/** The one place run changes are announced on the feed (after their transaction committed). */
import type { RunRecord } from "../../domain/records";
import type { RunState } from "../../domain/states";
import type { ChangeFeed } from "../../store/store";

export class RunPublisher {
  constructor(private readonly feed: ChangeFeed) {}

  run(r: Pick<RunRecord, "id" | "flowId" | "state" | "progress">): void {
    this.feed.publish({ kind: "run", runId: String(r.id), flowId: String(r.flowId), state: r.state, progress: r.state === "COMPLETED" ? 1 : r.progress });
  }

  /** A run, the task runs one unit of work changed, and its new log lines. */
  changes(run: Pick<RunRecord, "id" | "flowId" | "state" | "progress">, tasks: { id: number; state: RunState }[], lastLogId: number, logCount: number): void {
    const runId = String(run.id);
    this.run(run);
    for (const t of tasks) this.feed.publish({ kind: "taskRun", runId, taskRunId: String(t.id), state: t.state });
    if (logCount) this.log(run.id, lastLogId, logCount);
  }

  log(runId: number, lastLogId: number, count: number): void {
    this.feed.publish({ kind: "log", runId: String(runId), lastLogId: String(lastLogId), count });
  }
}
