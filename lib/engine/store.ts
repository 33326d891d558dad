/**
 * What the engine needs from storage. The SQLite implementation lives in lib/queries; a
 * PostgreSQL one (claims with FOR UPDATE SKIP LOCKED) can be added behind the same interface
 * without touching the engine, the routes or the UI.
 */
import type { ClientRow, FlowRow, FlowTaskRow, LogRow, RunRow, TaskRunRow, TaskStatRow, WorkerFlowRow, WorkerRow } from "../../db/schema";
import type { RunListQuery } from "../contracts/dashboard";
import type { Sensitivity } from "../domain/states";

export type NewRun = Omit<RunRow, "id">;
export type NewTaskRun = Omit<TaskRunRow, "id">;
export type NewLog = Omit<LogRow, "id">;

export interface RunningTaskRow {
  taskRun: TaskRunRow;
  clientId: string;
  workerId: string | null;
}

export interface RunPage {
  runs: RunRow[];
  nextCursor: string | null;
}

export interface Store {
  /** Runs fn in one BEGIN IMMEDIATE transaction; a throw rolls everything back. */
  transaction<T>(fn: () => T): T;

  upsertClient(c: { id: string; name: string; sensitivity: Sensitivity }): void;
  listClients(): ClientRow[];
  touchClient(id: string, at: number): void;

  insertWorker(w: WorkerRow): void;
  getWorker(id: string): WorkerRow | undefined;
  touchWorker(id: string, at: number): void;
  listWorkers(): WorkerRow[];

  upsertFlow(f: Omit<FlowRow, "id" | "registeredAt"> & { registeredAt: number }): number;
  replaceFlowTasks(flowId: number, tasks: Omit<FlowTaskRow, "flowId">[]): void;
  /** The flows (and versions) a worker process serves; replaces what it registered before. */
  replaceWorkerFlows(workerId: string, served: { flowId: number; version: string }[]): void;
  listWorkerFlows(flowIds: number[]): WorkerFlowRow[];
  listFlowsOfWorker(workerId: string): WorkerFlowRow[];
  /** Forgets worker processes last seen before `before` (their routing rows go with them). */
  deleteWorkersSeenBefore(before: number): string[];
  getFlow(id: number): FlowRow | undefined;
  listFlows(nameContains?: string): FlowRow[];
  /** Flows ordered by (name, id), after the cursor's flow; `limit` rows at most. */
  listFlowsPage(q: { name?: string; after?: { name: string; id: number }; limit: number }): FlowRow[];
  listFlowTasks(flowIds: number[]): FlowTaskRow[];
  lastRunsOfFlows(flowIds: number[]): RunRow[];

  insertRun(run: NewRun): number;
  insertRunTags(runId: number, tags: Record<string, string>): void;
  getRun(id: number): RunRow | undefined;
  updateRun(id: number, patch: Partial<RunRow>): void;
  claimPendingRuns(clientId: string, workerId: string, max: number, now: number): RunRow[];
  listRuns(q: RunListQuery): RunPage;
  listRunsInState(state: RunRow["state"]): RunRow[];
  listRunsOfWorker(workerId: string, runIds: number[]): RunRow[];
  /** RUNNING runs claimed by a worker (what its heartbeat should list). */
  listActiveRunsOfWorker(workerId: string): RunRow[];

  insertTaskRuns(rows: NewTaskRun[]): void;
  insertTaskRun(row: NewTaskRun): number;
  listTaskRuns(runId: number): TaskRunRow[];
  updateTaskRun(id: number, patch: Partial<TaskRunRow>): void;
  listRunningTaskRuns(): RunningTaskRow[];
  countWarnings(runIds: number[]): Map<number, { warning: "SLOW" | "CRITICAL" | null; stalled: boolean }>;

  /** Returns the id of the last row inserted (0 when rows is empty). */
  insertLogs(rows: NewLog[]): number;
  listLogs(runId: number, opts: { after: number; taskRunId?: number; levels: string[]; limit: number }): LogRow[];

  getTaskStat(flowId: number, taskName: string): TaskStatRow | undefined;
  getTaskStats(flowId: number): TaskStatRow[];
  recentDurations(flowId: number, taskName: string, limit: number): number[];
  upsertTaskStat(row: TaskStatRow): void;
  recordTaskCalls(flowId: number, taskName: string, clientId: string, calls: number, window: number, now: number): void;
  listTaskStats(flowIds?: number[]): TaskStatRow[];
}
