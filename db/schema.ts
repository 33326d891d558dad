/**
 * Perfect's database schema. Each table is followed by its inferred row types.
 * Timestamps are integer milliseconds since the epoch (ISO strings only on the wire).
 * Migrations in db/migrations are generated from this file by drizzle-kit; never edit them.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { ParameterSpec } from "../lib/domain/records";
import { ALERT_DELIVERY_EVENTS, ARTIFACT_TYPES, CATCHUP_POLICIES, DELIVERY_STATES, LOG_LEVELS, OVERLAP_POLICIES, RUN_STATES, SCHEDULE_SOURCES, SENSITIVITIES, TASK_RUN_STATES, TRIGGERS, USER_ROLES, WARNINGS } from "../lib/domain/states";

export const clients = sqliteTable("clients", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  sensitivity: text("sensitivity", { enum: SENSITIVITIES }).notNull().default("normal"),
  lastSeenAt: integer("last_seen_at"),
});
export type ClientRow = typeof clients.$inferSelect;

export const workers = sqliteTable(
  "workers",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull().references(() => clients.id),
    hostname: text("hostname"),
    pid: integer("pid"),
    sdkVersion: text("sdk_version"),
    registeredAt: integer("registered_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
  },
  (t) => [index("workers_client_idx").on(t.clientId)],
);
export type WorkerRow = typeof workers.$inferSelect;

export const flows = sqliteTable(
  "flows",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clientId: text("client_id").notNull().references(() => clients.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** JSON object string → string; display only (history filters use run_tags). */
    tags: text("tags", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
    /** JSON array of { name, type, default?, required, choices?, kind? }. */
    parameters: text("parameters", { mode: "json" }).$type<ParameterSpec[]>().notNull().default([]),
    /** The definition's version (the SDK's code hash): runs carry it, so only workers serving it claim them. */
    version: text("version").notNull().default(""),
    /** `@flow(max_active_runs=N)`: at most N runs RUNNING across all workers; null: no limit. */
    maxActiveRuns: integer("max_active_runs"),
    registeredAt: integer("registered_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("flows_client_name_idx").on(t.clientId, t.name)],
);
export type FlowRow = typeof flows.$inferSelect;

export const flowTasks = sqliteTable(
  "flow_tasks",
  {
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    name: text("name").notNull(),
    estimatedTime: integer("estimated_time"),
    description: text("description").notNull().default(""),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.position] })],
);
export type FlowTaskRow = typeof flowTasks.$inferSelect;

/** Which flows (at which version) each worker process registered: the routing table of claims. */
export const workerFlows = sqliteTable(
  "worker_flows",
  {
    workerId: text("worker_id").notNull().references(() => workers.id, { onDelete: "cascade" }),
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    version: text("version").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workerId, t.flowId] }), index("worker_flows_flow_idx").on(t.flowId, t.version)],
);
export type WorkerFlowRow = typeof workerFlows.$inferSelect;

