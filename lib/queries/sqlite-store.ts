/**
 * The SQLite implementation of the engine's Store: the only code that talks to Drizzle.
 * Writes run inside the engine's BEGIN IMMEDIATE transactions (better-sqlite3 is synchronous,
 * so one transaction is one uninterrupted stretch of the event loop).
 */
import { and, desc, eq, gte, inArray, lt, lte, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../../db/client";
import {
  clients,
  flows,
  flowTasks,
  logs,
  runs,
  runTags,
  taskRuns,
  taskStats,
  workers,
  type FlowRow,
  type RunRow,
  type TaskRunRow,
  type TaskStatRow,
  type WorkerRow,
} from "../../db/schema";
import type { RunListQuery } from "../contracts/dashboard";
import type { NewLog, NewRun, NewTaskRun, RunPage, RunningTaskRow, Store } from "../engine/store";
import type { Sensitivity } from "../engine/states";

export class SqliteStore implements Store {
  private readonly claimStmt;
  private readonly insertLogStmt;
  private readonly recentStmt;

  constructor(private readonly db: Db) {
    // Prepared once: these run on every poll, event batch and task completion.
    this.claimStmt = db.$client.prepare(
      `UPDATE runs SET state = 'RUNNING', worker_id = @workerId, claimed_at = @now, started_at = @now
       WHERE id IN (SELECT id FROM runs WHERE client_id = @clientId AND state = 'PENDING' ORDER BY id LIMIT @max)
         AND state = 'PENDING'
       RETURNING *`,
    );
    this.insertLogStmt = db.$client.prepare(
      `INSERT INTO logs (run_id, task_run_id, seq, level, message, ts) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.recentStmt = db.$client.prepare(
      `SELECT duration_ms AS d FROM task_runs
       WHERE flow_id = ? AND name = ? AND state = 'COMPLETED' AND duration_ms IS NOT NULL
       ORDER BY ended_at DESC LIMIT ?`,
    );
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(() => fn(), { behavior: "immediate" });
  }

  upsertClient(c: { id: string; name: string; sensitivity: Sensitivity }): void {
    this.db
      .insert(clients)
      .values(c)
      .onConflictDoUpdate({ target: clients.id, set: { name: c.name, sensitivity: c.sensitivity } })
      .run();
  }
  listClients() {
    return this.db.select().from(clients).orderBy(clients.id).all();
  }
  touchClient(id: string, at: number): void {
    this.db.update(clients).set({ lastSeenAt: at }).where(eq(clients.id, id)).run();
  }

  insertWorker(w: WorkerRow): void {
    this.db.insert(workers).values(w).run();
  }
  getWorker(id: string) {
    return this.db.select().from(workers).where(eq(workers.id, id)).get();
  }
  touchWorker(id: string, at: number): void {
    this.db.update(workers).set({ lastSeenAt: at }).where(eq(workers.id, id)).run();
  }
  listWorkers() {
    return this.db.select().from(workers).orderBy(desc(workers.lastSeenAt)).all();
  }

  upsertFlow(f: Omit<FlowRow, "id">): number {
    const row = this.db
      .insert(flows)
      .values(f)
      .onConflictDoUpdate({
        target: [flows.clientId, flows.name],
        set: { description: f.description, tags: f.tags, parameters: f.parameters, updatedAt: f.updatedAt },
      })
      .returning({ id: flows.id })
      .get();
    return row.id;
  }
  replaceFlowTasks(flowId: number, tasks: { position: number; name: string; estimatedTime: number | null; description: string }[]): void {
    this.db.delete(flowTasks).where(eq(flowTasks.flowId, flowId)).run();
    if (tasks.length) this.db.insert(flowTasks).values(tasks.map((t) => ({ ...t, flowId }))).run();
  }
  getFlow(id: number) {
    return this.db.select().from(flows).where(eq(flows.id, id)).get();
  }
  listFlows(nameContains?: string) {
    const where = nameContains ? sql`instr(lower(${flows.name}), lower(${nameContains})) > 0` : undefined;
    return this.db.select().from(flows).where(where).orderBy(flows.name).all();
  }
  listFlowTasks(flowIds: number[]) {
    if (!flowIds.length) return [];
    return this.db.select().from(flowTasks).where(inArray(flowTasks.flowId, flowIds)).orderBy(flowTasks.flowId, flowTasks.position).all();
  }
  lastRunsOfFlows(flowIds: number[]): RunRow[] {
    const out: RunRow[] = [];
    for (const id of flowIds) {
      const r = this.db.select().from(runs).where(eq(runs.flowId, id)).orderBy(desc(runs.id)).limit(1).get();
      if (r) out.push(r);
    }
    return out;
  }

  insertRun(run: NewRun): number {
    return this.db.insert(runs).values(run).returning({ id: runs.id }).get().id;
  }
  insertRunTags(runId: number, tags: Record<string, string>): void {
    const rows = Object.entries(tags).map(([key, value]) => ({ runId, key, value }));
    if (rows.length) this.db.insert(runTags).values(rows).run();
  }
  getRun(id: number) {
    return this.db.select().from(runs).where(eq(runs.id, id)).get();
  }
  updateRun(id: number, patch: Partial<RunRow>): void {
    this.db.update(runs).set(patch).where(eq(runs.id, id)).run();
  }
  claimPendingRuns(clientId: string, workerId: string, max: number, now: number): RunRow[] {
    const rows = this.claimStmt.all({ clientId, workerId, now, max }) as Record<string, unknown>[];
    return rows.map(rawRunToRow).sort((a, b) => a.id - b.id);
  }

  listRuns(q: RunListQuery): RunPage {
    const where: SQL[] = [];
    if (q.state.length) where.push(inArray(runs.state, q.state));
    if (q.client) where.push(eq(runs.clientId, q.client));
    if (q.flowId) where.push(eq(runs.flowId, Number(q.flowId)));
    if (q.flow) {
      const ids = this.listFlows(q.flow).map((f) => f.id);
      if (!ids.length) return { runs: [], nextCursor: null };
      where.push(inArray(runs.flowId, ids));
    }
    if (q.from !== undefined) {
      where.push(gte(runs.createdAt, q.from));
      // Ids grow with creation time, so a date bound becomes an id bound the primary key can use.
      const first = this.db.select({ id: runs.id }).from(runs).where(gte(runs.createdAt, q.from)).orderBy(runs.createdAt).limit(1).get();
      if (!first) return { runs: [], nextCursor: null };
      where.push(gte(runs.id, first.id));
    }
    if (q.to !== undefined) {
      where.push(lte(runs.createdAt, q.to));
      const last = this.db.select({ id: runs.id }).from(runs).where(lte(runs.createdAt, q.to)).orderBy(desc(runs.createdAt)).limit(1).get();
      if (!last) return { runs: [], nextCursor: null };
      where.push(lte(runs.id, last.id));
    }
    if (q.cursor) where.push(lt(runs.id, Number(q.cursor)));
    let query = this.db.select({ run: runs }).from(runs).$dynamic();
    // Each tag is a join on the (key, value, run_id) index, which the planner can walk in
    // run-id order: a rare tag is a short range, a common one needs no sort either.
    q.tag.forEach((t, i) => {
      const rt = alias(runTags, `rt${i}`);
      query = query.innerJoin(rt, and(eq(rt.runId, runs.id), eq(rt.key, t.key), eq(rt.value, t.value)));
    });
    const rows = query
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(runs.id))
      .limit(q.limit + 1)
      .all()
      .map((r) => r.run);
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { runs: page, nextCursor: more ? String(page[page.length - 1].id) : null };
  }
  listRunsInState(state: RunRow["state"]) {
    return this.db.select().from(runs).where(eq(runs.state, state)).orderBy(runs.id).all();
  }
  listRunsOfWorker(workerId: string, runIds: number[]): RunRow[] {
    if (!runIds.length) return [];
    return this.db.select().from(runs).where(and(eq(runs.workerId, workerId), inArray(runs.id, runIds))).all();
  }

  insertTaskRuns(rows: NewTaskRun[]): void {
    if (rows.length) this.db.insert(taskRuns).values(rows).run();
  }
  insertTaskRun(row: NewTaskRun): number {
    return this.db.insert(taskRuns).values(row).returning({ id: taskRuns.id }).get().id;
  }
  listTaskRuns(runId: number) {
    return this.db.select().from(taskRuns).where(eq(taskRuns.runId, runId)).orderBy(taskRuns.position).all();
  }
  updateTaskRun(id: number, patch: Partial<TaskRunRow>): void {
    this.db.update(taskRuns).set(patch).where(eq(taskRuns.id, id)).run();
  }
  listRunningTaskRuns(): RunningTaskRow[] {
    return this.db
      .select({ taskRun: taskRuns, clientId: runs.clientId, workerId: runs.workerId })
      .from(taskRuns)
      .innerJoin(runs, eq(runs.id, taskRuns.runId))
      .where(eq(taskRuns.state, "RUNNING"))
      .all();
  }
  countWarnings(runIds: number[]) {
    const out = new Map<number, { warning: "SLOW" | "CRITICAL" | null; stalled: boolean }>();
    if (!runIds.length) return out;
    const rows = this.db
      .select({
        runId: taskRuns.runId,
        critical: sql<number>`max(${taskRuns.warning} = 'CRITICAL')`,
        slow: sql<number>`max(${taskRuns.warning} = 'SLOW')`,
        stalled: sql<number>`max(${taskRuns.stalled})`,
      })
      .from(taskRuns)
      .where(and(inArray(taskRuns.runId, runIds), sql`(${taskRuns.warning} IS NOT NULL OR ${taskRuns.stalled} = 1)`))
      .groupBy(taskRuns.runId)
      .all();
    for (const r of rows) out.set(r.runId, { warning: r.critical ? "CRITICAL" : r.slow ? "SLOW" : null, stalled: !!r.stalled });
    return out;
  }

  insertLogs(rows: NewLog[]): void {
    for (const r of rows) this.insertLogStmt.run(r.runId, r.taskRunId, r.seq, r.level, r.message, r.ts);
  }
  listLogs(runId: number, opts: { after: number; taskRunId?: number; levels: string[]; limit: number }) {
    const where: SQL[] = [eq(logs.runId, runId), sql`${logs.id} > ${opts.after}`];
    if (opts.taskRunId !== undefined) where.push(eq(logs.taskRunId, opts.taskRunId));
    if (opts.levels.length) where.push(inArray(logs.level, opts.levels as never[]));
    return this.db.select().from(logs).where(and(...where)).orderBy(logs.id).limit(opts.limit).all();
  }

  getTaskStat(flowId: number, taskName: string) {
    return this.db.select().from(taskStats).where(and(eq(taskStats.flowId, flowId), eq(taskStats.taskName, taskName))).get();
  }
  getTaskStats(flowId: number) {
    return this.db.select().from(taskStats).where(eq(taskStats.flowId, flowId)).all();
  }
  recentDurations(flowId: number, taskName: string, limit: number): number[] {
    return (this.recentStmt.all(flowId, taskName, limit) as { d: number }[]).map((r) => r.d);
  }
  upsertTaskStat(row: TaskStatRow): void {
    const { flowId, taskName, ...rest } = row;
    this.db.insert(taskStats).values(row).onConflictDoUpdate({ target: [taskStats.flowId, taskStats.taskName], set: rest }).run();
  }
  listTaskStats(flowIds?: number[]) {
    const where = flowIds ? inArray(taskStats.flowId, flowIds.length ? flowIds : [-1]) : undefined;
    return this.db.select().from(taskStats).where(where).orderBy(taskStats.flowId, taskStats.taskName).all();
  }
}

/** RETURNING * from a raw statement gives snake_case columns; map them to the Drizzle row. */
function rawRunToRow(r: Record<string, unknown>): RunRow {
  return {
    id: r.id as number,
    flowId: r.flow_id as number,
    clientId: r.client_id as string,
    flowName: r.flow_name as string,
    state: r.state as RunRow["state"],
    parameters: r.parameters as string,
    tags: r.tags as string,
    trigger: r.trigger as RunRow["trigger"],
    workerId: (r.worker_id as string | null) ?? null,
    createdAt: r.created_at as number,
    claimedAt: (r.claimed_at as number | null) ?? null,
    startedAt: (r.started_at as number | null) ?? null,
    endedAt: (r.ended_at as number | null) ?? null,
    error: (r.error as string | null) ?? null,
    progress: r.progress as number,
    lastSeq: r.last_seq as number,
    cancelRequestedAt: (r.cancel_requested_at as number | null) ?? null,
  };
}
