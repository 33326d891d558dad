/**
 * The PostgreSQL implementation of the Store: parameterised SQL over a node-postgres pool,
 * answering every query exactly as the SQLite adapter does (same filters, orders, cursors,
 * windows). Hot paths use named prepared statements (parsed and planned once per connection).
 * Text ordering uses COLLATE "C" so names sort byte-wise like SQLite, whatever the cluster's
 * locale. Rows map to the domain records here: int8 → number (a pool-local type parser),
 * jsonb ↔ objects (always sent as JSON text: node-postgres would send a JS array as a
 * PostgreSQL array).
 */
import pg from "pg";
import type {
  ArtifactRecord,
  AlertAttemptRecord,
  AlertDeliveryRecord,
  ApiTokenRecord,
  ClientRecord,
  DeliveryFilter,
  DeliveryOutcome,
  DestinationHealthRecord,
  NewAlertDelivery,
  ConcurrencyLimitRecord,
  ConcurrencySlotRecord,
  FlowRecord,
  FlowRunSummaryRecord,
  RunCountsRecord,
  FlowTaskRecord,
  LogRecord,
  NewArtifact,
  LoginFailureRecord,
  NewLog,
  NewUser,
  NewRun,
  NewSlot,
  NewTaskRun,
  RunFilter,
  RunPage,
  RunRecord,
  RunningTaskRecord,
  NewSchedule,
  ScheduleRecord,
  SessionRecord,
  SlotListingRecord,
  TaskRunRecord,
  TaskStatRecord,
  VariableRecord,
  UserRecord,
  WorkerFlowRecord,
  WorkerRecord,
} from "../../domain/records";
import type { RunState, Sensitivity, Warning } from "../../domain/states";
import type { Store, StoreOps } from "../store";
import { LOGIN_FAILURE_UPSERT, accessRows } from "../access-rows";

/** Anything that runs a query: the pool (autocommit) or one checked-out client (a transaction). */
type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

const INT8_OID = 20;
/**
 * int8 (bigserial ids, ms times, count(*)) as JS numbers, for this pool only: every value we
 * store is below 2^53, and the global parser stays untouched for any other user of pg.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

/**
 * One table's mapping between record keys and columns. `json` keys are jsonb; `ints` are
 * integer/bigint columns: SQLite stores a fractional value given to an integer column as is,
 * PostgreSQL refuses it, so such values are rounded on the way in.
 */
class Codec<T extends object> {
  private readonly columns = new Map<string, string>();
  constructor(
    readonly table: string,
    keys: readonly (keyof T & string)[],
    private readonly json: ReadonlySet<string>,
    private readonly ints: ReadonlySet<string>,
  ) {
    for (const k of keys) this.columns.set(k, snake(k));
  }
  has(key: string): boolean {
    return this.columns.has(key);
  }
  column(key: string): string {
    return this.columns.get(key)!;
  }
  keys(): string[] {
    return [...this.columns.keys()];
  }
  fromRow(row: Record<string, unknown>): T {
    const out: Record<string, unknown> = {};
    for (const [k, c] of this.columns) out[k] = row[c] ?? null;
    return out as T;
  }
  toDriver(key: string, value: unknown): unknown {
    if (value === null || value === undefined) return null;
    if (this.json.has(key)) return JSON.stringify(value);
    if (this.ints.has(key) && typeof value === "number") return Math.round(value);
    return value;
  }
  /** The patch's keys that are columns with a defined value (like Drizzle's set()). */
  patchKeys(patch: object): string[] {
    return Object.keys(patch).filter((k) => k !== "id" && this.has(k) && (patch as Record<string, unknown>)[k] !== undefined);
  }
}

const RUN = new Codec<RunRecord>(
  "runs",
  ["id", "flowId", "clientId", "flowName", "flowVersion", "state", "parameters", "tags", "trigger", "workerId", "createdAt", "claimedAt", "startedAt", "endedAt", "error", "progress", "lastSeq", "cancelRequestedAt", "unreportedBeats", "scheduleId", "scheduledFor", "serial", "limited", "retryOf", "parentRunId", "parentCall", "triggeredBy", "cancelledBy"],
  new Set(["parameters", "tags"]),
  new Set(["flowId", "createdAt", "claimedAt", "startedAt", "endedAt", "lastSeq", "cancelRequestedAt", "unreportedBeats", "scheduleId", "scheduledFor", "retryOf", "parentRunId"]),
);
const SCHEDULE = new Codec<ScheduleRecord>(
  "schedules",
  ["id", "flowId", "source", "codeKey", "cron", "intervalSeconds", "anchor", "timezone", "parameters", "active", "catchup", "overlap", "nextFireAt", "lastFiredFor", "createdAt", "updatedAt"],
  new Set(["parameters"]),
  new Set(["flowId", "intervalSeconds", "anchor", "nextFireAt", "lastFiredFor", "createdAt", "updatedAt"]),
);
const SCHEDULE_INSERT_KEYS = SCHEDULE.keys().filter((k) => k !== "id");
const TASK_RUN = new Codec<TaskRunRecord>(
  "task_runs",
  ["id", "runId", "flowId", "position", "callIndex", "name", "weight", "estimatedTime", "state", "reportedProgress", "progressChangedAt", "startedAt", "attemptStartedAt", "endedAt", "durationMs", "attempt", "warning", "zScore", "threshold", "stalled", "error"],
  new Set(),
  new Set(["runId", "flowId", "position", "callIndex", "estimatedTime", "progressChangedAt", "startedAt", "attemptStartedAt", "endedAt", "durationMs", "attempt"]),
);
const FLOW = new Codec<FlowRecord>(
  "flows",
  ["id", "clientId", "name", "description", "tags", "parameters", "version", "maxActiveRuns", "registeredAt", "updatedAt"],
  new Set(["tags", "parameters"]),
  new Set(["maxActiveRuns", "registeredAt", "updatedAt"]),
);
const FLOW_TASK = new Codec<FlowTaskRecord>("flow_tasks", ["flowId", "position", "name", "estimatedTime", "description"], new Set(), new Set(["flowId", "position", "estimatedTime"]));
const TASK_STAT = new Codec<TaskStatRecord>(
  "task_stats",
  ["flowId", "taskName", "clientId", "mean", "stddev", "samples", "updatedAt", "recent", "callsRecent", "callsMean"],
  new Set(["recent", "callsRecent"]),
  new Set(["flowId", "samples", "updatedAt"]),
);
const WORKER = new Codec<WorkerRecord>("workers", ["id", "clientId", "hostname", "pid", "sdkVersion", "registeredAt", "lastSeenAt"], new Set(), new Set(["pid", "registeredAt", "lastSeenAt"]));
const CLIENT = new Codec<ClientRecord>("clients", ["id", "name", "sensitivity", "lastSeenAt"], new Set(), new Set(["lastSeenAt"]));
const LOG = new Codec<LogRecord>("logs", ["id", "runId", "taskRunId", "seq", "level", "message", "ts"], new Set(), new Set(["runId", "taskRunId", "seq", "ts"]));
const WORKER_FLOW = new Codec<WorkerFlowRecord>("worker_flows", ["workerId", "flowId", "version"], new Set(), new Set(["flowId"]));

const RUN_INSERT_KEYS = RUN.keys().filter((k) => k !== "id");
const TASK_RUN_INSERT_KEYS = TASK_RUN.keys().filter((k) => k !== "id");
/** PostgreSQL array types of task_runs' columns, for the unnest() bulk insert. */
const TASK_RUN_ARRAY_TYPES: Record<string, string> = {
  runId: "bigint[]",
  flowId: "integer[]",
  position: "integer[]",
  callIndex: "integer[]",
  name: "text[]",
  weight: "float8[]",
  estimatedTime: "bigint[]",
  state: "text[]",
  reportedProgress: "float8[]",
  progressChangedAt: "bigint[]",
  startedAt: "bigint[]",
  attemptStartedAt: "bigint[]",
  endedAt: "bigint[]",
  durationMs: "bigint[]",
  attempt: "integer[]",
  warning: "text[]",
  zScore: "float8[]",
  threshold: "float8[]",
  stalled: "boolean[]",
  error: "text[]",
};