/** A flow's schedules: the scheduler sleeps until the earliest next_fire_at of the active ones. */
export const schedules = sqliteTable(
  "schedules",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    source: text("source", { enum: SCHEDULE_SOURCES }).notNull(),
    /** For code schedules: a hash of the definition, so a registration keeps unchanged ones. */
    codeKey: text("code_key"),
    cron: text("cron"),
    intervalSeconds: integer("interval_seconds"),
    anchor: integer("anchor"),
    timezone: text("timezone").notNull().default("UTC"),
    parameters: text("parameters", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    catchup: text("catchup", { enum: CATCHUP_POLICIES }).notNull().default("skip"),
    overlap: text("overlap", { enum: OVERLAP_POLICIES }).notNull().default("allow"),
    /** The next fire time not yet handled; null while paused. */
    nextFireAt: integer("next_fire_at"),
    lastFiredFor: integer("last_fired_for"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("schedules_flow_idx").on(t.flowId, t.id),
    index("schedules_due_idx").on(t.nextFireAt).where(sql`next_fire_at IS NOT NULL`),
  ],
);
export type ScheduleRow = typeof schedules.$inferSelect;

export const runs = sqliteTable(
  "runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    flowId: integer("flow_id").notNull().references(() => flows.id),
    clientId: text("client_id").notNull().references(() => clients.id),
    /** Snapshot of the flow name at trigger time, so history reads need no join. */
    flowName: text("flow_name").notNull(),
    /** The flow version the run was triggered at: claimed only by a worker serving that version. */
    flowVersion: text("flow_version").notNull().default(""),
    state: text("state", { enum: RUN_STATES }).notNull(),
    parameters: text("parameters", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    /** Snapshot of the flow's tags at trigger time (JSON); filtering uses run_tags. */
    tags: text("tags", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
    trigger: text("trigger", { enum: TRIGGERS }).notNull(),
    workerId: text("worker_id"),
    createdAt: integer("created_at").notNull(),
    claimedAt: integer("claimed_at"),
    startedAt: integer("started_at"),
    endedAt: integer("ended_at"),
    error: text("error"),
    /** High-water mark of weighted progress: never goes backwards while RUNNING. */
    progress: real("progress").notNull().default(0),
    /** Highest worker event sequence number applied (idempotent re-sends). */
    lastSeq: integer("last_seq").notNull().default(0),
    cancelRequestedAt: integer("cancel_requested_at"),
    /** Consecutive heartbeats of the claiming worker that did not list this run (lost claims). */
    unreportedBeats: integer("unreported_beats").notNull().default(0),
    /** The schedule that made the run (no foreign key: runs outlive a deleted schedule). */
    scheduleId: integer("schedule_id"),
    scheduledFor: integer("scheduled_for"),
    /** Overlap `queue`: claimable only once every earlier run of its schedule has finished. */
    serial: integer("serial", { mode: "boolean" }).notNull().default(false),
    /** Its flow had max_active_runs at creation: claimed under the flow's limit, never by the fast path. */
    limited: integer("limited", { mode: "boolean" }).notNull().default(false),
    /** The run this one retries (no foreign key: either may be pruned on its own). */
    retryOf: integer("retry_of"),
    /** A subflow's parent run (the run whose flow called this one's flow). */
    parentRunId: integer("parent_run_id"),
    /** The parent's task call that stands for this subflow (its progress is this run's). */
    parentCall: integer("parent_call"),
    /** Who made the run: a user or API token name, `schedule`, or the worker of a direct run. */
    triggeredBy: text("triggered_by"),
    /** Who asked to cancel it (user or token name), when someone did. */
    cancelledBy: text("cancelled_by"),
  },
  (t) => [
    // One run per (schedule, fire time), across restarts, crashes and instances.
    uniqueIndex("runs_schedule_fire_idx").on(t.scheduleId, t.scheduledFor),
    // The limited claim: a client's pending limited runs, and the RUNNING count of a flow.
    index("runs_limited_pending_idx").on(t.clientId, t.id).where(sql`state = 'PENDING' AND limited`),
    index("runs_flow_running_idx").on(t.flowId).where(sql`state = 'RUNNING'`),
    index("runs_retry_of_idx").on(t.retryOf).where(sql`retry_of IS NOT NULL`),
    index("runs_parent_idx").on(t.parentRunId).where(sql`parent_run_id IS NOT NULL`),
    index("runs_triggered_by_idx").on(t.triggeredBy, t.id).where(sql`triggered_by IS NOT NULL`),
    index("runs_client_state_idx").on(t.clientId, t.state, t.id),
    // History by client, newest first: without it the planner sorts every run of the client.
    index("runs_client_idx").on(t.clientId, t.id),
    index("runs_state_idx").on(t.state, t.id),
    index("runs_flow_idx").on(t.flowId, t.id),
    index("runs_created_idx").on(t.createdAt),
    index("runs_worker_state_idx").on(t.workerId, t.state),
  ],
);
export type RunRow = typeof runs.$inferSelect;

export const runTags = sqliteTable(
  "run_tags",
  {
    runId: integer("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index("run_tags_kv_idx").on(t.key, t.value, t.runId)],
);

export const taskRuns = sqliteTable(
  "task_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
    /** Denormalised from the run so the statistics window is one index range. */
    flowId: integer("flow_id").notNull(),
    position: integer("position").notNull(),
    /** The worker's 0-based invocation index, set when the task starts. */
    callIndex: integer("call_index"),
    name: text("name").notNull(),
    /** The task's weight in ms (its estimatedTime, or the run's fallback weight). */
    weight: real("weight").notNull(),
    estimatedTime: integer("estimated_time"),
    state: text("state", { enum: TASK_RUN_STATES }).notNull(),
    /** Fraction the SDK reported for this task, or null when it never reported one. */
    reportedProgress: real("reported_progress"),
    progressChangedAt: integer("progress_changed_at"),
    startedAt: integer("started_at"),
    /** Start of the current attempt: live outliers and stalls judge this attempt, not its retries. */
    attemptStartedAt: integer("attempt_started_at"),
    endedAt: integer("ended_at"),
    durationMs: integer("duration_ms"),
    attempt: integer("attempt").notNull().default(1),
    warning: text("warning", { enum: WARNINGS }),
    zScore: real("z_score"),
    threshold: real("threshold"),
    stalled: integer("stalled", { mode: "boolean" }).notNull().default(false),
    error: text("error"),
  },
  (t) => [
    uniqueIndex("task_runs_run_pos_idx").on(t.runId, t.position),
    // Covering for the statistics window (duration_ms included): one index range per task
    // completion instead of 100 table lookups (profiled at ~6 % of server CPU at 1,000 task runs/s).
    index("task_runs_stats_idx").on(t.flowId, t.name, t.endedAt, t.durationMs).where(sql`state = 'COMPLETED'`),
    index("task_runs_running_idx").on(t.state).where(sql`state = 'RUNNING'`),
  ],
);
export type TaskRunRow = typeof taskRuns.$inferSelect;

export const logs = sqliteTable(
  "logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id").notNull().references(() => runs.id, { onDelete: "cascade" }),
    taskRunId: integer("task_run_id"),
    /** Per-run order: the worker event seq, or a server-side sequence for server lines. */
    seq: integer("seq").notNull(),
    level: text("level", { enum: LOG_LEVELS }).notNull(),
    message: text("message").notNull(),
    ts: integer("ts").notNull(),
  },
  (t) => [index("logs_run_idx").on(t.runId, t.id)],
);
export type LogRow = typeof logs.$inferSelect;

export const taskStats = sqliteTable(
  "task_stats",
  {
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    taskName: text("task_name").notNull(),
    clientId: text("client_id").notNull(),
    mean: real("mean").notNull(),
    stddev: real("stddev").notNull(),
    samples: integer("samples").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** JSON array of the window's durations, oldest first (what the chart draws). */
    recent: text("recent", { mode: "json" }).$type<number[]>().notNull().default([]),
    /** JSON array of calls per completed run (newest last, ≤ 100): a loop's expected call count. */
    callsRecent: text("calls_recent", { mode: "json" }).$type<number[]>().notNull().default([]),
    /** Mean of callsRecent (1 without history). */
    callsMean: real("calls_mean").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.taskName] })],
);
export type TaskStatRow = typeof taskStats.$inferSelect;

