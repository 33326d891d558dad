/**
 * What the change feed carries to dashboards (over SSE) and, with several server instances,
 * between instances. The wire schema is lib/contracts/changes.ts.
 */
export type Change =
  | { kind: "run"; runId: string; flowId: string; state: string; progress: number }
  | { kind: "taskRun"; runId: string; taskRunId: string; state: string }
  | { kind: "log"; runId: string; lastLogId: string; count: number }
  | { kind: "client"; clientId: string; online: boolean }
  | { kind: "flow"; flowId: string; clientId: string }
  | { kind: "stats"; flowId: string; taskName: string }
  | { kind: "schedule"; scheduleId: string; flowId: string }
  /** A concurrency key's limit, holders or line changed. */
  | { kind: "concurrency"; key: string }
  /** An alert delivery was queued, attempted, delivered or given up (the Alerts page's log). */
  | { kind: "alert"; deliveryId: string; destinationId: string; state: string };