const SQL = {
  getRun: { name: "perfect_get_run", text: `SELECT * FROM runs WHERE id = $1` },
  getRunForUpdate: { name: "perfect_get_run_for_update", text: `SELECT * FROM runs WHERE id = $1 FOR UPDATE` },
  insertScheduledRun: {
    name: "perfect_insert_scheduled_run",
    text: `INSERT INTO runs (${RUN_INSERT_KEYS.map((k) => RUN.column(k)).join(", ")}) VALUES (${RUN_INSERT_KEYS.map((_, i) => `$${i + 1}`).join(", ")})
      ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id`,
  },
  insertSchedule: {
    name: "perfect_insert_schedule",
    text: `INSERT INTO schedules (${SCHEDULE_INSERT_KEYS.map((k) => SCHEDULE.column(k)).join(", ")}) VALUES (${SCHEDULE_INSERT_KEYS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
  },
  earliestFireAt: { name: "perfect_earliest_fire_at", text: `SELECT min(next_fire_at) AS t FROM schedules WHERE next_fire_at IS NOT NULL` },
  lockDueSchedules: {
    name: "perfect_lock_due_schedules",
    text: `SELECT * FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 ORDER BY next_fire_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
  },
  insertRun: {
    name: "perfect_insert_run",
    text: `INSERT INTO runs (${RUN_INSERT_KEYS.map((k) => RUN.column(k)).join(", ")}) VALUES (${RUN_INSERT_KEYS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
  },
  // Only runs of flows this worker registered, at the version the run was triggered with.
  // SKIP LOCKED: concurrent claimers (other instances, other polls) each take other rows
  // instead of queueing behind one another. The pick is a CTE (materialised once): as an
  // `IN (subquery … LIMIT)` the planner may rescan the subquery and claim more than max.
  claim: {
    name: "perfect_claim",
    text: `WITH picked AS MATERIALIZED (
        SELECT r.id FROM runs r
        JOIN worker_flows wf ON wf.worker_id = $2 AND wf.flow_id = r.flow_id AND wf.version = r.flow_version
        WHERE r.client_id = $1 AND r.state = 'PENDING' AND NOT r.limited
          AND (NOT r.serial OR NOT EXISTS (
            SELECT 1 FROM runs p WHERE p.schedule_id = r.schedule_id AND p.id < r.id AND p.state IN ('PENDING', 'RUNNING')))
        ORDER BY r.id LIMIT $3
        FOR UPDATE OF r SKIP LOCKED)
      UPDATE runs SET state = 'RUNNING', worker_id = $2, claimed_at = $4, started_at = $4, unreported_beats = 0
      FROM picked WHERE runs.id = picked.id AND runs.state = 'PENDING'
      RETURNING runs.*`,
  },
  anyPendingLimited: {
    name: "perfect_any_pending_limited",
    text: `SELECT 1 FROM runs WHERE client_id = $1 AND state = 'PENDING' AND limited LIMIT 1`,
  },
  // The flows of the pending limited runs this worker could take, locked in id order: claims of
  // one limited flow queue behind each other, so the RUNNING count each reads is exact.
  lockLimitedFlows: {
    name: "perfect_lock_limited_flows",
    text: `SELECT f.id FROM flows f WHERE f.id IN (
        SELECT r.flow_id FROM runs r
        JOIN worker_flows wf ON wf.worker_id = $2 AND wf.flow_id = r.flow_id AND wf.version = r.flow_version
        WHERE r.client_id = $1 AND r.state = 'PENDING' AND r.limited)
      ORDER BY f.id FOR UPDATE OF f`,
  },
  claimLimited: {
    name: "perfect_claim_limited",
    text: `WITH cand AS (
        SELECT r.id, r.flow_id, f.max_active_runs AS lim, row_number() OVER (PARTITION BY r.flow_id ORDER BY r.id) AS k
        FROM runs r
        JOIN worker_flows wf ON wf.worker_id = $2 AND wf.flow_id = r.flow_id AND wf.version = r.flow_version
        JOIN flows f ON f.id = r.flow_id
        WHERE r.client_id = $1 AND r.state = 'PENDING' AND r.limited
          AND (NOT r.serial OR NOT EXISTS (
            SELECT 1 FROM runs p WHERE p.schedule_id = r.schedule_id AND p.id < r.id AND p.state IN ('PENDING', 'RUNNING')))),
      picked AS MATERIALIZED (
        SELECT c.id FROM cand c
        WHERE c.lim IS NULL OR c.k <= c.lim - (SELECT count(*) FROM runs x WHERE x.flow_id = c.flow_id AND x.state = 'RUNNING')
        ORDER BY c.id LIMIT $3)
      UPDATE runs SET state = 'RUNNING', worker_id = $2, claimed_at = $4, started_at = $4, unreported_beats = 0
      FROM picked WHERE runs.id = picked.id AND runs.state = 'PENDING'
      RETURNING runs.*`,
  },
  listTaskRuns: { name: "perfect_list_task_runs", text: `SELECT * FROM task_runs WHERE run_id = $1 ORDER BY position` },
  insertTaskRun: {
    name: "perfect_insert_task_run",
    text: `INSERT INTO task_runs (${TASK_RUN_INSERT_KEYS.map((k) => TASK_RUN.column(k)).join(", ")}) VALUES (${TASK_RUN_INSERT_KEYS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
  },
  insertTaskRuns: {
    name: "perfect_insert_task_runs",
    text: `INSERT INTO task_runs (${TASK_RUN_INSERT_KEYS.map((k) => TASK_RUN.column(k)).join(", ")})
      SELECT * FROM unnest(${TASK_RUN_INSERT_KEYS.map((k, i) => `$${i + 1}::${TASK_RUN_ARRAY_TYPES[k]}`).join(", ")})
      RETURNING id, run_id, position`,
  },
  insertLogs: {
    name: "perfect_insert_logs",
    text: `WITH ins AS (
        INSERT INTO logs (run_id, task_run_id, seq, level, message, ts)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
        RETURNING id)
      SELECT max(id) AS id FROM ins`,
  },
  insertRunTags: {
    name: "perfect_insert_run_tags",
    text: `INSERT INTO run_tags (run_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)`,
  },
  recentDurations: {
    name: "perfect_recent_durations",
    // One index range (task_runs_stats_idx) per named task, in one round trip.
    text: `SELECT k.name, d.duration_ms AS d FROM unnest($2::text[]) WITH ORDINALITY AS k(name, o)
      CROSS JOIN LATERAL (
        SELECT duration_ms, ended_at FROM task_runs
        WHERE flow_id = $1 AND name = k.name AND state = 'COMPLETED' AND duration_ms IS NOT NULL
        ORDER BY ended_at DESC LIMIT $3) d
      ORDER BY k.o, d.ended_at DESC`,
  },
  getTaskStat: { name: "perfect_get_task_stat", text: `SELECT * FROM task_stats WHERE flow_id = $1 AND task_name = $2` },
  updateTaskRuns: {
    name: "perfect_update_task_runs",
    text: `UPDATE task_runs AS t SET call_index = u.ci, state = u.st, reported_progress = u.rp, progress_changed_at = u.pc,
        started_at = u.sa, attempt_started_at = u.asa, ended_at = u.ea, duration_ms = u.dm, attempt = u.at, warning = u.w,
        z_score = u.z, threshold = u.th, stalled = u.sl, error = u.er
      FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                  $10::int[], $11::text[], $12::float8[], $13::float8[], $14::bool[], $15::text[])
        AS u(id, ci, st, rp, pc, sa, asa, ea, dm, at, w, z, th, sl, er)
      WHERE t.id = u.id`,
  },
  insertCallsRows: {
    name: "perfect_insert_calls_rows",
    text: `INSERT INTO task_stats (flow_id, task_name, client_id, mean, stddev, samples, updated_at, recent, calls_recent, calls_mean)
      SELECT $1, n, $2, 0, 0, 0, $3, '[]', '[]', 1 FROM unnest($4::text[]) AS t(n) ORDER BY n COLLATE "C"
      ON CONFLICT (flow_id, task_name) DO NOTHING`,
  },
  lockTaskStats: {
    name: "perfect_lock_task_stats",
    text: `SELECT task_name, calls_recent FROM task_stats WHERE flow_id = $1 AND task_name = ANY($2::text[]) ORDER BY task_name COLLATE "C" FOR UPDATE`,
  },
  updateCalls: {
    name: "perfect_update_calls",
    text: `UPDATE task_stats AS s SET calls_recent = u.r::jsonb, calls_mean = u.m
      FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(n, r, m) WHERE s.flow_id = $1 AND s.task_name = u.n`,
  },
  getTaskStats: { name: "perfect_get_task_stats", text: `SELECT * FROM task_stats WHERE flow_id = $1 ORDER BY task_name COLLATE "C"` },
  upsertTaskStats: {
    name: "perfect_upsert_task_stats",
    // Rows in one order (task name, bytewise) in every statement that locks several: two
    // refreshes of one flow's tasks cannot deadlock.
    text: `INSERT INTO task_stats (flow_id, task_name, client_id, mean, stddev, samples, updated_at, recent, calls_recent, calls_mean)
      SELECT f, n, c, m, s, k, u, r::jsonb, cr::jsonb, cm
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::int[], $7::bigint[], $8::text[], $9::text[], $10::float8[])
        AS t(f, n, c, m, s, k, u, r, cr, cm)
      ORDER BY f, n COLLATE "C"
      ON CONFLICT (flow_id, task_name) DO UPDATE SET client_id = excluded.client_id, mean = excluded.mean, stddev = excluded.stddev,
        samples = excluded.samples, updated_at = excluded.updated_at, recent = excluded.recent
      WHERE task_stats.samples = 0 OR task_stats.updated_at <= excluded.updated_at`,
  },
  getFlow: { name: "perfect_get_flow", text: `SELECT * FROM flows WHERE id = $1` },
  listFlowTasks: { name: "perfect_list_flow_tasks", text: `SELECT * FROM flow_tasks WHERE flow_id = ANY($1::int[]) ORDER BY flow_id, position` },
  firstIdFrom: { name: "perfect_first_id_from", text: `SELECT id FROM runs WHERE created_at >= $1 ORDER BY created_at LIMIT 1` },
  lastIdTo: { name: "perfect_last_id_to", text: `SELECT id FROM runs WHERE created_at <= $1 ORDER BY created_at DESC LIMIT 1` },
  touchWorker: { name: "perfect_touch_worker", text: `UPDATE workers SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1` },
  touchClient: { name: "perfect_touch_client", text: `UPDATE clients SET last_seen_at = $2 WHERE id = $1` },
} as const;

/** The operations, bound to one Queryable: the pool (each statement commits) or a transaction's client. */
class PgOps implements StoreOps {
  constructor(
    protected readonly q: Queryable,
    /** Runs fn atomically: inside a transaction directly, else in a transaction of its own. */
    private readonly atomic: <T>(fn: (ops: PgOps) => Promise<T>) => Promise<T>,
  ) {}

  private async rows(text: string, values: unknown[] = [], name?: string): Promise<Record<string, unknown>[]> {
    const res = await this.q.query(name ? { name, text, values } : { text, values });
    return res.rows;
  }
  private async run(stmt: { name: string; text: string }, values: unknown[]): Promise<pg.QueryResult> {
    return this.q.query({ name: stmt.name, text: stmt.text, values });
  }

  /** UPDATE table SET <the patch's columns> WHERE id = $1 [AND state = $2], prepared once per shape. */
  private async update<T extends object>(codec: Codec<T>, id: number, patch: Partial<T>, fromState?: string): Promise<boolean> {
    const keys = codec.patchKeys(patch);
    const base = fromState === undefined ? 1 : 2;
    if (!keys.length) {
      if (fromState === undefined) return false;
      const r = await this.rows(`SELECT 1 FROM "${codec.table}" WHERE id = $1 AND state = $2`, [id, fromState]);
      return r.length > 0;
    }
    const name = `perfect_u_${codec.table}_${fromState === undefined ? "" : "if_"}${keys.join("_")}`;
    const text =
      `UPDATE "${codec.table}" SET ${keys.map((k, i) => `"${codec.column(k)}" = $${base + i + 1}`).join(", ")} WHERE id = $1` +
      (fromState === undefined ? "" : " AND state = $2");
    const values = [id, ...(fromState === undefined ? [] : [fromState]), ...keys.map((k) => codec.toDriver(k, (patch as Record<string, unknown>)[k]))];
    // Statement names are bounded (one per set of patched columns) but can be long: hash past 63 bytes.
    const res = await this.q.query({ name: name.length > 63 ? shortName(name) : name, text, values });
    return (res.rowCount ?? 0) > 0;
  }

  async upsertClient(c: { id: string; name: string; sensitivity: Sensitivity }): Promise<void> {
    await this.q.query(`INSERT INTO clients (id, name, sensitivity) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = excluded.name, sensitivity = excluded.sensitivity`, [
      c.id,
      c.name,
      c.sensitivity,
    ]);
  }
  async listClients(): Promise<ClientRecord[]> {
    return (await this.rows(`SELECT * FROM clients ORDER BY id COLLATE "C"`)).map((r) => CLIENT.fromRow(r));
  }
  async touchClient(id: string, at: number): Promise<void> {
    await this.run(SQL.touchClient, [id, Math.round(at)]);
  }

  async insertWorker(w: WorkerRecord): Promise<void> {
    const keys = WORKER.keys();
    await this.q.query(
      `INSERT INTO workers (${keys.map((k) => WORKER.column(k)).join(", ")}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(", ")})`,
      keys.map((k) => WORKER.toDriver(k, (w as unknown as Record<string, unknown>)[k])),
    );
  }
  async getWorker(id: string): Promise<WorkerRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM workers WHERE id = $1`, [id]);
    return r && WORKER.fromRow(r);
  }
  async touchWorker(id: string, at: number): Promise<void> {
    await this.run(SQL.touchWorker, [id, Math.round(at)]);
  }
  async listWorkers(clientId?: string): Promise<WorkerRecord[]> {
    const rows =
      clientId === undefined
        ? await this.rows(`SELECT * FROM workers ORDER BY last_seen_at DESC, id COLLATE "C"`)
        : await this.rows(`SELECT * FROM workers WHERE client_id = $1 ORDER BY last_seen_at DESC, id COLLATE "C"`, [clientId]);
    return rows.map((r) => WORKER.fromRow(r));
  }
  async deleteWorkersSeenBefore(before: number): Promise<string[]> {
    // worker_flows rows go with them (ON DELETE CASCADE).
    return (await this.rows(`DELETE FROM workers WHERE last_seen_at < $1 RETURNING id`, [before])).map((r) => r.id as string);
  }
  async deleteWorker(id: string): Promise<boolean> {
    return (await this.rows(`DELETE FROM workers WHERE id = $1 RETURNING id`, [id])).length > 0;
  }
  async replaceWorkerFlows(workerId: string, served: { flowId: number; version: string }[]): Promise<void> {
    await this.atomic(async (ops) => {
      await ops.q.query(`DELETE FROM worker_flows WHERE worker_id = $1`, [workerId]);
      if (served.length) {
        await ops.q.query(`INSERT INTO worker_flows (worker_id, flow_id, version) SELECT $1, f, v FROM unnest($2::int[], $3::text[]) AS t(f, v)`, [
          workerId,
          served.map((s) => s.flowId),
          served.map((s) => s.version),
        ]);
      }
    });
  }
  async listWorkerFlows(flowIds: number[]): Promise<WorkerFlowRecord[]> {
    if (!flowIds.length) return [];
    return (await this.rows(`SELECT * FROM worker_flows WHERE flow_id = ANY($1::int[])`, [flowIds])).map((r) => WORKER_FLOW.fromRow(r));
  }
  async listFlowsOfWorker(workerId: string): Promise<WorkerFlowRecord[]> {
    return (await this.rows(`SELECT * FROM worker_flows WHERE worker_id = $1 ORDER BY flow_id`, [workerId])).map((r) => WORKER_FLOW.fromRow(r));
  }

  async upsertFlow(f: Omit<FlowRecord, "id">): Promise<number> {
    const [r] = await this.rows(
      `INSERT INTO flows (client_id, name, description, tags, parameters, version, max_active_runs, registered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (client_id, name) DO UPDATE SET description = excluded.description, tags = excluded.tags, parameters = excluded.parameters,
         version = excluded.version, max_active_runs = excluded.max_active_runs, updated_at = excluded.updated_at
       RETURNING id`,
      [f.clientId, f.name, f.description, JSON.stringify(f.tags), JSON.stringify(f.parameters), f.version, f.maxActiveRuns, Math.round(f.registeredAt), Math.round(f.updatedAt)],
    );
    return r.id as number;
  }
  async replaceFlowTasks(flowId: number, tasks: Omit<FlowTaskRecord, "flowId">[]): Promise<void> {
    await this.atomic(async (ops) => {
      await ops.q.query(`DELETE FROM flow_tasks WHERE flow_id = $1`, [flowId]);
      if (tasks.length) {
        await ops.q.query(
          `INSERT INTO flow_tasks (flow_id, position, name, estimated_time, description)
           SELECT $1, p, n, e, d FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[]) AS t(p, n, e, d)`,
          [
            flowId,
            tasks.map((t) => t.position),
            tasks.map((t) => t.name),
            tasks.map((t) => (t.estimatedTime === null ? null : Math.round(t.estimatedTime))),
            tasks.map((t) => t.description),
          ],
        );
      }
    });
  }
  async getFlow(id: number): Promise<FlowRecord | undefined> {
    const [r] = await this.rows(SQL.getFlow.text, [id], SQL.getFlow.name);
    return r && FLOW.fromRow(r);
  }
  async listFlows(nameContains?: string): Promise<FlowRecord[]> {
    const rows = nameContains
      ? await this.rows(`SELECT * FROM flows WHERE strpos(lower(name), lower($1)) > 0 ORDER BY name COLLATE "C", id`, [nameContains])
      : await this.rows(`SELECT * FROM flows ORDER BY name COLLATE "C", id`);
    return rows.map((r) => FLOW.fromRow(r));
  }
  async listFlowsPage(q: { name?: string; after?: { name: string; id: number }; limit: number }): Promise<FlowRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.name) {
      values.push(q.name);
      where.push(`strpos(lower(name), lower($${values.length})) > 0`);
    }
    if (q.after) {
      values.push(q.after.name, q.after.id);
      const n = values.length;
      where.push(`(name COLLATE "C" > $${n - 1} OR (name = $${n - 1} AND id > $${n}))`);
    }
    values.push(q.limit);
    const text = `SELECT * FROM flows${where.length ? " WHERE " + where.join(" AND ") : ""} ORDER BY name COLLATE "C", id LIMIT $${values.length}`;
    return (await this.rows(text, values)).map((r) => FLOW.fromRow(r));
  }
  async countFlowsByClient(): Promise<Map<string, number>> {
    const rows = await this.rows(`SELECT client_id, count(*) AS n FROM flows GROUP BY client_id`);
    return new Map(rows.map((r) => [r.client_id as string, r.n as number]));
  }
  async listFlowTasks(flowIds: number[]): Promise<FlowTaskRecord[]> {
    if (!flowIds.length) return [];
    return (await this.rows(SQL.listFlowTasks.text, [flowIds], SQL.listFlowTasks.name)).map((r) => FLOW_TASK.fromRow(r));
  }
  async lastRunsOfFlows(flowIds: number[]): Promise<RunRecord[]> {
    if (!flowIds.length) return [];
    // One index probe (runs_flow_idx, backwards) per flow, in the order asked.
    const rows = await this.rows(
      `SELECT r.* FROM unnest($1::int[]) WITH ORDINALITY AS f(id, ord)
       CROSS JOIN LATERAL (SELECT * FROM runs WHERE flow_id = f.id ORDER BY id DESC LIMIT 1) r
       ORDER BY f.ord`,
      [flowIds],
    );
    return rows.map((r) => RUN.fromRow(r));
  }

  async insertRun(run: NewRun): Promise<number> {
    const values = RUN_INSERT_KEYS.map((k) => RUN.toDriver(k, (run as unknown as Record<string, unknown>)[k]));
    const res = await this.run(SQL.insertRun, values);
    return res.rows[0].id as number;
  }
  async insertRunTags(runId: number, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags);
    if (!entries.length) return;
    await this.run(SQL.insertRunTags, [runId, entries.map((e) => e[0]), entries.map((e) => e[1])]);
  }
  async getRun(id: number): Promise<RunRecord | undefined> {
    const res = await this.run(SQL.getRun, [id]);
    return res.rows[0] && RUN.fromRow(res.rows[0]);
  }
  async getRunForUpdate(id: number): Promise<RunRecord | undefined> {
    const res = await this.run(SQL.getRunForUpdate, [id]);
    return res.rows[0] && RUN.fromRow(res.rows[0]);
  }
  async updateRun(id: number, patch: Partial<Omit<RunRecord, "id">>): Promise<void> {
    await this.update(RUN, id, patch);
  }
  async updateRunIf(id: number, from: RunState, patch: Partial<Omit<RunRecord, "id">>): Promise<boolean> {
    return this.update(RUN, id, patch, from);
  }
  async claimPendingRuns(clientId: string, workerId: string, max: number, now: number): Promise<RunRecord[]> {
    if (max <= 0) return [];
    // The probe for pending limited runs goes beside the claim (another connection of the
    // pool, or queued behind it in a transaction): one round trip on a woken poll's path, not two.
    const [res, anyLimited] = await Promise.all([this.run(SQL.claim, [clientId, workerId, max, Math.round(now)]), this.run(SQL.anyPendingLimited, [clientId])]);
    const rows = res.rows.map((r) => RUN.fromRow(r));
    // Runs of flows with max_active_runs: only when the common claim left room, and only when
    // there are any; then under the flows' row locks, in a statement of its own (a fresh
    // snapshot once the locks are held), so no two claims overrun a limit.
    if (rows.length < max && anyLimited.rows.length) {
      const limited = await this.atomic(async (ops) => {
        await ops.run(SQL.lockLimitedFlows, [clientId, workerId]);
        return (await ops.run(SQL.claimLimited, [clientId, workerId, max - rows.length, Math.round(now)])).rows;
      });
      rows.push(...limited.map((r) => RUN.fromRow(r)));
    }
    return rows.sort((a, b) => a.id - b.id);
  }

  /**
   * History: newest first, keyset-paginated by id, with the SQLite adapter's semantics (date
   * bounds become an id window: ids grow with creation time). PostgreSQL's planner has
   * statistics, so the query is written plainly and every filter has an index it can drive
   * from: (state, id), (client_id, id), (flow_id, id), run_tags (key, value, run_id), the
   * primary key for the window.
   */
  async listRuns(q: RunFilter): Promise<RunPage> {
    const empty: RunPage = { runs: [], nextCursor: null };
    let lo = 0;
    let hi = Number.MAX_SAFE_INTEGER;
    if (q.from !== undefined) {
      const [r] = await this.rows(SQL.firstIdFrom.text, [Math.round(q.from)], SQL.firstIdFrom.name);
      if (!r) return empty;
      lo = r.id as number;
    }
    if (q.to !== undefined) {
      const [r] = await this.rows(SQL.lastIdTo.text, [Math.round(q.to)], SQL.lastIdTo.name);
      if (!r) return empty;
      hi = r.id as number;
    }
    if (q.cursor) {
      const c = Number(q.cursor);
      if (!Number.isFinite(c)) return empty;
      hi = Math.min(hi, Math.ceil(c) - 1);
    }
    if (lo > hi) return empty;
    let flowIds: number[] | null = null;
    if (q.flow) flowIds = (await this.listFlows(q.flow)).map((f) => f.id);
    if (q.flowId) flowIds = (flowIds ?? [Number(q.flowId)]).filter((id) => id === Number(q.flowId));
    if (flowIds && flowIds.some((id) => !Number.isSafeInteger(id) || Math.abs(id) > 2 ** 31 - 1)) flowIds = flowIds.filter((id) => Number.isSafeInteger(id) && Math.abs(id) <= 2 ** 31 - 1);
    if (flowIds && !flowIds.length) return empty;
    const states = [...new Set(q.state)];

    const values: unknown[] = [lo, hi];
    const p = (v: unknown) => (values.push(v), `$${values.length}`);
    const where = ["runs.id >= $1", "runs.id <= $2"];
    // One value is written as equality, not `= ANY(array)`: only then does the planner walk
    // (state, id) or (flow_id, id) backwards in id order (measured at 1M runs: 2 ms, not 20–90).
    if (states.length === 1) where.push(`runs.state = ${p(states[0])}`);
    else if (states.length) where.push(`runs.state = ANY(${p(states)}::text[])`);
    if (q.client) where.push(`runs.client_id = ${p(q.client)}`);
    if (flowIds?.length === 1) where.push(`runs.flow_id = ${p(flowIds[0])}`);
    else if (flowIds) where.push(`runs.flow_id = ANY(${p(flowIds)}::int[])`);
    // The id window is repeated on run_tags.run_id: the planner does not carry inequalities across
    // the join, so a merge join walked (key, value, run_id) from the top down to the window — a
    // common tag with a deep cursor read 855k index entries (150 ms at 1M runs; bounded: 0.3 ms).
    for (const t of q.tag) where.push(`EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = runs.id AND t.key = ${p(t.key)} AND t.value = ${p(t.value)} AND t.run_id >= $1 AND t.run_id <= $2)`);
    const triggers = [...new Set(q.trigger ?? [])];
    if (triggers.length) where.push(`runs."trigger" = ANY(${p(triggers)}::text[])`);
    if (q.scheduleId !== undefined) where.push(`runs.schedule_id = ${p(q.scheduleId)}`);
    // Matches the partial index runs_parent_idx (parent_run_id IS NOT NULL is implied).
    if (q.parentRunId !== undefined) where.push(`runs.parent_run_id = ${p(q.parentRunId)}`);
    // Matches the partial index runs_triggered_by_idx (triggered_by, id).
    if (q.triggeredBy !== undefined) where.push(`runs.triggered_by = ${p(q.triggeredBy)}`);
    if (q.from !== undefined) where.push(`runs.created_at >= ${p(Math.round(q.from))}`);
    if (q.to !== undefined) where.push(`runs.created_at <= ${p(Math.round(q.to))}`);
    const text = `SELECT runs.* FROM runs WHERE ${where.join(" AND ")} ORDER BY runs.id DESC LIMIT ${p(q.limit + 1)}`;
    const rows = (await this.rows(text, values)).map((r) => RUN.fromRow(r));
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { runs: page, nextCursor: more ? String(page[page.length - 1].id) : null };
  }
  async listRunsInState(state: RunState): Promise<RunRecord[]> {
    return (await this.rows(`SELECT * FROM runs WHERE state = $1 ORDER BY id`, [state])).map((r) => RUN.fromRow(r));
  }
  async listRunsOfWorker(workerId: string, runIds: number[]): Promise<RunRecord[]> {
    if (!runIds.length) return [];
    return (await this.rows(`SELECT * FROM runs WHERE worker_id = $1 AND id = ANY($2::bigint[]) ORDER BY id`, [workerId, runIds])).map((r) => RUN.fromRow(r));
  }
  async listActiveRunsOfWorker(workerId: string): Promise<RunRecord[]> {
    return (await this.rows(`SELECT * FROM runs WHERE worker_id = $1 AND state = 'RUNNING' ORDER BY id`, [workerId])).map((r) => RUN.fromRow(r));
  }

  async insertTaskRuns(rows: NewTaskRun[]): Promise<number[]> {
    if (!rows.length) return [];
    const values = TASK_RUN_INSERT_KEYS.map((k) => rows.map((r) => TASK_RUN.toDriver(k, (r as unknown as Record<string, unknown>)[k])));
    // (run, position) is unique: it maps RETURNING's rows back to the order given.
    const ids = new Map((await this.run(SQL.insertTaskRuns, values)).rows.map((r) => [`${r.run_id}:${r.position}`, Number(r.id)]));
    return rows.map((r) => ids.get(`${r.runId}:${r.position}`)!);
  }
  async insertTaskRun(row: NewTaskRun): Promise<number> {
    const res = await this.run(
      SQL.insertTaskRun,
      TASK_RUN_INSERT_KEYS.map((k) => TASK_RUN.toDriver(k, (row as unknown as Record<string, unknown>)[k])),
    );
    return res.rows[0].id as number;
  }
  async listTaskRuns(runId: number): Promise<TaskRunRecord[]> {
    return (await this.run(SQL.listTaskRuns, [runId])).rows.map((r) => TASK_RUN.fromRow(r));
  }
  async updateTaskRun(id: number, patch: Partial<Omit<TaskRunRecord, "id">>): Promise<void> {
    await this.update(TASK_RUN, id, patch);
  }
  async updateTaskRuns(rows: readonly TaskRunRecord[]): Promise<void> {
    if (!rows.length) return;
    if (rows.length === 1) {
      const { id, runId: _r, flowId: _f, position: _p, name: _n, weight: _w, estimatedTime: _e, ...patch } = rows[0];
      return this.updateTaskRun(id, patch);
    }
    // One statement for the batch's task runs (in id order, like every multi-row lock).
    const list = [...rows].sort((a, b) => a.id - b.id);
    const keys = ["id", "callIndex", "state", "reportedProgress", "progressChangedAt", "startedAt", "attemptStartedAt", "endedAt", "durationMs", "attempt", "warning", "zScore", "threshold", "stalled", "error"] as const;
    await this.run(
      SQL.updateTaskRuns,
      keys.map((k) => list.map((r) => TASK_RUN.toDriver(k, r[k]))),
    );
  }
  async listRunningTaskRuns(): Promise<RunningTaskRecord[]> {
    const rows = await this.rows(
      `SELECT t.*, r.client_id AS run_client_id, r.worker_id AS run_worker_id FROM task_runs t JOIN runs r ON r.id = t.run_id WHERE t.state = 'RUNNING' ORDER BY t.id`,
    );
    return rows.map((r) => ({ taskRun: TASK_RUN.fromRow(r), clientId: r.run_client_id as string, workerId: (r.run_worker_id as string | null) ?? null }));
  }
  async countWarnings(runIds: number[]): Promise<Map<number, { warning: Warning | null; stalled: boolean }>> {
    const out = new Map<number, { warning: Warning | null; stalled: boolean }>();
    if (!runIds.length) return out;
    const rows = await this.rows(
      `SELECT run_id, bool_or(warning = 'CRITICAL') AS critical, bool_or(warning = 'SLOW') AS slow, bool_or(stalled) AS stalled
       FROM task_runs WHERE run_id = ANY($1::bigint[]) AND (warning IS NOT NULL OR stalled) GROUP BY run_id`,
      [runIds],
    );
    for (const r of rows) out.set(r.run_id as number, { warning: r.critical ? "CRITICAL" : r.slow ? "SLOW" : null, stalled: !!r.stalled });
    return out;
  }

  async insertLogs(rows: NewLog[]): Promise<number> {
    if (!rows.length) return 0;
    const res = await this.run(SQL.insertLogs, [
      rows.map((r) => r.runId),
      rows.map((r) => r.taskRunId),
      rows.map((r) => Math.round(r.seq)),
      rows.map((r) => r.level),
      rows.map((r) => r.message),
      rows.map((r) => Math.round(r.ts)),
    ]);
    return res.rows[0].id as number;
  }
  async listLogs(runId: number, opts: { after: number; taskRunId?: number; levels: string[]; limit: number; q?: string }): Promise<LogRecord[]> {
    const values: unknown[] = [runId, opts.after];
    let text = `SELECT * FROM logs WHERE run_id = $1 AND id > $2`;
    if (opts.taskRunId !== undefined) {
      values.push(opts.taskRunId);
      text += ` AND task_run_id = $${values.length}`;
    }
    if (opts.levels.length) {
      values.push(opts.levels);
      text += ` AND level = ANY($${values.length}::text[])`;
    }
    if (opts.q) {
      // Substring, case-folded on both sides; strpos needs no LIKE escaping.
      values.push(opts.q);
      text += ` AND strpos(lower(message), lower($${values.length})) > 0`;
    }
    values.push(opts.limit);
    text += ` ORDER BY id LIMIT $${values.length}`;
    return (await this.rows(text, values)).map((r) => LOG.fromRow(r));
  }

  async getTaskStat(flowId: number, taskName: string): Promise<TaskStatRecord | undefined> {
    const res = await this.run(SQL.getTaskStat, [flowId, taskName]);
    return res.rows[0] && TASK_STAT.fromRow(res.rows[0]);
  }
  async getTaskStats(flowId: number): Promise<TaskStatRecord[]> {
    return (await this.run(SQL.getTaskStats, [flowId])).rows.map((r) => TASK_STAT.fromRow(r));
  }
  async recentDurations(flowId: number, taskNames: readonly string[], limit: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>(taskNames.map((n) => [n, []]));
    if (!taskNames.length) return out;
    for (const r of (await this.run(SQL.recentDurations, [flowId, [...new Set(taskNames)], limit])).rows) out.get(r.name as string)!.push(r.d as number);
    return out;
  }
  async upsertTaskStats(rows: readonly TaskStatRecord[]): Promise<void> {
    // One row per task (a statement may not update a row twice): the last one given wins.
    const byKey = new Map(rows.map((r) => [`${r.flowId}\u0000${r.taskName}`, r]));
    const list = [...byKey.values()];
    if (!list.length) return;
    await this.run(SQL.upsertTaskStats, [
      list.map((r) => r.flowId),
      list.map((r) => r.taskName),
      list.map((r) => r.clientId),
      list.map((r) => r.mean),
      list.map((r) => r.stddev),
      list.map((r) => Math.round(r.samples)),
      list.map((r) => Math.round(r.updatedAt)),
      list.map((r) => JSON.stringify(r.recent)),
      list.map((r) => JSON.stringify(r.callsRecent)),
      list.map((r) => r.callsMean),
    ]);
  }
  async recordTaskCalls(flowId: number, clientId: string, calls: ReadonlyArray<{ taskName: string; calls: number }>, window: number, now: number): Promise<void> {
    const byName = new Map<string, number[]>();
    for (const c of calls) byName.set(c.taskName, [...(byName.get(c.taskName) ?? []), c.calls]);
    const names = [...byName.keys()];
    if (!names.length) return;
    // Read-modify-write of the windows under the rows' locks (taken in name order, like every
    // statement that locks several), so two instances recording calls of one task both land;
    // rows are created first when missing, as SQLite does.
    await this.atomic(async (ops) => {
      await ops.run(SQL.insertCallsRows, [flowId, clientId, Math.round(now), names]);
      const res = await ops.run(SQL.lockTaskStats, [flowId, names]);
      const recents: string[] = [];
      const means: number[] = [];
      const locked = res.rows.map((r) => r.task_name as string);
      for (const r of res.rows) {
        const recent = [...((r.calls_recent as number[]) ?? []), ...byName.get(r.task_name as string)!];
        while (recent.length > window) recent.shift();
        recents.push(JSON.stringify(recent));
        means.push(recent.reduce((a, b) => a + b, 0) / recent.length);
      }
      await ops.run(SQL.updateCalls, [flowId, locked, recents, means]);
    });
  }
  async insertSchedule(row: NewSchedule): Promise<number> {
    const values = SCHEDULE_INSERT_KEYS.map((k) => SCHEDULE.toDriver(k, (row as unknown as Record<string, unknown>)[k]));
    const res = await this.run(SQL.insertSchedule, values);
    return res.rows[0].id as number;
  }
  async getSchedule(id: number): Promise<ScheduleRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM schedules WHERE id = $1`, [id], "perfect_get_schedule");
    return r && SCHEDULE.fromRow(r);
  }
  async getScheduleForUpdate(id: number): Promise<ScheduleRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM schedules WHERE id = $1 FOR UPDATE`, [id], "perfect_get_schedule_for_update");
    return r && SCHEDULE.fromRow(r);
  }
  async listSchedules(flowId: number): Promise<ScheduleRecord[]> {
    return (await this.rows(`SELECT * FROM schedules WHERE flow_id = $1 ORDER BY id`, [flowId], "perfect_list_schedules")).map((r) => SCHEDULE.fromRow(r));
  }
  async updateSchedule(id: number, patch: Partial<Omit<ScheduleRecord, "id">>): Promise<void> {
    await this.update(SCHEDULE, id, patch);
  }
  async deleteSchedule(id: number): Promise<void> {
    await this.rows(`DELETE FROM schedules WHERE id = $1`, [id], "perfect_delete_schedule");
  }
  async earliestFireAt(): Promise<number | null> {
    const res = await this.run(SQL.earliestFireAt, []);
    return (res.rows[0]?.t as number | null) ?? null;
  }
  async lockDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    const res = await this.run(SQL.lockDueSchedules, [Math.round(now), limit]);
    return res.rows.map((r) => SCHEDULE.fromRow(r));
  }
  async insertScheduledRun(run: NewRun): Promise<number | null> {
    const values = RUN_INSERT_KEYS.map((k) => RUN.toDriver(k, (run as unknown as Record<string, unknown>)[k]));
    const res = await this.run(SQL.insertScheduledRun, values);
    return (res.rows[0]?.id as number | undefined) ?? null;
  }
  async listScheduledFor(scheduleId: number, from: number, to: number): Promise<number[]> {
    const rows = await this.rows(
      `SELECT scheduled_for AS t FROM runs WHERE schedule_id = $1 AND scheduled_for >= $2 AND scheduled_for <= $3 ORDER BY scheduled_for`,
      [scheduleId, Math.round(from), Math.round(to)],
      "perfect_list_scheduled_for",
    );
    return rows.map((r) => r.t as number);
  }
  async listActiveRunsOfSchedule(scheduleId: number): Promise<RunRecord[]> {
    const rows = await this.rows(`SELECT * FROM runs WHERE schedule_id = $1 AND state IN ('PENDING', 'RUNNING') ORDER BY id`, [scheduleId], "perfect_active_runs_of_schedule");
    return rows.map((r) => RUN.fromRow(r));
  }

  async countRunningRuns(flowId: number): Promise<number> {
    const [r] = await this.rows(`SELECT count(*) AS n FROM runs WHERE flow_id = $1 AND state = 'RUNNING'`, [flowId], "perfect_count_running_runs");
    return Number(r.n);
  }
  async listChildRuns(parentId: number): Promise<RunRecord[]> {
    return (await this.rows(`SELECT * FROM runs WHERE parent_run_id = $1 ORDER BY id`, [parentId], "perfect_list_child_runs")).map((r) => RUN.fromRow(r));
  }
  async getChildRun(parentId: number, call: number): Promise<RunRecord | null> {
    const rows = await this.rows(`SELECT * FROM runs WHERE parent_run_id = $1 AND parent_call = $2 ORDER BY id LIMIT 1`, [parentId, call], "perfect_get_child_run");
    return rows.length ? RUN.fromRow(rows[0]) : null;
  }
  async listRetriesOf(runId: number): Promise<number[]> {
    return (await this.rows(`SELECT id FROM runs WHERE retry_of = $1 ORDER BY id`, [runId], "perfect_list_retries_of")).map((r) => r.id as number);
  }

  async listTaskStats(flowIds?: number[]): Promise<TaskStatRecord[]> {
    const rows =
      flowIds === undefined
        ? await this.rows(`SELECT * FROM task_stats ORDER BY flow_id, task_name COLLATE "C"`)
        : flowIds.length
          ? await this.rows(`SELECT * FROM task_stats WHERE flow_id = ANY($1::int[]) ORDER BY flow_id, task_name COLLATE "C"`, [flowIds])
          : [];
    return rows.map((r) => TASK_STAT.fromRow(r));
  }

  async upsertConcurrencyLimit(key: string, limit: number, now: number): Promise<ConcurrencyLimitRecord> {
    const [r] = await this.rows(
      `INSERT INTO concurrency_limits (key, "limit", created_at, updated_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (key) DO UPDATE SET "limit" = excluded."limit", updated_at = excluded.updated_at RETURNING *`,
      [key, limit, now],
      "perfect_upsert_limit",
    );
    return limitOf(r);
  }
  async getConcurrencyLimit(key: string): Promise<ConcurrencyLimitRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM concurrency_limits WHERE key = $1`, [key], "perfect_get_limit");
    return r && limitOf(r);
  }
  async listConcurrencyLimits(): Promise<ConcurrencyLimitRecord[]> {
    return (await this.rows(`SELECT * FROM concurrency_limits ORDER BY key COLLATE "C"`)).map(limitOf);
  }
  async deleteConcurrencyLimit(key: string): Promise<boolean> {
    const res = await this.q.query({ name: "perfect_delete_limit", text: `DELETE FROM concurrency_limits WHERE key = $1`, values: [key] });
    return (res.rowCount ?? 0) > 0;
  }
  /**
   * The keys' locks (see grantSlots), in one order. Every change to a key's slot rows happens
   * under its lock, taken before the rows are touched: a transaction never holds a slot row
   * while it waits for a key's lock, so two grants, releases or run endings cannot deadlock.
   * The one exception is a new slot (requestSlot): see there. Advisory locks are re-entrant
   * within a transaction.
   */
  private async lockSlotKeys(keys: string[]): Promise<void> {
    for (const key of [...new Set(keys)].sort(byteOrder)) {
      await this.q.query({ name: "perfect_lock_slot_key", text: `SELECT pg_advisory_xact_lock(hashtext('perfect_slots:' || $1))`, values: [key] });
    }
  }
  async requestSlot(slot: NewSlot, now: number): Promise<ConcurrencySlotRecord> {
    return this.atomic(async (ops) => {
      // The insert comes before the key's lock: it takes the FK's share lock on the run row,
      // and run-row locks always come before key locks (a run ending holds its row, then locks
      // its keys). The new row is invisible to other transactions until commit, so it cannot
      // be what another grant waits for.
      await ops.q.query({
        name: "perfect_insert_slot",
        text: `INSERT INTO concurrency_slots (key, run_id, call, task_name, client_id, worker_id, state, requested_at)
          VALUES ($1, $2, $3, $4, $5, $6, 'WAITING', $7) ON CONFLICT (run_id, call, key) DO NOTHING`,
        values: [slot.key, slot.runId, slot.call, slot.taskName, slot.clientId, slot.workerId, now],
      });
      await ops.grantSlots(slot.key, now);
      const [r] = await ops.rows(`SELECT * FROM concurrency_slots WHERE run_id = $1 AND call = $2 AND key = $3`, [slot.runId, slot.call, slot.key], "perfect_slot_of_call");
      return slotOf(r);
    });
  }
  async grantSlots(key: string, now: number): Promise<ConcurrencySlotRecord[]> {
    return this.atomic(async (ops) => {
      // The key's lock until the transaction ends: an advisory lock on its hash (a key may have
      // no limit row to lock with FOR UPDATE). Two grants of one key, on any instances, run one
      // after the other, and the count below sees every grant committed before (READ COMMITTED
      // takes a fresh snapshot per statement). A hash collision only serialises two keys.
      await ops.lockSlotKeys([key]);
      const rows = await ops.rows(
        `UPDATE concurrency_slots SET state = 'HELD', acquired_at = $2
         WHERE id IN (
           SELECT id FROM concurrency_slots WHERE key = $1 AND state = 'WAITING' ORDER BY id
           LIMIT (SELECT CASE WHEN l."limit" IS NULL THEN NULL
                    ELSE greatest(0, l."limit" - (SELECT count(*) FROM concurrency_slots h WHERE h.key = $1 AND h.state = 'HELD')) END
                  FROM (SELECT (SELECT "limit" FROM concurrency_limits WHERE key = $1) AS "limit") l))
         RETURNING *`,
        [key, now],
        "perfect_grant_slots",
      );
      return rows.map(slotOf).sort((a, b) => a.id - b.id);
    });
  }
  async getSlot(id: number): Promise<ConcurrencySlotRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM concurrency_slots WHERE id = $1`, [id], "perfect_get_slot");
    return r && slotOf(r);
  }
  async slotPosition(id: number): Promise<number> {
    const [r] = await this.rows(
      `SELECT CASE WHEN s.state = 'WAITING' THEN (SELECT count(*) FROM concurrency_slots w WHERE w.key = s.key AND w.state = 'WAITING' AND w.id <= s.id) ELSE 0 END AS n
       FROM concurrency_slots s WHERE s.id = $1`,
      [id],
      "perfect_slot_position",
    );
    return r ? Number(r.n) : 0;
  }
  async deleteSlot(id: number): Promise<ConcurrencySlotRecord | undefined> {
    return this.atomic(async (ops) => {
      const [k] = await ops.rows(`SELECT key FROM concurrency_slots WHERE id = $1`, [id], "perfect_slot_key");
      if (!k) return undefined;
      await ops.lockSlotKeys([k.key as string]);
      const [r] = await ops.rows(`DELETE FROM concurrency_slots WHERE id = $1 RETURNING *`, [id], "perfect_delete_slot");
      return r && slotOf(r);
    });
  }
  async deleteSlotsOfRun(runId: number): Promise<string[]> {
    return this.atomic(async (ops) => {
      const keys = await ops.rows(`SELECT DISTINCT key FROM concurrency_slots WHERE run_id = $1`, [runId], "perfect_slot_keys_of_run");
      if (!keys.length) return [];
      await ops.lockSlotKeys(keys.map((r) => r.key as string));
      const rows = await ops.rows(`DELETE FROM concurrency_slots WHERE run_id = $1 RETURNING key`, [runId], "perfect_delete_slots_of_run");
      return [...new Set(rows.map((r) => r.key as string))].sort(byteOrder);
    });
  }
  async listSlots(key?: string): Promise<SlotListingRecord[]> {
    const text = (where: string) => `SELECT s.*, r.flow_name AS run_flow_name, r.state AS run_state, r.worker_id AS run_worker_id
      FROM concurrency_slots s JOIN runs r ON r.id = s.run_id ${where} ORDER BY s.key COLLATE "C", s.id`;
    const rows = key === undefined ? await this.rows(text(""), [], "perfect_list_slots") : await this.rows(text("WHERE s.key = $1"), [key], "perfect_list_slots_of_key");
    return rows.map((r) => ({ ...slotOf(r), flowName: r.run_flow_name as string, runState: r.run_state as RunState, runWorkerId: (r.run_worker_id as string | null) ?? null }));
  }
  async countHeldSlots(): Promise<Map<string, number>> {
    const rows = await this.rows(`SELECT key, count(*) AS n FROM concurrency_slots WHERE state = 'HELD' GROUP BY key`, [], "perfect_count_held_slots");
    return new Map(rows.map((r) => [r.key as string, Number(r.n)]));
  }

  async insertArtifact(a: NewArtifact): Promise<number> {
    const [r] = await this.rows(
      `INSERT INTO artifacts (run_id, task_run_id, key, type, description, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) RETURNING id`,
      [a.runId, a.taskRunId, a.key, a.type, a.description, JSON.stringify(a.data), Math.round(a.createdAt), Math.round(a.updatedAt)],
      "perfect_insert_artifact",
    );
    return Number(r.id);
  }
  async getArtifact(id: number): Promise<ArtifactRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM artifacts WHERE id = $1`, [id], "perfect_get_artifact");
    return r && artifactOf(r);
  }
  async findArtifactByKey(runId: number, key: string): Promise<ArtifactRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM artifacts WHERE run_id = $1 AND key = $2 ORDER BY id DESC LIMIT 1`, [runId, key], "perfect_artifact_by_key");
    return r && artifactOf(r);
  }
  async updateArtifact(id: number, patch: { data: unknown; description?: string; updatedAt: number }): Promise<boolean> {
    const res = await this.q.query({
      name: "perfect_update_artifact",
      text: `UPDATE artifacts SET data = $2::jsonb, description = COALESCE($3, description), updated_at = $4 WHERE id = $1`,
      values: [id, JSON.stringify(patch.data), patch.description ?? null, Math.round(patch.updatedAt)],
    });
    return (res.rowCount ?? 0) > 0;
  }
  async listArtifacts(runId: number): Promise<ArtifactRecord[]> {
    return (await this.rows(`SELECT * FROM artifacts WHERE run_id = $1 ORDER BY id`, [runId], "perfect_list_artifacts")).map(artifactOf);
  }
  async getVariable(name: string): Promise<VariableRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM variables WHERE name = $1`, [name], "perfect_get_variable");
    return r && variableOf(r);
  }
  async listVariables(): Promise<VariableRecord[]> {
    return (await this.rows(`SELECT * FROM variables ORDER BY name COLLATE "C"`)).map(variableOf);
  }
  async upsertVariable(name: string, value: unknown, now: number): Promise<VariableRecord> {
    const [r] = await this.rows(
      `INSERT INTO variables (name, value, created_at, updated_at) VALUES ($1, $2::jsonb, $3, $3)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at RETURNING *`,
      [name, JSON.stringify(value), Math.round(now)],
      "perfect_upsert_variable",
    );
    return variableOf(r);
  }
  async deleteVariable(name: string): Promise<boolean> {
    const res = await this.q.query({ name: "perfect_delete_variable", text: `DELETE FROM variables WHERE name = $1`, values: [name] });
    return (res.rowCount ?? 0) > 0;
  }
  async queueAlertDeliveries(rows: NewAlertDelivery[]): Promise<AlertDeliveryRecord[]> {
    if (!rows.length) return [];
    return this.atomic(async (ops) => {
      const out: AlertDeliveryRecord[] = [];
      for (const r of rows) {
        let sent = false;
        if (r.throttleKey !== null && r.throttleWindowMs > 0) {
          // The bucket's lock until the transaction ends: two instances raising the same
          // bucket at once decide one after the other (and the second sees the first's row).
          await ops.q.query({ name: "perfect_lock_throttle", text: `SELECT pg_advisory_xact_lock(hashtext('perfect_throttle:' || $1))`, values: [r.throttleKey] });
          const hit = await ops.rows(
            `SELECT 1 FROM alert_deliveries WHERE throttle_key = $1 AND created_at > $2 AND created_at <= $3 AND state <> 'THROTTLED' LIMIT 1`,
            [r.throttleKey, r.createdAt - r.throttleWindowMs, r.createdAt],
            "perfect_throttle_sent",
          );
          sent = hit.length > 0;
        }
        const [row] = await ops.rows(
          `INSERT INTO alert_deliveries (webhook_id, destination_id, event_type, dedupe_key, throttle_key, run_id, flow_name, payload, state, attempts, next_attempt_at, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11) ON CONFLICT DO NOTHING RETURNING *`,
          [r.webhookId, r.destinationId, r.eventType, r.dedupeKey, r.throttleKey, r.runId, r.flowName, r.payload, sent ? "THROTTLED" : "PENDING", sent ? null : r.createdAt, r.createdAt],
          "perfect_queue_delivery",
        );
        if (row) out.push(deliveryOf(row));
      }
      return out;
    });
  }
  async earliestDeliveryAt(): Promise<number | null> {
    const [r] = await this.rows(
      `SELECT min(greatest(next_attempt_at, lease_until)) AS at FROM alert_deliveries WHERE state = 'PENDING'`,
      [],
      "perfect_earliest_delivery",
    );
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }
  async claimDueDeliveries(now: number, leaseUntil: number, limit: number): Promise<AlertDeliveryRecord[]> {
    const rows = await this.rows(
      `UPDATE alert_deliveries SET lease_until = $2
        WHERE id IN (SELECT id FROM alert_deliveries
          WHERE state = 'PENDING' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
          ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [now, leaseUntil, limit],
      "perfect_claim_deliveries",
    );
    return rows.map(deliveryOf).sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id);
  }
  async recordDeliveryAttempt(id: number, lease: number, o: DeliveryOutcome): Promise<boolean> {
    return this.atomic(async (ops) => {
      const res = await ops.q.query({
        name: "perfect_record_delivery",
        text: `UPDATE alert_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, lease_until = NULL,
            last_attempt_at = $3, last_status = $4, last_error = $5, delivered_at = CASE WHEN $1 = 'DELIVERED' THEN $3 ELSE delivered_at END
          WHERE id = $6 AND state = 'PENDING' AND lease_until = $7`,
        values: [o.state, o.nextAttemptAt, o.attempt.at, o.attempt.status, o.attempt.error, id, lease],
      });
      if (!res.rowCount) return false;
      await ops.q.query({
        name: "perfect_insert_attempt",
        text: `INSERT INTO alert_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)`,
        values: [id, o.attempt.at, o.attempt.status, o.attempt.error, Math.round(o.attempt.durationMs)],
      });
      return true;
    });
  }
  async getDelivery(id: number): Promise<AlertDeliveryRecord | undefined> {
    const [r] = await this.rows(`SELECT * FROM alert_deliveries WHERE id = $1`, [id], "perfect_get_delivery");
    return r && deliveryOf(r);
  }
  async listDeliveries(q: DeliveryFilter): Promise<AlertDeliveryRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.state !== undefined) {
      values.push(q.state);
      where.push(`state = $${values.length}`);
    }
    if (q.destinationId !== undefined) {
      values.push(q.destinationId);
      where.push(`destination_id = $${values.length}`);
    }
    if (q.before !== undefined) {
      values.push(q.before);
      where.push(`id < $${values.length}`);
    }
    values.push(q.limit);
    const rows = await this.rows(`SELECT * FROM alert_deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $${values.length}`, values);
    return rows.map(deliveryOf);
  }
  async listDeliveryAttempts(deliveryIds: number[]): Promise<AlertAttemptRecord[]> {
    if (!deliveryIds.length) return [];
    const rows = await this.rows(`SELECT * FROM alert_attempts WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, id`, [deliveryIds], "perfect_list_attempts");
    return rows.map((r) => ({
      id: Number(r.id),
      deliveryId: Number(r.delivery_id),
      at: Number(r.at),
      status: r.status === null ? null : Number(r.status),
      error: (r.error as string | null) ?? null,
      durationMs: Number(r.duration_ms),
    }));
  }
  async destinationHealth(): Promise<DestinationHealthRecord[]> {
    const rows = await this.rows(
      `SELECT d.destination_id AS id,
          count(*) FILTER (WHERE d.state = 'PENDING') AS pending, count(*) FILTER (WHERE d.state = 'DELIVERED') AS delivered,
          count(*) FILTER (WHERE d.state = 'DEAD') AS dead, count(*) FILTER (WHERE d.state = 'THROTTLED') AS throttled,
          max(d.delivered_at) AS last_success,
          (SELECT max(a.at) FROM alert_attempts a JOIN alert_deliveries x ON x.id = a.delivery_id
            WHERE x.destination_id = d.destination_id AND (a.status IS NULL OR a.status < 200 OR a.status > 299)) AS last_failure
        FROM alert_deliveries d GROUP BY d.destination_id ORDER BY d.destination_id COLLATE "C"`,
      [],
      "perfect_destination_health",
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return rows.map((r) => ({
      destinationId: r.id as string,
      pending: Number(r.pending),
      delivered: Number(r.delivered),
      dead: Number(r.dead),
      throttled: Number(r.throttled),
      lastSuccessAt: num(r.last_success),
      lastFailureAt: num(r.last_failure),
    }));
  }
  async countPendingDeliveries(): Promise<number> {
    const [r] = await this.rows(`SELECT count(*) AS n FROM alert_deliveries WHERE state = 'PENDING'`, [], "perfect_count_pending_deliveries");
    return Number(r.n);
  }
  async previousFinishedRunState(flowId: number, beforeId: number): Promise<RunState | null> {
    const [r] = await this.rows(
      `SELECT state FROM runs WHERE flow_id = $1 AND id < $2 AND state IN ('COMPLETED', 'FAILED') ORDER BY id DESC LIMIT 1`,
      [flowId, beforeId],
      "perfect_previous_finished",
    );
    return (r?.state as RunState | undefined) ?? null;
  }
  async recentRunDurations(flowId: number, beforeId: number, limit: number): Promise<number[]> {
    const rows = await this.rows(
      `SELECT ended_at - started_at AS d FROM runs
        WHERE flow_id = $1 AND id < $2 AND state = 'COMPLETED' AND started_at IS NOT NULL AND ended_at IS NOT NULL ORDER BY id DESC LIMIT $3`,
      [flowId, beforeId, limit],
      "perfect_recent_run_durations",
    );
    return rows.map((r) => Number(r.d));
  }
  async countActiveRuns(): Promise<{ flowName: string; state: RunState; count: number }[]> {
    const rows = await this.rows(
      `SELECT flow_name, state, count(*) AS n FROM runs WHERE state IN ('PENDING', 'RUNNING')
        GROUP BY flow_name, state ORDER BY flow_name COLLATE "C", state COLLATE "C"`,
      [],
      "perfect_count_active_runs",
    );
    return rows.map((r) => ({ flowName: r.flow_name as string, state: r.state as RunState, count: Number(r.n) }));
  }
  async runCounts(since: number, dueBefore: number): Promise<RunCountsRecord> {
    const [r] = await this.rows(
      `SELECT
        (SELECT count(*) FROM runs WHERE state = 'RUNNING') AS running,
        (SELECT count(*) FROM runs WHERE state = 'PENDING') AS pending,
        (SELECT count(*) FROM runs WHERE created_at >= $1 AND state = 'FAILED') AS failed_since,
        (SELECT count(*) FROM runs WHERE state = 'PENDING' AND coalesce(scheduled_for, created_at) < $2) AS late`,
      [since, dueBefore],
      "perfect_run_counts",
    );
    return { running: Number(r.running), pending: Number(r.pending), failedSince: Number(r.failed_since), late: Number(r.late) };
  }
  async flowRunSummary(flowId: number, since: number, limit: number): Promise<FlowRunSummaryRecord> {
    const counts = await this.rows(
      `SELECT state, count(*) AS n FROM runs WHERE flow_id = $1 AND created_at >= $2 GROUP BY state`,
      [flowId, since],
      "perfect_flow_summary_counts",
    );
    const done = `FROM runs WHERE flow_id = $1 AND created_at >= $2 AND state = 'COMPLETED' AND started_at IS NOT NULL AND ended_at IS NOT NULL`;
    const samples = Number((await this.rows(`SELECT count(*) AS n ${done}`, [flowId, since], "perfect_flow_summary_samples"))[0].n);
    const at = async (p: number) =>
      samples === 0
        ? null
        : Number(
            (await this.rows(`SELECT ended_at - started_at AS d ${done} ORDER BY d LIMIT 1 OFFSET $3`, [flowId, since, Math.ceil(p * samples) - 1], "perfect_flow_summary_rank"))[0].d,
          );
    const recent = await this.rows(
      `SELECT id, state, created_at, started_at, ended_at FROM runs WHERE flow_id = $1 AND created_at >= $2 ORDER BY id DESC LIMIT $3`,
      [flowId, since, limit],
      "perfect_flow_summary_recent",
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      counts: Object.fromEntries(counts.map((c) => [c.state as string, Number(c.n)])),
      p50Ms: await at(0.5),
      p95Ms: await at(0.95),
      samples,
      recent: recent
        .map((r) => ({ id: Number(r.id), state: r.state as RunState, createdAt: Number(r.created_at), startedAt: num(r.started_at), endedAt: num(r.ended_at) }))
        .reverse(),
    };
  }
  // ---------------------------------------------------------------- access control
  async countUsers(): Promise<number> {
    const rows = await this.rows(`SELECT count(*) AS n FROM users`, [], "perfect_count_users");
    return Number(rows[0].n);
  }
  async insertUser(u: NewUser): Promise<UserRecord | null> {
    const rows = await this.rows(
      `INSERT INTO users (username, password_hash, role, created_at, updated_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (username) DO NOTHING RETURNING *`,
      [u.username, u.passwordHash, u.role, u.createdAt, u.updatedAt, u.lastLoginAt],
    );
    return rows[0] ? accessRows.userOf(rows[0]) : null;
  }
  async getUser(id: number): Promise<UserRecord | undefined> {
    if (!Number.isSafeInteger(id) || Math.abs(id) > 2 ** 31 - 1) return undefined;
    const rows = await this.rows(`SELECT * FROM users WHERE id = $1`, [id], "perfect_get_user");
    return rows[0] && accessRows.userOf(rows[0]);
  }
  async getUserByName(username: string): Promise<UserRecord | undefined> {
    const rows = await this.rows(`SELECT * FROM users WHERE username = $1`, [username], "perfect_get_user_by_name");
    return rows[0] && accessRows.userOf(rows[0]);
  }
  async listUsers(): Promise<UserRecord[]> {
    return (await this.rows(`SELECT * FROM users ORDER BY username COLLATE "C"`)).map(accessRows.userOf);
  }
  async updateUser(id: number, patch: Partial<Pick<UserRecord, "role" | "passwordHash" | "updatedAt" | "lastLoginAt">>): Promise<void> {
    const cols: Record<string, string> = { role: "role", passwordHash: "password_hash", updatedAt: "updated_at", lastLoginAt: "last_login_at" };
    const keys = Object.keys(patch).filter((k) => cols[k] && (patch as Record<string, unknown>)[k] !== undefined);
    if (!keys.length) return;
    await this.rows(`UPDATE users SET ${keys.map((k, i) => `${cols[k]} = $${i + 1}`).join(", ")} WHERE id = $${keys.length + 1}`, [
      ...keys.map((k) => (patch as Record<string, unknown>)[k]),
      id,
    ]);
  }
  async deleteUser(id: number): Promise<boolean> {
    return this.atomic(async (ops) => {
      await ops.deleteSessionsOfUser(id);
      const res = await ops.q.query(`DELETE FROM users WHERE id = $1`, [id]);
      return (res.rowCount ?? 0) > 0;
    });
  }
  async lockUsers(): Promise<number[]> {
    // EXCLUSIVE blocks other writers of users (not readers) until the transaction ends: a
    // concurrent setup, demotion or deletion waits and then sees this one's outcome.
    await this.q.query(`LOCK TABLE users IN EXCLUSIVE MODE`);
    return (await this.rows(`SELECT id FROM users WHERE role = 'admin' ORDER BY id`)).map((r) => Number(r.id));
  }
  async insertSession(x: SessionRecord): Promise<void> {
    await this.rows(`INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)`, [x.idHash, x.userId, x.createdAt, x.expiresAt, x.lastSeenAt], "perfect_insert_session");
  }
  async getSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    const rows = await this.rows(
      `SELECT s.id_hash AS s_id_hash, s.user_id AS s_user_id, s.created_at AS s_created_at, s.expires_at AS s_expires_at, s.last_seen_at AS s_last_seen_at, u.*
        FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`,
      [idHash],
      "perfect_get_session",
    );
    return rows[0] && { session: accessRows.sessionOf(rows[0]), user: accessRows.userOf(rows[0]) };
  }
  async touchSession(idHash: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    await this.rows(`UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3`, [lastSeenAt, expiresAt, idHash], "perfect_touch_session");
  }
  async deleteSession(idHash: string): Promise<void> {
    await this.rows(`DELETE FROM sessions WHERE id_hash = $1`, [idHash]);
  }
  async deleteSessionsOfUser(userId: number): Promise<void> {
    await this.rows(`DELETE FROM sessions WHERE user_id = $1`, [userId]);
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    const res = await this.q.query(`DELETE FROM sessions WHERE expires_at < $1`, [now]);
    return res.rowCount ?? 0;
  }
  async insertApiToken(t: ApiTokenRecord): Promise<void> {
    await this.rows(
      `INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [t.id, t.name, t.role, t.tokenHash, t.createdBy, t.createdAt, t.lastUsedAt, t.revokedAt],
    );
  }
  async getApiToken(id: string): Promise<ApiTokenRecord | undefined> {
    const rows = await this.rows(`SELECT * FROM api_tokens WHERE id = $1`, [id], "perfect_get_api_token");
    return rows[0] && accessRows.tokenOf(rows[0]);
  }
  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return (await this.rows(`SELECT * FROM api_tokens ORDER BY created_at DESC, id COLLATE "C" DESC`)).map(accessRows.tokenOf);
  }
  async revokeApiToken(id: string, at: number): Promise<boolean> {
    const res = await this.q.query(`UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, [at, id]);
    return (res.rowCount ?? 0) > 0;
  }
  async touchApiToken(id: string, at: number): Promise<void> {
    await this.rows(`UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, [at, id], "perfect_touch_api_token");
  }
  async getLoginFailures(keys: string[]): Promise<LoginFailureRecord[]> {
    if (!keys.length) return [];
    return (await this.rows(`SELECT * FROM login_failures WHERE key = ANY($1::text[]) ORDER BY key COLLATE "C"`, [keys])).map(accessRows.failureOf);
  }
  async recordLoginFailure(key: string, now: number, windowMs: number, max: number, lockMs: number): Promise<LoginFailureRecord> {
    const rows = await this.rows(LOGIN_FAILURE_UPSERT("$1", "$2::bigint", "$3::bigint", "$4::int", "$5::bigint"), [key, now, windowMs, max, lockMs]);
    return accessRows.failureOf(rows[0]);
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.rows(`DELETE FROM login_failures WHERE key = $1`, [key]);
  }
}