/** A global concurrency limit: at most `limit` task calls of `@task(concurrency_key=key)` at once. */
export const concurrencyLimits = sqliteTable("concurrency_limits", {
  key: text("key").primaryKey(),
  limit: integer("limit").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
export type ConcurrencyLimitRow = typeof concurrencyLimits.$inferSelect;

/**
 * A task call's claim on a key: WAITING in line (oldest first), then HELD. A lease of its run:
 * deleted when released, when the run ends (any way, the heartbeat monitor's "lost" included),
 * so a killed worker never keeps a slot.
 */
export const concurrencySlots = sqliteTable(
  "concurrency_slots",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    key: text("key").notNull(),
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    /** The task call (within the run) the slot is for. */
    call: integer("call").notNull(),
    taskName: text("task_name").notNull(),
    clientId: text("client_id").notNull(),
    workerId: text("worker_id").notNull(),
    state: text("state", { enum: ["WAITING", "HELD"] }).notNull(),
    requestedAt: integer("requested_at").notNull(),
    acquiredAt: integer("acquired_at"),
  },
  (t) => [
    uniqueIndex("concurrency_slots_call_idx").on(t.runId, t.call, t.key),
    index("concurrency_slots_key_idx").on(t.key, t.state, t.id),
  ],
);
export type ConcurrencySlotRow = typeof concurrencySlots.$inferSelect;

/**
 * The alert outbox: one row per (event, destination), written in the transaction of the change
 * that raised it, so a crash between the change and the send loses nothing. The delivery loop
 * sends due PENDING rows (claimed with a lease so one instance sends each), retries with backoff
 * for a day under the same webhook_id, and ends them DELIVERED or DEAD.
 */
export const alertDeliveries = sqliteTable(
  "alert_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Standard Webhooks `webhook-id`: the same on every retry of this delivery. */
    webhookId: text("webhook_id").notNull(),
    destinationId: text("destination_id").notNull(),
    eventType: text("event_type", { enum: ALERT_DELIVERY_EVENTS }).notNull(),
    /** One delivery per destination per occurrence (e.g. `task.slow:<task run>:<attempt>`). */
    dedupeKey: text("dedupe_key"),
    /** The rule's throttle bucket (rule, destination, flow): THROTTLED when one was sent within throttleSeconds. */
    throttleKey: text("throttle_key"),
    runId: integer("run_id"),
    flowName: text("flow_name"),
    /** The exact body sent ({ type, id, timestamp, data }), fixed at creation so every retry signs the same bytes. */
    payload: text("payload").notNull(),
    state: text("state", { enum: DELIVERY_STATES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    /** A sender's lease: another instance skips the row until then. */
    leaseUntil: integer("lease_until"),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("alert_deliveries_webhook_idx").on(t.webhookId),
    uniqueIndex("alert_deliveries_dedupe_idx").on(t.destinationId, t.dedupeKey),
    index("alert_deliveries_due_idx").on(t.nextAttemptAt).where(sql`state = 'PENDING'`),
    index("alert_deliveries_destination_idx").on(t.destinationId, t.id),
    index("alert_deliveries_throttle_idx").on(t.throttleKey, t.createdAt).where(sql`throttle_key IS NOT NULL`),
  ],
);
export type AlertDeliveryRow = typeof alertDeliveries.$inferSelect;

/** Every send of a delivery: when, the receiver's status code (null when none came), the error, how long. */
export const alertAttempts = sqliteTable(
  "alert_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    deliveryId: integer("delivery_id")
      .notNull()
      .references(() => alertDeliveries.id, { onDelete: "cascade" }),
    at: integer("at").notNull(),
    status: integer("status"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("alert_attempts_delivery_idx").on(t.deliveryId, t.id)],
);
export type AlertAttemptRow = typeof alertAttempts.$inferSelect;

/** Dashboard users. The password is only ever stored as a salted scrypt hash. */
export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    username: text("username").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: USER_ROLES }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastLoginAt: integer("last_login_at"),
  },
  (t) => [uniqueIndex("users_username_idx").on(t.username)],
);
export type UserRow = typeof users.$inferSelect;

