/** The one factory of task-run records. */
import type { NewTaskRun, TaskRunRecord } from "../../domain/records";

/** A declared task at trigger time, or an undeclared one when it starts. */
export function pendingTaskRun(t: Pick<TaskRunRecord, "runId" | "flowId" | "position" | "name" | "weight" | "estimatedTime">): NewTaskRun {
  return {
    ...t,
    callIndex: null,
    state: "PENDING",
    reportedProgress: null,
    progressChangedAt: null,
    startedAt: null,
    attemptStartedAt: null,
    endedAt: null,
    durationMs: null,
    attempt: 1,
    warning: null,
    zScore: null,
    threshold: null,
    stalled: false,
    error: null,
  };
}
