/**
 * The SQLite store: the only code that talks to better-sqlite3 and the SQLite Drizzle schema.
 *
 * better-sqlite3 is synchronous, and Drizzle's SQLite transactions do not roll back an async
 * callback, so the adapter is two layers: SqliteSync does every query synchronously, and
 * SqliteStore exposes it through the asynchronous Store contract. A transaction is BEGIN
 * IMMEDIATE … COMMIT around an async body that is serialised: while one is open, operations
 * from outside it wait (they share the one connection, and must neither see its uncommitted
 * rows nor join it), and a second transaction queues behind it. A throw rolls back.
 */
import type { Statement } from "better-sqlite3";
import { and, desc, eq, getTableColumns, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { openDatabase, type Db } from "../../../db/client";
import {
  alertDeliveries,
  clients,
  flows,
  flowTasks,
  logs,
  runs,
  schedules,
  taskRuns,
  taskStats,
  workers,
  type AlertDeliveryRow,
  type FlowRow,
  type FlowTaskRow,
  type RunRow,
  type ScheduleRow,
  type TaskRunRow,
  type TaskStatRow,
  type WorkerRow,
  type WorkerFlowRow,
  workerFlows,
} from "../../../db/schema";
import type {
  ArtifactRecord,
  AlertAttemptRecord,
  AlertDeliveryRecord,
  ApiTokenRecord,
  ConcurrencyLimitRecord,
  DeliveryFilter,
  DeliveryOutcome,
  DestinationHealthRecord,
  NewAlertDelivery,
  ConcurrencySlotRecord,
  VariableRecord,
  NewArtifact,
  LoginFailureRecord,
  NewLog,
  NewRun,
  NewSchedule,
  NewSlot,
  NewTaskRun,
  RunFilter,
  RunPage,
  RunningTaskRecord as RunningTaskRow,
  NewUser,
  SessionRecord,
  SlotListingRecord,
  UserRecord,
} from "../../domain/records";
import type { RunState } from "../../domain/states";
import type { Sensitivity } from "../../domain/states";
import { LOGIN_FAILURE_UPSERT, accessRows } from "../access-rows";
import type { Store, StoreOps } from "../store";
import type { FlowRunSummaryRecord, FlowRunPoint, RunCountsRecord } from "../../domain/records";

/** A history probe counts at most this many matches of one filter: enough to rank them. */
const PROBE_CAPS = [1000, 5000];

/** The synchronous twin of each store operation (same arguments, plain results). */
type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never };

export class SqliteSync implements Sync<StoreOps> {
  private readonly claimStmt;
  private readonly claimLimitedStmt;
  private readonly insertLogStmt;
  private readonly recentStmt;
  private readonly getRunStmt;
  private readonly listTaskRunsStmt;
  private readonly getTaskStatStmt;
  private readonly getTaskStatsStmt;
  private readonly getFlowStmt;
  private readonly listFlowTasksStmt;
  private readonly insertRunTagStmt;
  private readonly firstIdFromStmt;
  private readonly lastIdToStmt;
  /** Statements built from a row's keys (updates, inserts) and from a history query's shape. */
  private readonly shaped = new Map<string, Statement>();

  constructor(private readonly db: Db) {
    const raw = db.$client;
    // Prepared once: these run on every poll, trigger, event batch and task completion. Going
    // through Drizzle's query builder would rebuild the SQL and re-prepare it on every call,
    // which profiling showed to be most of the engine's time per request.
    this.claimStmt = raw.prepare(
      // Only runs of flows this worker registered, at the version the run was triggered with:
      // a worker never receives a run it cannot execute (or would execute with other code).
      `UPDATE runs SET state = 'RUNNING', worker_id = @workerId, claimed_at = @now, started_at = @now, unreported_beats = 0
       WHERE id IN (
         SELECT r.id FROM runs r
         JOIN worker_flows wf ON wf.worker_id = @workerId AND wf.flow_id = r.flow_id AND wf.version = r.flow_version
         WHERE r.client_id = @clientId AND r.state = 'PENDING' AND r.limited = 0
           AND (r.serial = 0 OR NOT EXISTS (
             SELECT 1 FROM runs p WHERE p.schedule_id = r.schedule_id AND p.id < r.id AND p.state IN ('PENDING', 'RUNNING')))
         ORDER BY r.id LIMIT @max)
         AND state = 'PENDING'
       RETURNING *`,
    );
    // Runs of flows with max_active_runs: per flow, only as many as its free slots (the oldest
    // first). Its own statement, so the common claim never pays for the window.
    this.claimLimitedStmt = raw.prepare(
      `UPDATE runs SET state = 'RUNNING', worker_id = @workerId, claimed_at = @now, started_at = @now, unreported_beats = 0
       WHERE id IN (
         SELECT c.id FROM (
           SELECT r.id, r.flow_id, f.max_active_runs AS lim, ROW_NUMBER() OVER (PARTITION BY r.flow_id ORDER BY r.id) AS k
           FROM runs r
           JOIN worker_flows wf ON wf.worker_id = @workerId AND wf.flow_id = r.flow_id AND wf.version = r.flow_version
           JOIN flows f ON f.id = r.flow_id
           WHERE r.client_id = @clientId AND r.state = 'PENDING' AND r.limited
             AND (r.serial = 0 OR NOT EXISTS (
               SELECT 1 FROM runs p WHERE p.schedule_id = r.schedule_id AND p.id < r.id AND p.state IN ('PENDING', 'RUNNING')))
         ) c
         WHERE c.lim IS NULL OR c.k <= c.lim - (SELECT count(*) FROM runs x WHERE x.flow_id = c.flow_id AND x.state = 'RUNNING')
         ORDER BY c.id LIMIT @max)
         AND state = 'PENDING'
       RETURNING *`,
    );
    this.insertLogStmt = raw.prepare(`INSERT INTO logs (run_id, task_run_id, seq, level, message, ts) VALUES (?, ?, ?, ?, ?, ?)`);
    this.recentStmt = raw.prepare(
      `SELECT duration_ms AS d FROM task_runs
       WHERE flow_id = ? AND name = ? AND state = 'COMPLETED' AND duration_ms IS NOT NULL
       ORDER BY ended_at DESC LIMIT ?`,
    ).pluck();
    this.getRunStmt = raw.prepare(`SELECT * FROM runs WHERE id = ?`);
    this.listTaskRunsStmt = raw.prepare(`SELECT * FROM task_runs WHERE run_id = ? ORDER BY position`);
    this.getTaskStatStmt = raw.prepare(`SELECT * FROM task_stats WHERE flow_id = ? AND task_name = ?`);
    this.getTaskStatsStmt = raw.prepare(`SELECT * FROM task_stats WHERE flow_id = ?`);
    this.getFlowStmt = raw.prepare(`SELECT * FROM flows WHERE id = ?`);
    this.listFlowTasksStmt = raw.prepare(`SELECT * FROM flow_tasks WHERE flow_id = ? ORDER BY position`);
    this.insertRunTagStmt = raw.prepare(`INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)`);
    this.firstIdFromStmt = raw.prepare(`SELECT id FROM runs WHERE created_at >= ? ORDER BY created_at LIMIT 1`).pluck();
    this.lastIdToStmt = raw.prepare(`SELECT id FROM runs WHERE created_at <= ? ORDER BY created_at DESC LIMIT 1`).pluck();
  }

  /** A statement cached by a key; the cache is bounded (shapes come from user filters). */
  private stmt(key: string, build: () => string): Statement {
    let st = this.shaped.get(key);
    if (!st) {
      if (this.shaped.size >= 500) this.shaped.clear();
      st = this.db.$client.prepare(build());
      this.shaped.set(key, st);
    }
    return st;
  }

  /** UPDATE table SET <the patch's columns> WHERE id = ?, prepared once per set of columns. */
  private update<T extends object>(codec: RowCodec<T>, id: number, patch: Partial<T>): void {
    // Like Drizzle's set(): undefined values and keys that are not columns are left out.
    const keys = Object.keys(patch).filter((k) => k !== "id" && codec.has(k) && (patch as Record<string, unknown>)[k] !== undefined) as (keyof T & string)[];
    if (!keys.length) return;
    const st = this.stmt(`u:${codec.table}:${keys.join(",")}`, () => `UPDATE "${codec.table}" SET ${keys.map((k) => `"${codec.column(k)}" = ?`).join(", ")} WHERE id = ?`);
    st.run(...keys.map((k) => codec.toDriver(k, patch[k])), id);
  }