function artifactOf(r: Record<string, unknown>): ArtifactRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    taskRunId: r.task_run_id === null || r.task_run_id === undefined ? null : Number(r.task_run_id),
    key: (r.key as string | null) ?? null,
    type: r.type as ArtifactRecord["type"],
    description: r.description as string,
    data: r.data,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function variableOf(r: Record<string, unknown>): VariableRecord {
  return { name: r.name as string, value: r.value, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

function deliveryOf(r: Record<string, unknown>): AlertDeliveryRecord {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    webhookId: r.webhook_id as string,
    destinationId: r.destination_id as string,
    eventType: r.event_type as AlertDeliveryRecord["eventType"],
    dedupeKey: (r.dedupe_key as string | null) ?? null,
    throttleKey: (r.throttle_key as string | null) ?? null,
    runId: num(r.run_id),
    flowName: (r.flow_name as string | null) ?? null,
    payload: r.payload as string,
    state: r.state as AlertDeliveryRecord["state"],
    attempts: Number(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    leaseUntil: num(r.lease_until),
    lastAttemptAt: num(r.last_attempt_at),
    lastStatus: num(r.last_status),
    lastError: (r.last_error as string | null) ?? null,
    deliveredAt: num(r.delivered_at),
    createdAt: Number(r.created_at),
  };
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function limitOf(r: Record<string, unknown>): ConcurrencyLimitRecord {
  return { key: r.key as string, limit: Number(r.limit), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

function slotOf(r: Record<string, unknown>): ConcurrencySlotRecord {
  return {
    id: Number(r.id),
    key: r.key as string,
    runId: Number(r.run_id),
    call: Number(r.call),
    taskName: r.task_name as string,
    clientId: r.client_id as string,
    workerId: r.worker_id as string,
    state: r.state as ConcurrencySlotRecord["state"],
    requestedAt: Number(r.requested_at),
    acquiredAt: r.acquired_at === null || r.acquired_at === undefined ? null : Number(r.acquired_at),
  };
}

/** A prepared statement name within PostgreSQL's 63-byte identifier limit, stable per text. */
function shortName(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return `${name.slice(0, 50)}_${h.toString(36)}`;
}

export class PostgresStore extends PgOps implements Store {
  readonly dialect = "postgres" as const;

  constructor(private readonly pool: pg.Pool) {
    super(pool, (fn) => this.transaction((tx) => fn(tx as PgOps)));
  }

  /**
   * BEGIN … COMMIT on one client from the pool (READ COMMITTED; getRunForUpdate takes row
   * locks), ROLLBACK when fn throws. Operations of the tx run on that client; operations that
   * need several statements (replaceWorkerFlows, recordTaskCalls, …) join it.
   */
  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection whose BEGIN, COMMIT or ROLLBACK failed is in an unknown state: destroy it.
    let broken: Error | undefined;
    try {
      try {
        await client.query("BEGIN");
      } catch (e) {
        broken = asError(e);
        throw e;
      }
      const tx: PgOps = new PgOps(client, (inner) => inner(tx));
      let out: T;
      try {
        out = await fn(tx);
      } catch (e) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          broken = asError(rollbackError);
        }
        throw e;
      }
      try {
        await client.query("COMMIT");
      } catch (e) {
        broken = asError(e);
        throw e;
      }
      return out;
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    // Reads a table of the schema: answers only when connected and migrated.
    await this.pool.query(`SELECT 1 FROM runs LIMIT 0`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