/** Login sessions: the cookie holds a random id, the table only its SHA-256 (a stolen database opens no session). */
export const sessions = sqliteTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_expires_idx").on(t.expiresAt)],
);
export type SessionRow = typeof sessions.$inferSelect;

/** API tokens for scripts and the CLI: a public id to find the row, the secret only as a scrypt hash. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role", { enum: USER_ROLES }).notNull(),
    tokenHash: text("token_hash").notNull(),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("api_tokens_created_idx").on(t.createdAt)],
);
export type ApiTokenRow = typeof apiTokens.$inferSelect;

/** Failed logins per key (`user:<name>` or `addr:<ip>`), shared by every instance: the login rate limit. */
export const loginFailures = sqliteTable("login_failures", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  windowStartedAt: integer("window_started_at").notNull(),
  lockedUntil: integer("locked_until"),
});
export type LoginFailureRow = typeof loginFailures.$inferSelect;

/** What a run published for its run view (markdown, table, link, progress); a keyed progress artifact is updated in place. */
export const artifacts = sqliteTable(
  "artifacts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    taskRunId: integer("task_run_id"),
    key: text("key"),
    type: text("type", { enum: ARTIFACT_TYPES }).notNull(),
    description: text("description").notNull().default(""),
    data: text("data", { mode: "json" }).$type<unknown>().notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("artifacts_run_idx").on(t.runId, t.id), index("artifacts_key_idx").on(t.key, t.id).where(sql`key IS NOT NULL`)],
);
export type ArtifactRow = typeof artifacts.$inferSelect;

/** Named values flows read at run time (Prefect's `Variable`). */
export const variables = sqliteTable("variables", {
  name: text("name").primaryKey(),
  value: text("value", { mode: "json" }).$type<unknown>().notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
export type VariableRow = typeof variables.$inferSelect;