  /** INSERT of one row (every key given), prepared once per set of columns. */
  private insert<T extends object>(codec: RowCodec<T>, row: Partial<T>, returning: boolean): number {
    const keys = Object.keys(row).filter((k) => codec.has(k) && (row as Record<string, unknown>)[k] !== undefined) as (keyof T & string)[];
    const st = this.stmt(`i:${codec.table}:${keys.join(",")}:${returning}`, () =>
      `INSERT INTO "${codec.table}" (${keys.map((k) => `"${codec.column(k)}"`).join(", ")}) VALUES (${keys.map(() => "?").join(", ")})${returning ? " RETURNING id" : ""}`,
    );
    const values = keys.map((k) => codec.toDriver(k, row[k]));
    return returning ? (st.pluck().get(...values) as number) : (st.run(...values), 0);
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
    this.db.update(workers).set({ lastSeenAt: at }).where(and(eq(workers.id, id), lt(workers.lastSeenAt, at))).run();
  }
  listWorkers(clientId?: string) {
    return this.db.select().from(workers).where(clientId ? eq(workers.clientId, clientId) : undefined).orderBy(desc(workers.lastSeenAt)).all();
  }

  upsertFlow(given: Omit<FlowRow, "id">): number {
    // User keys arrive in null-prototype objects (so "__proto__" is data); Drizzle's value
    // checks need ordinary ones: a JSON round trip keeps every key as an own property.
    const f = { ...given, tags: plainJson(given.tags), parameters: plainJson(given.parameters) };
    const row = this.db
      .insert(flows)
      .values(f)
      .onConflictDoUpdate({
        target: [flows.clientId, flows.name],
        set: { description: f.description, tags: f.tags, parameters: f.parameters, version: f.version, maxActiveRuns: f.maxActiveRuns, updatedAt: f.updatedAt },
      })
      .returning({ id: flows.id })
      .get();
    return row.id;
  }
  replaceFlowTasks(flowId: number, tasks: { position: number; name: string; estimatedTime: number | null; description: string }[]): void {
    this.db.delete(flowTasks).where(eq(flowTasks.flowId, flowId)).run();
    if (tasks.length) this.db.insert(flowTasks).values(tasks.map((t) => ({ ...t, flowId }))).run();
  }
  replaceWorkerFlows(workerId: string, served: { flowId: number; version: string }[]): void {
    this.db.delete(workerFlows).where(eq(workerFlows.workerId, workerId)).run();
    if (served.length) this.db.insert(workerFlows).values(served.map((s) => ({ workerId, ...s }))).run();
  }
  listWorkerFlows(flowIds: number[]): WorkerFlowRow[] {
    if (!flowIds.length) return [];
    return this.db.select().from(workerFlows).where(inArray(workerFlows.flowId, flowIds)).all();
  }
  listFlowsOfWorker(workerId: string): WorkerFlowRow[] {
    return this.db.select().from(workerFlows).where(eq(workerFlows.workerId, workerId)).all();
  }
  deleteWorkersSeenBefore(before: number): string[] {
    return this.db.delete(workers).where(lt(workers.lastSeenAt, before)).returning({ id: workers.id }).all().map((w) => w.id);
  }
  deleteWorker(id: string): boolean {
    return this.db.delete(workers).where(eq(workers.id, id)).run().changes > 0;
  }
  getFlow(id: number) {
    const r = this.getFlowStmt.get(id) as Record<string, unknown> | undefined;
    return r && FLOW.fromDriver(r);
  }
  listFlows(nameContains?: string) {
    const where = nameContains ? sql`instr(lower(${flows.name}), lower(${nameContains})) > 0` : undefined;
    return this.db.select().from(flows).where(where).orderBy(flows.name).all();
  }
  listFlowsPage(q: { name?: string; after?: { name: string; id: number }; limit: number }) {
    const where: SQL[] = [];
    if (q.name) where.push(sql`instr(lower(${flows.name}), lower(${q.name})) > 0`);
    if (q.after) where.push(sql`(${flows.name} > ${q.after.name} OR (${flows.name} = ${q.after.name} AND ${flows.id} > ${q.after.id}))`);
    return this.db.select().from(flows).where(and(...where)).orderBy(flows.name, flows.id).limit(q.limit).all();
  }
  countFlowsByClient(): Map<string, number> {
    const rows = this.db.select({ clientId: flows.clientId, n: sql<number>`count(*)` }).from(flows).groupBy(flows.clientId).all();
    return new Map(rows.map((r) => [r.clientId, r.n]));
  }
  listFlowTasks(flowIds: number[]) {
    if (!flowIds.length) return [];
    if (flowIds.length === 1) return (this.listFlowTasksStmt.all(flowIds[0]) as Record<string, unknown>[]).map((r) => FLOW_TASK.fromDriver(r));
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
    return this.insert(RUN, run, true);
  }
  insertRunTags(runId: number, tags: Record<string, string>): void {
    for (const key of Object.keys(tags)) this.insertRunTagStmt.run(runId, key, tags[key]);
  }
  getRun(id: number) {
    const r = this.getRunStmt.get(id) as Record<string, unknown> | undefined;
    return r && RUN.fromDriver(r);
  }
  getRunForUpdate(id: number) {
    // BEGIN IMMEDIATE already holds the database's write lock: the row cannot change under us.
    return this.getRun(id);
  }
  updateRun(id: number, patch: Partial<RunRow>): void {
    this.update(RUN, id, patch);
  }
  updateRunIf(id: number, from: RunRow["state"], patch: Partial<RunRow>): boolean {
    const cur = this.getRun(id);
    if (!cur || cur.state !== from) return false;
    this.update(RUN, id, patch);
    return true;
  }
  claimPendingRuns(clientId: string, workerId: string, max: number, now: number): RunRow[] {
    const rows = this.claimStmt.all({ clientId, workerId, now, max }) as Record<string, unknown>[];
    // One connection, one synchronous call: nothing can claim in between, so counting a flow's
    // RUNNING runs and claiming up to its limit is exact.
    if (rows.length < max) rows.push(...(this.claimLimitedStmt.all({ clientId, workerId, now, max: max - rows.length }) as Record<string, unknown>[]));
    return rows.map((r) => RUN.fromDriver(r)).sort((a, b) => a.id - b.id);
  }

  /**
   * History: newest first, keyset-paginated by id. With a million runs the plan matters more
   * than anything else, and SQLite's planner (no statistics) guesses wrong both ways: it sorts
   * every run of a common tag or client (a second), or walks a common tag's index in order
   * while a rare state filter rejects almost every row. So the driver is chosen here: every
   * filter with an index that yields its runs in id order — (state, id), (client_id, id),
   * (flow_id, id), run_tags (key, value, run_id) — is a candidate; with several, a capped
   * count inside the id window picks the sparsest, and the query is pinned to it (INDEXED BY,
   * CROSS JOIN). The other filters are checked per row; other tags through the
   * (run_id, key) primary key. Either way a page reads few rows and never sorts the table.
   */
  listRuns(q: RunFilter): RunPage {
    const empty: RunPage = { runs: [], nextCursor: null };
    // Ids grow with creation time, so date bounds become an id window the indexes can use.
    let lo = 0;
    let hi = Number.MAX_SAFE_INTEGER;
    if (q.from !== undefined) {
      const id = this.firstIdFromStmt.get(q.from) as number | undefined;
      if (id === undefined) return empty;
      lo = id;
    }
    if (q.to !== undefined) {
      const id = this.lastIdToStmt.get(q.to) as number | undefined;
      if (id === undefined) return empty;
      hi = id;
    }
    if (q.cursor) hi = Math.min(hi, Number(q.cursor) - 1);
    if (lo > hi) return empty;
    let flowIds: number[] | null = null;
    if (q.flow) flowIds = this.listFlows(q.flow).map((f) => f.id);
    if (q.flowId) flowIds = (flowIds ?? [Number(q.flowId)]).filter((id) => id === Number(q.flowId));
    if (flowIds && !flowIds.length) return empty;
    const states = [...new Set(q.state)];
    const tags = q.tag;

    const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ");
    type Filter = { index: string | null; sql: string; params: unknown[]; probe?: string; probeParams?: unknown[] };
    // Each filter: its condition on `runs`, and (when it can drive) its index and capped probe.
    // Bounds are written as >= / <= : a BETWEEN next to the join term loses its upper bound.
    const filters: Filter[] = [];
    if (states.length) {
      filters.push({
        index: "runs_state_idx",
        sql: `runs.state IN (${marks(states.length)})`,
        params: states,
        probe: `SELECT 1 FROM runs INDEXED BY runs_state_idx WHERE state IN (${marks(states.length)}) AND id >= ? AND id <= ?`,
        probeParams: states,
      });
    }
    if (q.client) {
      filters.push({
        index: "runs_client_idx",
        sql: "runs.client_id = ?",
        params: [q.client],
        probe: "SELECT 1 FROM runs INDEXED BY runs_client_idx WHERE client_id = ? AND id >= ? AND id <= ?",
        probeParams: [q.client],
      });
    }
    if (flowIds) {
      filters.push({
        index: "runs_flow_idx",
        sql: `runs.flow_id IN (${marks(flowIds.length)})`,
        params: flowIds,
        probe: `SELECT 1 FROM runs INDEXED BY runs_flow_idx WHERE flow_id IN (${marks(flowIds.length)}) AND id >= ? AND id <= ?`,
        probeParams: flowIds,
      });
    }
    for (const t of tags) {
      filters.push({
        index: "run_tags_kv_idx",
        sql: "EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = runs.id AND t.key = ? AND t.value = ?)",
        params: [t.key, t.value],
        probe: "SELECT 1 FROM run_tags INDEXED BY run_tags_kv_idx WHERE key = ? AND value = ? AND run_id >= ? AND run_id <= ?",
        probeParams: [t.key, t.value],
      });
    }
    const triggers = [...new Set(q.trigger ?? [])];
    const checked: Filter[] = [];
    if (triggers.length) checked.push({ index: null, sql: `runs."trigger" IN (${marks(triggers.length)})`, params: triggers });
    if (q.scheduleId !== undefined) checked.push({ index: null, sql: "runs.schedule_id = ?", params: [q.scheduleId] });
    // A run's subflows are few: the partial (parent_run_id) index yields them in id order.
    if (q.parentRunId !== undefined) {
      filters.push({
        index: "runs_parent_idx",
        sql: "runs.parent_run_id = ?",
        params: [q.parentRunId],
        probe: "SELECT 1 FROM runs INDEXED BY runs_parent_idx WHERE parent_run_id = ? AND id >= ? AND id <= ?",
        probeParams: [q.parentRunId],
      });
    }
    // Who triggered: the partial (triggered_by, id) index yields one name's runs in id order.
    if (q.triggeredBy !== undefined) {
      filters.push({
        index: "runs_triggered_by_idx",
        sql: "runs.triggered_by = ?",
        params: [q.triggeredBy],
        probe: "SELECT 1 FROM runs INDEXED BY runs_triggered_by_idx WHERE triggered_by = ? AND id >= ? AND id <= ?",
        probeParams: [q.triggeredBy],
      });
    }
    const dated: Filter[] = [...checked];
    if (q.from !== undefined) dated.push({ index: null, sql: "runs.created_at >= ?", params: [q.from] });
    if (q.to !== undefined) dated.push({ index: null, sql: "runs.created_at <= ?", params: [q.to] });

    // The sparsest candidate inside the window drives; ties keep the order above. Candidates
    // that all reach the cap are counted again with a larger one (a rare tag of 0.1 % beside a
    // common one still hits 1,000 in a million runs).
    let driver = filters.length ? 0 : -1;
    let contenders = filters.map((_, i) => i);
    for (const cap of PROBE_CAPS) {
      if (contenders.length < 2) break;
      const counts = contenders.map((i) => {
        const f = filters[i];
        const st = this.stmt(`probe:${cap}:${f.probe}`, () => `SELECT count(*) FROM (${f.probe} LIMIT ${cap})`).pluck();
        return st.get(...f.probeParams!, lo, hi) as number;
      });
      const least = Math.min(...counts);
      driver = contenders[counts.indexOf(least)];
      contenders = least >= cap ? contenders.filter((_, k) => counts[k] >= cap) : [];
    }
    const limit = q.limit + 1;
    let text: string;
    let params: unknown[];
    if (driver >= 0 && filters[driver].index === "run_tags_kv_idx") {
      // A tag drives: walk its (key, value, run_id) range backwards, one runs row per entry.
      const rest = [...filters.filter((_, i) => i !== driver), ...dated];
      text =
        "SELECT runs.* FROM run_tags d INDEXED BY run_tags_kv_idx CROSS JOIN runs NOT INDEXED " +
        "WHERE d.key = ? AND d.value = ? AND d.run_id >= ? AND d.run_id <= ? AND runs.id = d.run_id" +
        rest.map((f) => ` AND ${f.sql}`).join("") +
        " ORDER BY d.run_id DESC LIMIT ?";
      params = [...filters[driver].params, lo, hi, ...rest.flatMap((f) => f.params), limit];
    } else {
      const all = [...filters, ...dated];
      const from = driver >= 0 ? `runs INDEXED BY ${filters[driver].index}` : "runs";
      text =
        `SELECT runs.* FROM ${from} WHERE runs.id >= ? AND runs.id <= ?` +
        all.map((f) => ` AND ${f.sql}`).join("") +
        " ORDER BY runs.id DESC LIMIT ?";
      params = [lo, hi, ...all.flatMap((f) => f.params), limit];
    }
    const rows = (this.stmt(`list:${text}`, () => text).all(...params) as Record<string, unknown>[]).map((r) => RUN.fromDriver(r));
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
  listActiveRunsOfWorker(workerId: string): RunRow[] {
    return this.db.select().from(runs).where(and(eq(runs.workerId, workerId), eq(runs.state, "RUNNING"))).all();
  }

  insertTaskRuns(rows: NewTaskRun[]): number[] {
    return rows.map((row) => this.insert(TASK_RUN, row, true));
  }
  insertTaskRun(row: NewTaskRun): number {
    return this.insert(TASK_RUN, row, true);
  }
  listTaskRuns(runId: number) {
    return (this.listTaskRunsStmt.all(runId) as Record<string, unknown>[]).map((r) => TASK_RUN.fromDriver(r));
  }
  updateTaskRuns(rows: readonly TaskRunRow[]): void {
    this.db.$client.transaction(() => {
      for (const { id, callIndex, state, reportedProgress, progressChangedAt, startedAt, attemptStartedAt, endedAt, durationMs, attempt, warning, zScore, threshold, stalled, error } of rows) {
        this.updateTaskRun(id, { callIndex, state, reportedProgress, progressChangedAt, startedAt, attemptStartedAt, endedAt, durationMs, attempt, warning, zScore, threshold, stalled, error });
      }
    }).immediate();
  }
  updateTaskRun(id: number, patch: Partial<TaskRunRow>): void {
    this.update(TASK_RUN, id, patch);
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

  insertLogs(rows: NewLog[]): number {
    let last = 0;
    for (const r of rows) last = Number(this.insertLogStmt.run(r.runId, r.taskRunId, r.seq, r.level, r.message, r.ts).lastInsertRowid);
    return last;
  }
  listLogs(runId: number, opts: { after: number; taskRunId?: number; levels: string[]; limit: number; q?: string }) {
    const where: SQL[] = [eq(logs.runId, runId), sql`${logs.id} > ${opts.after}`];
    if (opts.taskRunId !== undefined) where.push(eq(logs.taskRunId, opts.taskRunId));
    if (opts.levels.length) where.push(inArray(logs.level, opts.levels as never[]));
    // Substring, ASCII case-folded (lower() on both sides; instr needs no LIKE escaping).
    if (opts.q) where.push(sql`instr(lower(${logs.message}), lower(${opts.q})) > 0`);
    return this.db.select().from(logs).where(and(...where)).orderBy(logs.id).limit(opts.limit).all();
  }

  getTaskStat(flowId: number, taskName: string) {
    const r = this.getTaskStatStmt.get(flowId, taskName) as Record<string, unknown> | undefined;
    return r && TASK_STAT.fromDriver(r);
  }
  getTaskStats(flowId: number) {
    return (this.getTaskStatsStmt.all(flowId) as Record<string, unknown>[]).map((r) => TASK_STAT.fromDriver(r));
  }
  recentDurations(flowId: number, taskNames: readonly string[], limit: number): Map<string, number[]> {
    return new Map(taskNames.map((name) => [name, this.recentStmt.all(flowId, name, limit) as number[]]));
  }
  upsertTaskStats(rows: readonly TaskStatRow[]): void {
    // Its own savepoint inside a transaction; outside one, BEGIN IMMEDIATE: a deferred
    // transaction that reads before it writes gets SQLITE_BUSY at once (no busy wait) when
    // another connection wrote in between.
    this.db.$client.transaction(() => {
      for (const row of rows) this.upsertTaskStat(row);
    }).immediate();
  }
  private upsertTaskStat(row: TaskStatRow): void {
    const st = this.stmt("upsertTaskStat", () =>
      `INSERT INTO task_stats (flow_id, task_name, client_id, mean, stddev, samples, updated_at, recent, calls_recent, calls_mean) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (flow_id, task_name) DO UPDATE SET client_id = excluded.client_id, mean = excluded.mean, stddev = excluded.stddev,
         samples = excluded.samples, updated_at = excluded.updated_at, recent = excluded.recent
       WHERE task_stats.samples = 0 OR task_stats.updated_at <= excluded.updated_at`,
    );
    st.run(row.flowId, row.taskName, row.clientId, row.mean, row.stddev, row.samples, row.updatedAt, JSON.stringify(row.recent), JSON.stringify(row.callsRecent), row.callsMean);
  }
  /** Records one completed run's call counts (rows may not exist yet: duration stats come later). */
  recordTaskCalls(flowId: number, clientId: string, calls: ReadonlyArray<{ taskName: string; calls: number }>, window: number, now: number): void {
    // Read-modify-write: BEGIN IMMEDIATE outside a transaction (see upsertTaskStats).
    this.db.$client.transaction(() => {
      for (const c of calls) this.recordTaskCall(flowId, c.taskName, clientId, c.calls, window, now);
    }).immediate();
  }
  private recordTaskCall(flowId: number, taskName: string, clientId: string, calls: number, window: number, now: number): void {
    const cur = this.getTaskStat(flowId, taskName);
    const recent = cur ? [...cur.callsRecent] : [];
    recent.push(calls);
    while (recent.length > window) recent.shift();
    const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
    if (cur) {
      this.stmt("taskCalls", () => `UPDATE task_stats SET calls_recent = ?, calls_mean = ? WHERE flow_id = ? AND task_name = ?`).run(JSON.stringify(recent), mean, flowId, taskName);
    } else {
      this.upsertTaskStat({ flowId, taskName, clientId, mean: 0, stddev: 0, samples: 0, updatedAt: now, recent: [], callsRecent: recent, callsMean: mean });
    }
  }
  insertSchedule(row: NewSchedule): number {
    return this.insert(SCHEDULE, row, true);
  }
  getSchedule(id: number) {
    const r = this.stmt("getSchedule", () => `SELECT * FROM schedules WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return r && SCHEDULE.fromDriver(r);
  }
  getScheduleForUpdate(id: number) {
    return this.getSchedule(id);
  }
  listSchedules(flowId: number): ScheduleRow[] {
    const rows = this.stmt("listSchedules", () => `SELECT * FROM schedules WHERE flow_id = ? ORDER BY id`).all(flowId) as Record<string, unknown>[];
    return rows.map((r) => SCHEDULE.fromDriver(r));
  }
  updateSchedule(id: number, patch: Partial<ScheduleRow>): void {
    this.update(SCHEDULE, id, patch);
  }
  deleteSchedule(id: number): void {
    this.stmt("deleteSchedule", () => `DELETE FROM schedules WHERE id = ?`).run(id);
  }
  earliestFireAt(): number | null {
    const v = this.stmt("earliestFireAt", () => `SELECT min(next_fire_at) FROM schedules WHERE next_fire_at IS NOT NULL`).pluck().get();
    return (v as number | null) ?? null;
  }
  lockDueSchedules(now: number, limit: number): ScheduleRow[] {
    // BEGIN IMMEDIATE holds the write lock: no other writer can fire the same rows meanwhile.
    const rows = this.stmt(
      "lockDueSchedules",
      () => `SELECT * FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at, id LIMIT ?`,
    ).all(now, limit) as Record<string, unknown>[];
    return rows.map((r) => SCHEDULE.fromDriver(r));
  }
  insertScheduledRun(run: NewRun): number | null {
    const keys = Object.keys(run).filter((k) => RUN.has(k) && (run as Record<string, unknown>)[k] !== undefined) as (keyof RunRow & string)[];
    const st = this.stmt(`iu:runs:${keys.join(",")}`, () =>
      `INSERT INTO runs (${keys.map((k) => `"${RUN.column(k)}"`).join(", ")}) VALUES (${keys.map(() => "?").join(", ")})
       ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id`,
    );
    const id = st.pluck().get(...keys.map((k) => RUN.toDriver(k, (run as Record<string, unknown>)[k])));
    return (id as number | undefined) ?? null;
  }
  listScheduledFor(scheduleId: number, from: number, to: number): number[] {
    return this.stmt(
      "listScheduledFor",
      () => `SELECT scheduled_for FROM runs WHERE schedule_id = ? AND scheduled_for >= ? AND scheduled_for <= ? ORDER BY scheduled_for`,
    ).pluck().all(scheduleId, from, to) as number[];
  }
  listActiveRunsOfSchedule(scheduleId: number): RunRow[] {
    const rows = this.stmt(
      "listActiveRunsOfSchedule",
      () => `SELECT * FROM runs WHERE schedule_id = ? AND state IN ('PENDING', 'RUNNING') ORDER BY id`,
    ).all(scheduleId) as Record<string, unknown>[];
    return rows.map((r) => RUN.fromDriver(r));
  }

  countRunningRuns(flowId: number): number {
    return this.stmt("countRunningRuns", () => `SELECT count(*) FROM runs WHERE flow_id = ? AND state = 'RUNNING'`).pluck().get(flowId) as number;
  }
  listRetriesOf(runId: number): number[] {
    return this.stmt("listRetriesOf", () => `SELECT id FROM runs WHERE retry_of = ? ORDER BY id`).pluck().all(runId) as number[];
  }
  listChildRuns(parentId: number): RunRow[] {
    const rows = this.stmt("listChildRuns", () => `SELECT * FROM runs INDEXED BY runs_parent_idx WHERE parent_run_id = ? ORDER BY id`).all(parentId) as Record<string, unknown>[];
    return rows.map((r) => RUN.fromDriver(r));
  }
  getChildRun(parentId: number, call: number): RunRow | null {
    const row = this.stmt("getChildRun", () => `SELECT * FROM runs INDEXED BY runs_parent_idx WHERE parent_run_id = ? AND parent_call = ? ORDER BY id LIMIT 1`).get(parentId, call) as
      | Record<string, unknown>
      | undefined;
    return row ? RUN.fromDriver(row) : null;
  }

  listTaskStats(flowIds?: number[]) {
    const where = flowIds ? inArray(taskStats.flowId, flowIds.length ? flowIds : [-1]) : undefined;
    return this.db.select().from(taskStats).where(where).orderBy(taskStats.flowId, taskStats.taskName).all();
  }

  upsertConcurrencyLimit(key: string, limit: number, now: number): ConcurrencyLimitRecord {
    const row = this.stmt(
      "upsertLimit",
      () => `INSERT INTO concurrency_limits (key, "limit", created_at, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET "limit" = excluded."limit", updated_at = excluded.updated_at RETURNING *`,
    ).get(key, limit, now, now) as Record<string, unknown>;
    return limitOf(row);
  }
  getConcurrencyLimit(key: string): ConcurrencyLimitRecord | undefined {
    const row = this.stmt("getLimit", () => `SELECT * FROM concurrency_limits WHERE key = ?`).get(key) as Record<string, unknown> | undefined;
    return row && limitOf(row);
  }
  listConcurrencyLimits(): ConcurrencyLimitRecord[] {
    return (this.stmt("listLimits", () => `SELECT * FROM concurrency_limits ORDER BY key`).all() as Record<string, unknown>[]).map(limitOf);
  }
  deleteConcurrencyLimit(key: string): boolean {
    return this.stmt("deleteLimit", () => `DELETE FROM concurrency_limits WHERE key = ?`).run(key).changes > 0;
  }
  requestSlot(slot: NewSlot, now: number): ConcurrencySlotRecord {
    // Its own savepoint (a plain transaction when called outside one): insert and grant together.
    return this.db.$client.transaction(() => {
      this.stmt(
        "insertSlot",
        () => `INSERT INTO concurrency_slots (key, run_id, call, task_name, client_id, worker_id, state, requested_at)
          VALUES (?, ?, ?, ?, ?, ?, 'WAITING', ?) ON CONFLICT (run_id, call, key) DO NOTHING`,
      ).run(slot.key, slot.runId, slot.call, slot.taskName, slot.clientId, slot.workerId, now);
      this.grantSlots(slot.key, now);
      const row = this.stmt("slotOfCall", () => `SELECT * FROM concurrency_slots WHERE run_id = ? AND call = ? AND key = ?`).get(slot.runId, slot.call, slot.key);
      return slotOf(row as Record<string, unknown>);
    })();
  }
  grantSlots(key: string, now: number): ConcurrencySlotRecord[] {
    // SQLite has one writer at a time: the count and the update below cannot interleave with
    // another grant (the statement is one write, and a transaction around it holds the lock).
    const rows = this.stmt(
      "grantSlots",
      () => `UPDATE concurrency_slots SET state = 'HELD', acquired_at = @now
        WHERE id IN (
          SELECT id FROM concurrency_slots WHERE key = @key AND state = 'WAITING' ORDER BY id
          LIMIT CASE WHEN (SELECT "limit" FROM concurrency_limits WHERE key = @key) IS NULL THEN -1
            ELSE max(0, (SELECT "limit" FROM concurrency_limits WHERE key = @key)
              - (SELECT count(*) FROM concurrency_slots WHERE key = @key AND state = 'HELD')) END)
        RETURNING *`,
    ).all({ key, now }) as Record<string, unknown>[];
    return rows.map(slotOf).sort((a, b) => a.id - b.id);
  }
  getSlot(id: number): ConcurrencySlotRecord | undefined {
    const row = this.stmt("getSlot", () => `SELECT * FROM concurrency_slots WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row && slotOf(row);
  }
  slotPosition(id: number): number {
    return this.stmt(
      "slotPosition",
      () => `SELECT CASE WHEN s.state = 'WAITING' THEN (SELECT count(*) FROM concurrency_slots w WHERE w.key = s.key AND w.state = 'WAITING' AND w.id <= s.id) ELSE 0 END
        FROM concurrency_slots s WHERE s.id = ?`,
    ).pluck().get(id) as number | undefined ?? 0;
  }
  deleteSlot(id: number): ConcurrencySlotRecord | undefined {
    const row = this.stmt("deleteSlot", () => `DELETE FROM concurrency_slots WHERE id = ? RETURNING *`).get(id) as Record<string, unknown> | undefined;
    return row && slotOf(row);
  }
  deleteSlotsOfRun(runId: number): string[] {
    const keys = this.stmt("deleteSlotsOfRun", () => `DELETE FROM concurrency_slots WHERE run_id = ? RETURNING key`).pluck().all(runId) as string[];
    return [...new Set(keys)].sort(byteOrder);
  }
  listSlots(key?: string): SlotListingRecord[] {
    const sqlText = (where: string) => `SELECT s.*, r.flow_name AS run_flow_name, r.state AS run_state, r.worker_id AS run_worker_id
      FROM concurrency_slots s JOIN runs r ON r.id = s.run_id ${where} ORDER BY s.key, s.id`;
    const rows = (key === undefined
      ? this.stmt("listSlots", () => sqlText(""))
          .all()
      : this.stmt("listSlotsOfKey", () => sqlText("WHERE s.key = ?")).all(key)) as Record<string, unknown>[];
    return rows
      .map((r) => ({ ...slotOf(r), flowName: r.run_flow_name as string, runState: r.run_state as RunState, runWorkerId: (r.run_worker_id as string | null) ?? null }))
      .sort((a, b) => byteOrder(a.key, b.key) || a.id - b.id);
  }
  countHeldSlots(): Map<string, number> {
    const rows = this.stmt("countHeld", () => `SELECT key, count(*) AS n FROM concurrency_slots WHERE state = 'HELD' GROUP BY key`).all() as { key: string; n: number }[];
    return new Map(rows.map((r) => [r.key, r.n]));
  }

  insertArtifact(a: NewArtifact): number {
    const r = this.stmt(
      "insertArtifact",
      () => `INSERT INTO artifacts (run_id, task_run_id, key, type, description, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(a.runId, a.taskRunId, a.key, a.type, a.description, JSON.stringify(a.data), a.createdAt, a.updatedAt) as { id: number };
    return r.id;
  }
  getArtifact(id: number): ArtifactRecord | undefined {
    const r = this.stmt("getArtifact", () => `SELECT * FROM artifacts WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return r && artifactOf(r);
  }
  findArtifactByKey(runId: number, key: string): ArtifactRecord | undefined {
    const r = this.stmt("artifactByKey", () => `SELECT * FROM artifacts WHERE run_id = ? AND key = ? ORDER BY id DESC LIMIT 1`).get(runId, key) as
      | Record<string, unknown>
      | undefined;
    return r && artifactOf(r);
  }
  updateArtifact(id: number, patch: { data: unknown; description?: string; updatedAt: number }): boolean {
    return (
      this.stmt(
        "updateArtifact",
        () => `UPDATE artifacts SET data = ?, description = COALESCE(?, description), updated_at = ? WHERE id = ?`,
      ).run(JSON.stringify(patch.data), patch.description ?? null, patch.updatedAt, id).changes > 0
    );
  }
  listArtifacts(runId: number): ArtifactRecord[] {
    return (this.stmt("listArtifacts", () => `SELECT * FROM artifacts WHERE run_id = ? ORDER BY id`).all(runId) as Record<string, unknown>[]).map(artifactOf);
  }
  getVariable(name: string): VariableRecord | undefined {
    const r = this.stmt("getVariable", () => `SELECT * FROM variables WHERE name = ?`).get(name) as Record<string, unknown> | undefined;
    return r && variableOf(r);
  }
  listVariables(): VariableRecord[] {
    return (this.stmt("listVariables", () => `SELECT * FROM variables ORDER BY name`).all() as Record<string, unknown>[]).map(variableOf);
  }
  upsertVariable(name: string, value: unknown, now: number): VariableRecord {
    const r = this.stmt(
      "upsertVariable",
      () => `INSERT INTO variables (name, value, created_at, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at RETURNING *`,
    ).get(name, JSON.stringify(value), now, now) as Record<string, unknown>;
    return variableOf(r);
  }
  deleteVariable(name: string): boolean {
    return this.stmt("deleteVariable", () => `DELETE FROM variables WHERE name = ?`).run(name).changes > 0;
  }
  queueAlertDeliveries(rows: NewAlertDelivery[]): AlertDeliveryRecord[] {
    if (!rows.length) return [];
    // Its own savepoint (a plain transaction when called outside one): the throttle check and
    // the insert see the same rows (SQLite has one writer at a time).
    return this.db.$client.transaction(() => {
      const out: AlertDeliveryRecord[] = [];
      for (const r of rows) {
        const sent =
          r.throttleKey !== null && r.throttleWindowMs > 0 &&
          this.stmt(
            "throttleSent",
            () => `SELECT 1 FROM alert_deliveries WHERE throttle_key = ? AND created_at > ? AND created_at <= ? AND state <> 'THROTTLED' LIMIT 1`,
          ).pluck().get(r.throttleKey, r.createdAt - r.throttleWindowMs, r.createdAt) !== undefined;
        const state = sent ? "THROTTLED" : "PENDING";
        const row = this.stmt(
          "queueDelivery",
          () => `INSERT INTO alert_deliveries (webhook_id, destination_id, event_type, dedupe_key, throttle_key, run_id, flow_name, payload, state, attempts, next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING RETURNING *`,
        ).get(r.webhookId, r.destinationId, r.eventType, r.dedupeKey, r.throttleKey, r.runId, r.flowName, r.payload, state, sent ? null : r.createdAt, r.createdAt) as Record<string, unknown> | undefined;
        if (row) out.push(DELIVERY.fromDriver(row));
      }
      return out;
    })();
  }
  earliestDeliveryAt(): number | null {
    return (this.stmt(
      "earliestDelivery",
      () => `SELECT min(coalesce(max(next_attempt_at, lease_until), next_attempt_at)) FROM alert_deliveries INDEXED BY alert_deliveries_due_idx WHERE state = 'PENDING'`,
    ).pluck().get() as number | null) ?? null;
  }
  claimDueDeliveries(now: number, leaseUntil: number, limit: number): AlertDeliveryRecord[] {
    const rows = this.stmt(
      "claimDeliveries",
      () => `UPDATE alert_deliveries SET lease_until = @leaseUntil
        WHERE id IN (SELECT id FROM alert_deliveries INDEXED BY alert_deliveries_due_idx
          WHERE state = 'PENDING' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
          ORDER BY next_attempt_at, id LIMIT @limit)
          AND state = 'PENDING' AND (lease_until IS NULL OR lease_until <= @now)
        RETURNING *`,
    ).all({ now, leaseUntil, limit }) as Record<string, unknown>[];
    return rows.map((r) => DELIVERY.fromDriver(r)).sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id);
  }
  recordDeliveryAttempt(id: number, lease: number, o: DeliveryOutcome): boolean {
    return this.db.$client.transaction(() => {
      const changed = this.stmt(
        "recordDelivery",
        () => `UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL,
            last_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = CASE WHEN ? = 'DELIVERED' THEN ? ELSE delivered_at END
          WHERE id = ? AND state = 'PENDING' AND lease_until = ?`,
      ).run(o.state, o.nextAttemptAt, o.attempt.at, o.attempt.status, o.attempt.error, o.state, o.attempt.at, id, lease).changes;
      if (!changed) return false;
      this.stmt("insertAttempt", () => `INSERT INTO alert_attempts (delivery_id, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?)`).run(
        id, o.attempt.at, o.attempt.status, o.attempt.error, Math.round(o.attempt.durationMs),
      );
      return true;
    })();
  }
  getDelivery(id: number): AlertDeliveryRecord | undefined {
    const row = this.stmt("getDelivery", () => `SELECT * FROM alert_deliveries WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row && DELIVERY.fromDriver(row);
  }
  listDeliveries(q: DeliveryFilter): AlertDeliveryRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state !== undefined) {
      where.push("state = ?");
      args.push(q.state);
    }
    if (q.destinationId !== undefined) {
      where.push("destination_id = ?");
      args.push(q.destinationId);
    }
    if (q.before !== undefined) {
      where.push("id < ?");
      args.push(q.before);
    }
    const shape = `listDeliveries:${q.state !== undefined}:${q.destinationId !== undefined}:${q.before !== undefined}`;
    const rows = this.stmt(shape, () => `SELECT * FROM alert_deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`).all(
      ...args, q.limit,
    ) as Record<string, unknown>[];
    return rows.map((r) => DELIVERY.fromDriver(r));
  }
  listDeliveryAttempts(deliveryIds: number[]): AlertAttemptRecord[] {
    if (!deliveryIds.length) return [];
    const rows = this.db.$client
      .prepare(`SELECT * FROM alert_attempts WHERE delivery_id IN (${deliveryIds.map(() => "?").join(", ")}) ORDER BY delivery_id, id`)
      .all(...deliveryIds) as Record<string, unknown>[];
    return rows.map(attemptOf);
  }
  destinationHealth(): DestinationHealthRecord[] {
    const rows = this.stmt(
      "destinationHealth",
      () => `SELECT d.destination_id AS id,
          sum(d.state = 'PENDING') AS pending, sum(d.state = 'DELIVERED') AS delivered, sum(d.state = 'DEAD') AS dead, sum(d.state = 'THROTTLED') AS throttled,
          max(d.delivered_at) AS last_success,
          (SELECT max(a.at) FROM alert_attempts a JOIN alert_deliveries x ON x.id = a.delivery_id
            WHERE x.destination_id = d.destination_id AND (a.status IS NULL OR a.status < 200 OR a.status > 299)) AS last_failure
        FROM alert_deliveries d GROUP BY d.destination_id ORDER BY d.destination_id`,
    ).all() as Record<string, unknown>[];
    return rows.map(healthOf);
  }
  countPendingDeliveries(): number {
    return this.stmt("countPendingDeliveries", () => `SELECT count(*) FROM alert_deliveries INDEXED BY alert_deliveries_due_idx WHERE state = 'PENDING'`).pluck().get() as number;
  }
  previousFinishedRunState(flowId: number, beforeId: number): RunState | null {
    return (this.stmt(
      "previousFinished",
      () => `SELECT state FROM runs INDEXED BY runs_flow_idx WHERE flow_id = ? AND id < ? AND state IN ('COMPLETED', 'FAILED') ORDER BY id DESC LIMIT 1`,
    ).pluck().get(flowId, beforeId) as RunState | undefined) ?? null;
  }
  recentRunDurations(flowId: number, beforeId: number, limit: number): number[] {
    return this.stmt(
      "recentRunDurations",
      () => `SELECT ended_at - started_at FROM runs INDEXED BY runs_flow_idx
        WHERE flow_id = ? AND id < ? AND state = 'COMPLETED' AND started_at IS NOT NULL AND ended_at IS NOT NULL ORDER BY id DESC LIMIT ?`,
    ).pluck().all(flowId, beforeId, limit) as number[];
  }
  countActiveRuns(): { flowName: string; state: RunState; count: number }[] {
    const rows = this.stmt(
      "countActiveRuns",
      () => `SELECT flow_name AS flowName, state, count(*) AS count FROM runs INDEXED BY runs_state_idx
        WHERE state IN ('PENDING', 'RUNNING') GROUP BY flow_name, state ORDER BY flow_name, state`,
    ).all() as { flowName: string; state: RunState; count: number }[];
    return rows;
  }
  runCounts(since: number, dueBefore: number): RunCountsRecord {
    const r = this.stmt(
      "runCounts",
      () => `SELECT
        (SELECT count(*) FROM runs INDEXED BY runs_state_idx WHERE state = 'RUNNING') AS running,
        (SELECT count(*) FROM runs INDEXED BY runs_state_idx WHERE state = 'PENDING') AS pending,
        (SELECT count(*) FROM runs INDEXED BY runs_created_idx WHERE created_at >= ? AND state = 'FAILED') AS failedSince,
        (SELECT count(*) FROM runs INDEXED BY runs_state_idx WHERE state = 'PENDING' AND coalesce(scheduled_for, created_at) < ?) AS late`,
    ).get(since, dueBefore) as RunCountsRecord;
    return { running: r.running, pending: r.pending, failedSince: r.failedSince, late: r.late };
  }
  flowRunSummary(flowId: number, since: number, limit: number): FlowRunSummaryRecord {
    const counts = this.stmt(
      "flowRunSummaryCounts",
      () => `SELECT state, count(*) AS n FROM runs INDEXED BY runs_flow_idx WHERE flow_id = ? AND created_at >= ? GROUP BY state`,
    ).all(flowId, since) as { state: RunState; n: number }[];
    const done = `FROM runs INDEXED BY runs_flow_idx WHERE flow_id = ? AND created_at >= ? AND state = 'COMPLETED' AND started_at IS NOT NULL AND ended_at IS NOT NULL`;
    const samples = this.stmt("flowRunSummarySamples", () => `SELECT count(*) ${done}`).pluck().get(flowId, since) as number;
    const at = (p: number) =>
      samples === 0
        ? null
        : (this.stmt("flowRunSummaryRank", () => `SELECT ended_at - started_at AS d ${done} ORDER BY d LIMIT 1 OFFSET ?`)
            .pluck()
            .get(flowId, since, Math.ceil(p * samples) - 1) as number);
    const recent = this.stmt(
      "flowRunSummaryRecent",
      () => `SELECT id, state, created_at AS createdAt, started_at AS startedAt, ended_at AS endedAt FROM runs INDEXED BY runs_flow_idx
        WHERE flow_id = ? AND created_at >= ? ORDER BY id DESC LIMIT ?`,
    ).all(flowId, since, limit) as FlowRunPoint[];
    return {
      counts: Object.fromEntries(counts.map((c) => [c.state, c.n])),
      p50Ms: at(0.5),
      p95Ms: at(0.95),
      samples,
      recent: recent.reverse(),
    };
  }
  // ---------------------------------------------------------------- access control
  countUsers(): number {
    return this.stmt("countUsers", () => `SELECT count(*) FROM users`).pluck().get() as number;
  }
  insertUser(u: NewUser): UserRecord | null {
    const row = this.stmt(
      "insertUser",
      () => `INSERT INTO users (username, password_hash, role, created_at, updated_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (username) DO NOTHING RETURNING *`,
    ).get(u.username, u.passwordHash, u.role, u.createdAt, u.updatedAt, u.lastLoginAt) as Record<string, unknown> | undefined;
    return row ? accessRows.userOf(row) : null;
  }
  getUser(id: number): UserRecord | undefined {
    const row = this.stmt("getUser", () => `SELECT * FROM users WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row && accessRows.userOf(row);
  }
  getUserByName(username: string): UserRecord | undefined {
    const row = this.stmt("getUserByName", () => `SELECT * FROM users WHERE username = ?`).get(username) as Record<string, unknown> | undefined;
    return row && accessRows.userOf(row);
  }
  listUsers(): UserRecord[] {
    return (this.stmt("listUsers", () => `SELECT * FROM users`).all() as Record<string, unknown>[]).map(accessRows.userOf).sort((a, b) => byteOrder(a.username, b.username));
  }
  updateUser(id: number, patch: Partial<Pick<UserRecord, "role" | "passwordHash" | "updatedAt" | "lastLoginAt">>): void {
    const cols: Record<string, string> = { role: "role", passwordHash: "password_hash", updatedAt: "updated_at", lastLoginAt: "last_login_at" };
    const keys = Object.keys(patch).filter((k) => cols[k] && (patch as Record<string, unknown>)[k] !== undefined);
    if (!keys.length) return;
    const text = `UPDATE users SET ${keys.map((k) => `${cols[k]} = ?`).join(", ")} WHERE id = ?`;
    this.stmt(text, () => text).run(...keys.map((k) => (patch as Record<string, unknown>)[k]), id);
  }
  deleteUser(id: number): boolean {
    // Foreign keys are not enforced on every SQLite connection: the sessions go explicitly.
    this.deleteSessionsOfUser(id);
    return this.stmt("deleteUser", () => `DELETE FROM users WHERE id = ?`).run(id).changes > 0;
  }
  lockUsers(): number[] {
    // Inside BEGIN IMMEDIATE the write lock is already held: nothing can change the admins.
    return this.stmt("lockUsers", () => `SELECT id FROM users WHERE role = 'admin' ORDER BY id`).pluck().all() as number[];
  }
  insertSession(x: SessionRecord): void {
    this.stmt("insertSession", () => `INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?)`).run(
      x.idHash,
      x.userId,
      x.createdAt,
      x.expiresAt,
      x.lastSeenAt,
    );
  }
  getSession(idHash: string): { session: SessionRecord; user: UserRecord } | undefined {
    const row = this.stmt(
      "getSession",
      () => `SELECT s.id_hash AS s_id_hash, s.user_id AS s_user_id, s.created_at AS s_created_at, s.expires_at AS s_expires_at, s.last_seen_at AS s_last_seen_at, u.*
        FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
    ).get(idHash) as Record<string, unknown> | undefined;
    return row && { session: accessRows.sessionOf(row), user: accessRows.userOf(row) };
  }
  touchSession(idHash: string, lastSeenAt: number, expiresAt: number): void {
    this.stmt("touchSession", () => `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?`).run(lastSeenAt, expiresAt, idHash);
  }
  deleteSession(idHash: string): void {
    this.stmt("deleteSession", () => `DELETE FROM sessions WHERE id_hash = ?`).run(idHash);
  }
  deleteSessionsOfUser(userId: number): void {
    this.stmt("deleteSessionsOfUser", () => `DELETE FROM sessions WHERE user_id = ?`).run(userId);
  }
  deleteExpiredSessions(now: number): number {
    return this.stmt("deleteExpiredSessions", () => `DELETE FROM sessions WHERE expires_at < ?`).run(now).changes;
  }
  insertApiToken(t: ApiTokenRecord): void {
    this.stmt(
      "insertApiToken",
      () => `INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(t.id, t.name, t.role, t.tokenHash, t.createdBy, t.createdAt, t.lastUsedAt, t.revokedAt);
  }
  getApiToken(id: string): ApiTokenRecord | undefined {
    const row = this.stmt("getApiToken", () => `SELECT * FROM api_tokens WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row && accessRows.tokenOf(row);
  }
  listApiTokens(): ApiTokenRecord[] {
    return (this.stmt("listApiTokens", () => `SELECT * FROM api_tokens ORDER BY created_at DESC, id DESC`).all() as Record<string, unknown>[]).map(accessRows.tokenOf);
  }
  revokeApiToken(id: string, at: number): boolean {
    return this.stmt("revokeApiToken", () => `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).run(at, id).changes > 0;
  }
  touchApiToken(id: string, at: number): void {
    this.stmt("touchApiToken", () => `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`).run(at, id);
  }
  getLoginFailures(keys: string[]): LoginFailureRecord[] {
    if (!keys.length) return [];
    const text = `SELECT * FROM login_failures WHERE key IN (${keys.map(() => "?").join(", ")}) ORDER BY key`;
    return (this.stmt(text, () => text).all(...keys) as Record<string, unknown>[]).map(accessRows.failureOf);
  }
  recordLoginFailure(key: string, now: number, windowMs: number, max: number, lockMs: number): LoginFailureRecord {
    const row = this.stmt("recordLoginFailure", () => LOGIN_FAILURE_UPSERT("@key", "@now", "@windowMs", "@max", "@lockMs")).get({ key, now, windowMs, max, lockMs }) as Record<string, unknown>;
    return accessRows.failureOf(row);
  }
  clearLoginFailures(key: string): void {
    this.stmt("clearLoginFailures", () => `DELETE FROM login_failures WHERE key = ?`).run(key);
  }
}

function artifactOf(r: Record<string, unknown>): ArtifactRecord {
  return {
    id: r.id as number,
    runId: r.run_id as number,
    taskRunId: (r.task_run_id as number | null) ?? null,
    key: (r.key as string | null) ?? null,
    type: r.type as ArtifactRecord["type"],
    description: r.description as string,
    data: JSON.parse(r.data as string) as unknown,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

function variableOf(r: Record<string, unknown>): VariableRecord {
  return { name: r.name as string, value: JSON.parse(r.value as string) as unknown, createdAt: r.created_at as number, updatedAt: r.updated_at as number };
}

function attemptOf(r: Record<string, unknown>): AlertAttemptRecord {
  return {
    id: Number(r.id),
    deliveryId: Number(r.delivery_id),
    at: Number(r.at),
    status: r.status === null || r.status === undefined ? null : Number(r.status),
    error: (r.error as string | null) ?? null,
    durationMs: Number(r.duration_ms),
  };
}

function healthOf(r: Record<string, unknown>): DestinationHealthRecord {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    destinationId: r.id as string,
    pending: Number(r.pending ?? 0),
    delivered: Number(r.delivered ?? 0),
    dead: Number(r.dead ?? 0),
    throttled: Number(r.throttled ?? 0),
    lastSuccessAt: num(r.last_success),
    lastFailureAt: num(r.last_failure),
  };
}


const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function limitOf(r: Record<string, unknown>): ConcurrencyLimitRecord {
  return { key: r.key as string, limit: r.limit as number, createdAt: r.created_at as number, updatedAt: r.updated_at as number };
}

function slotOf(r: Record<string, unknown>): ConcurrencySlotRecord {
  return {
    id: r.id as number,
    key: r.key as string,
    runId: r.run_id as number,
    call: r.call as number,
    taskName: r.task_name as string,
    clientId: r.client_id as string,
    workerId: r.worker_id as string,
    state: r.state as ConcurrencySlotRecord["state"],
    requestedAt: r.requested_at as number,
    acquiredAt: (r.acquired_at as number | null) ?? null,
  };
}

/**
 * Maps rows of raw prepared statements (snake_case columns, driver values) to and from the
 * Drizzle row types, using the schema's own column definitions (so booleans, enums and any
 * future custom column map exactly as Drizzle would map them).
 */
class RowCodec<T extends object> {
  readonly table: string;
  private readonly cols: { key: string; name: string; col: { mapFromDriverValue(v: unknown): unknown; mapToDriverValue(v: unknown): unknown } }[];
  private readonly byKey = new Map<string, RowCodec<T>["cols"][number]>();

  constructor(table: SQLiteTable, name: string) {
    this.table = name;
    this.cols = Object.entries(getTableColumns(table)).map(([key, col]) => ({ key, name: col.name, col }));
    for (const c of this.cols) this.byKey.set(c.key, c);
  }

  fromDriver(raw: Record<string, unknown>): T {
    const out: Record<string, unknown> = {};
    for (const c of this.cols) {
      const v = raw[c.name];
      out[c.key] = v === null || v === undefined ? null : c.col.mapFromDriverValue(v);
    }
    return out as T;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  column(key: string): string {
    const c = this.byKey.get(key);
    if (!c) throw new Error(`${this.table} has no column for ${key}`);
    return c.name;
  }

  toDriver(key: string, value: unknown): unknown {
    return value === null || value === undefined ? null : this.byKey.get(key)!.col.mapToDriverValue(value);
  }
}

const RUN = new RowCodec<RunRow>(runs, "runs");
const TASK_RUN = new RowCodec<TaskRunRow>(taskRuns, "task_runs");
const TASK_STAT = new RowCodec<TaskStatRow>(taskStats, "task_stats");
const FLOW = new RowCodec<FlowRow>(flows, "flows");
const FLOW_TASK = new RowCodec<FlowTaskRow>(flowTasks, "flow_tasks");
const SCHEDULE = new RowCodec<ScheduleRow>(schedules, "schedules");
const DELIVERY = new RowCodec<AlertDeliveryRow>(alertDeliveries, "alert_deliveries");

function plainJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The names of every operation, so the async wrapper is built from the sync twin. */
const OPS: (keyof StoreOps)[] = [
  "upsertClient", "listClients", "touchClient",
  "insertWorker", "getWorker", "touchWorker", "listWorkers", "deleteWorkersSeenBefore", "deleteWorker",
  "replaceWorkerFlows", "listWorkerFlows", "listFlowsOfWorker",
  "upsertFlow", "replaceFlowTasks", "getFlow", "listFlows", "listFlowsPage", "countFlowsByClient", "listFlowTasks", "lastRunsOfFlows",
  "insertRun", "insertRunTags", "getRun", "getRunForUpdate", "updateRun", "updateRunIf", "claimPendingRuns",
  "listRuns", "listRunsInState", "listRunsOfWorker", "listActiveRunsOfWorker",
  "insertTaskRuns", "insertTaskRun", "listTaskRuns", "updateTaskRun", "updateTaskRuns", "listRunningTaskRuns", "countWarnings",
  "insertLogs", "listLogs",
  "getTaskStat", "getTaskStats", "recentDurations", "upsertTaskStats", "recordTaskCalls", "listTaskStats",
  "insertSchedule", "getSchedule", "getScheduleForUpdate", "listSchedules", "updateSchedule", "deleteSchedule",
  "earliestFireAt", "lockDueSchedules", "insertScheduledRun", "listScheduledFor", "listActiveRunsOfSchedule",
  "listRetriesOf", "countRunningRuns", "listChildRuns", "getChildRun",
  "upsertConcurrencyLimit", "getConcurrencyLimit", "listConcurrencyLimits", "deleteConcurrencyLimit",
  "requestSlot", "grantSlots", "getSlot", "slotPosition", "deleteSlot", "deleteSlotsOfRun", "listSlots", "countHeldSlots",
  "insertArtifact", "getArtifact", "findArtifactByKey", "updateArtifact", "listArtifacts",
  "getVariable", "listVariables", "upsertVariable", "deleteVariable",
  "queueAlertDeliveries", "earliestDeliveryAt", "claimDueDeliveries", "recordDeliveryAttempt", "getDelivery", "listDeliveries",
  "listDeliveryAttempts", "destinationHealth", "countPendingDeliveries", "previousFinishedRunState", "recentRunDurations", "countActiveRuns", "flowRunSummary", "runCounts",
  "countUsers", "insertUser", "getUser", "getUserByName", "listUsers", "updateUser", "deleteUser", "lockUsers",
  "insertSession", "getSession", "touchSession", "deleteSession", "deleteSessionsOfUser", "deleteExpiredSessions",
  "insertApiToken", "getApiToken", "listApiTokens", "revokeApiToken", "touchApiToken",
  "getLoginFailures", "recordLoginFailure", "clearLoginFailures",
];

function bind(sync: SqliteSync, idle: () => Promise<void> | null): StoreOps {
  const ops: Record<string, unknown> = {};
  const fns = sync as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of OPS) {
    // The wait and the call happen in one step: nothing can begin a transaction in between.
    // The method is looked up at each call, so a test can make one operation fail.
    ops[name] = async (...args: unknown[]) => {
      for (let wait = idle(); wait; wait = idle()) await wait;
      return fns[name].apply(sync, args);
    };
  }
  return ops as unknown as StoreOps;
}

/** The SQLite Store: the async operations, plus the database and the synchronous twin (tests use it to inject failures). */
export type SqliteStore = Store & { readonly db: Db; readonly sync: SqliteSync };

export function createSqliteStore(db: Db): SqliteStore {
  const sync = new SqliteSync(db);
  /** Resolves when the open transaction (if any) has ended. */
  let open: Promise<void> | null = null;
  // The operations a transaction body gets run at once, inside it; all others wait for it.
  const inside = bind(sync, () => null);
  const outside = bind(sync, () => open);
  const raw = db.$client;
  // Prepared once: exec() parses its text on every call, and a one-event batch is little more
  // than these three statements' worth of work besides its own.
  const begin = raw.prepare("BEGIN IMMEDIATE");
  const commit = raw.prepare("COMMIT");
  const rollback = raw.prepare("ROLLBACK");
  return {
    ...outside,
    dialect: "sqlite",
    db,
    sync,
    async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
      while (open) await open;
      let end!: () => void;
      open = new Promise<void>((r) => (end = r));
      try {
        begin.run();
        try {
          const out = await fn(inside);
          commit.run();
          return out;
        } catch (e) {
          if (raw.inTransaction) rollback.run();
          throw e;
        }
      } finally {
        open = null;
        end();
      }
    },
    async ping(): Promise<void> {
      raw.prepare("SELECT 1").get();
    },
    async close(): Promise<void> {
      while (open) await open;
      raw.close();
    },
  };
}

/** Opens (and migrates) the SQLite file; `:memory:` for tests. */
export function openSqliteStore(file: string): SqliteStore {
  return createSqliteStore(openDatabase(file));
}
