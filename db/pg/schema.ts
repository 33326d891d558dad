/**
 * Perfect's PostgreSQL schema: db/schema.ts (SQLite) table for table, column for column, index
 * for index, so both adapters answer every query the same way. Times are epoch ms in bigint
 * (mapped to JS numbers), JSON fields are jsonb, reals are double precision.
 * Migrations in db/pg-migrations are generated from this file by drizzle-kit
 * (`npm run db:generate:pg`); never edit them.
 */
import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, serial, text, uniqueIndex } from "drizzle-orm/pg-core";
import type { ParameterSpec } from "../../lib/domain/records";
import { ALERT_DELIVERY_EVENTS, ARTIFACT_TYPES, CATCHUP_POLICIES, DELIVERY_STATES, LOG_LEVELS, OVERLAP_POLICIES, RUN_STATES, SCHEDULE_SOURCES, SENSITIVITIES, TASK_RUN_STATES, TRIGGERS, USER_ROLES, WARNINGS } from "../../lib/domain/states";

/** Epoch milliseconds: int8 in the database, a JS number in the records (safe to 2^53). */
const ms = (name: string) => bigint(name, { mode: "number" });

export const clients = pgTable("clients", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  sensitivity: text("sensitivity", { enum: SENSITIVITIES }).notNull().default("normal"),
  lastSeenAt: ms("last_seen_at"),
});

export const workers = pgTable(
  "workers",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull().references(() => clients.id),
    hostname: text("hostname"),
    pid: integer("pid"),
    sdkVersion: text("sdk_version"),
    registeredAt: ms("registered_at").notNull(),
    lastSeenAt: ms("last_seen_at").notNull(),
  },
  (t) => [index("workers_client_idx").on(t.clientId)],
);

export const flows = pgTable(
  "flows",
  {
    id: serial("id").primaryKey(),
    clientId: text("client_id").notNull().references(() => clients.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** Object string → string; display only (history filters use run_tags). */
    tags: jsonb("tags").$type<Record<string, string>>().notNull().default({}),
    parameters: jsonb("parameters").$type<ParameterSpec[]>().notNull().default([]),
    /** The definition's version (the SDK's code hash): runs carry it, so only workers serving it claim them. */
    version: text("version").notNull().default(""),
    /** `@flow(max_active_runs=N)`: at most N runs RUNNING across all workers; null: no limit. */
    maxActiveRuns: integer("max_active_runs"),
    registeredAt: ms("registered_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("flows_client_name_idx").on(t.clientId, t.name)],
);

export const flowTasks = pgTable(
  "flow_tasks",
  {
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    name: text("name").notNull(),
    estimatedTime: ms("estimated_time"),
    description: text("description").notNull().default(""),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.position] })],
);

/** Which flows (at which version) each worker process registered: the routing table of claims. */
export const workerFlows = pgTable(
  "worker_flows",
  {
    workerId: text("worker_id").notNull().references(() => workers.id, { onDelete: "cascade" }),
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    version: text("version").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workerId, t.flowId] }), index("worker_flows_flow_idx").on(t.flowId, t.version)],
);

/** A flow's schedules: the scheduler sleeps until the earliest next_fire_at of the active ones. */
export const schedules = pgTable(
  "schedules",
  {
    id: serial("id").primaryKey(),
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    source: text("source", { enum: SCHEDULE_SOURCES }).notNull(),
    /** For code schedules: a hash of the definition, so a registration keeps unchanged ones. */
    codeKey: text("code_key"),
    cron: text("cron"),
    intervalSeconds: integer("interval_seconds"),
    anchor: ms("anchor"),
    timezone: text("timezone").notNull().default("UTC"),
    parameters: jsonb("parameters").$type<Record<string, unknown>>().notNull().default({}),
    active: boolean("active").notNull().default(true),
    catchup: text("catchup", { enum: CATCHUP_POLICIES }).notNull().default("skip"),
    overlap: text("overlap", { enum: OVERLAP_POLICIES }).notNull().default("allow"),
    /** The next fire time not yet handled; null while paused. */
    nextFireAt: ms("next_fire_at"),
    lastFiredFor: ms("last_fired_for"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    index("schedules_flow_idx").on(t.flowId, t.id),
    index("schedules_due_idx").on(t.nextFireAt).where(sql`next_fire_at IS NOT NULL`),
  ],
);

export const runs = pgTable(
  "runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    flowId: integer("flow_id").notNull().references(() => flows.id),
    clientId: text("client_id").notNull().references(() => clients.id),
    /** Snapshot of the flow name at trigger time, so history reads need no join. */
    flowName: text("flow_name").notNull(),
    /** The flow version the run was triggered at: claimed only by a worker serving that version. */
    flowVersion: text("flow_version").notNull().default(""),
    state: text("state", { enum: RUN_STATES }).notNull(),
    parameters: jsonb("parameters").$type<Record<string, unknown>>().notNull().default({}),
    /** Snapshot of the flow's tags at trigger time; filtering uses run_tags. */
    tags: jsonb("tags").$type<Record<string, string>>().notNull().default({}),
    trigger: text("trigger", { enum: TRIGGERS }).notNull(),
    workerId: text("worker_id"),
    createdAt: ms("created_at").notNull(),
    claimedAt: ms("claimed_at"),
    startedAt: ms("started_at"),
    endedAt: ms("ended_at"),
    error: text("error"),
    /** High-water mark of weighted progress: never goes backwards while RUNNING. */
    progress: doublePrecision("progress").notNull().default(0),
    /** Highest worker event sequence number applied (idempotent re-sends). */
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    cancelRequestedAt: ms("cancel_requested_at"),
    /** Consecutive heartbeats of the claiming worker that did not list this run (lost claims). */
    unreportedBeats: integer("unreported_beats").notNull().default(0),
    /** The schedule that made the run (no foreign key: runs outlive a deleted schedule). */
    scheduleId: integer("schedule_id"),
    scheduledFor: ms("scheduled_for"),
    /** Overlap `queue`: claimable only once every earlier run of its schedule has finished. */
    serial: boolean("serial").notNull().default(false),
    /** Its flow had max_active_runs at creation: claimed under the flow's limit, never by the fast path. */
    limited: boolean("limited").notNull().default(false),
    /** The run this one retries (no foreign key: either may be pruned on its own). */
    retryOf: bigint("retry_of", { mode: "number" }),
    /** A subflow's parent run (the run whose flow called this one's flow). */
    parentRunId: bigint("parent_run_id", { mode: "number" }),
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
    index("runs_client_idx").on(t.clientId, t.id),
    index("runs_state_idx").on(t.state, t.id),
    index("runs_flow_idx").on(t.flowId, t.id),
    index("runs_created_idx").on(t.createdAt),
    index("runs_worker_state_idx").on(t.workerId, t.state),
  ],
);

export const runTags = pgTable(
  "run_tags",
  {
    runId: bigint("run_id", { mode: "number" }).notNull().references(() => runs.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index("run_tags_kv_idx").on(t.key, t.value, t.runId)],
);

export const taskRuns = pgTable(
  "task_runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: bigint("run_id", { mode: "number" }).notNull().references(() => runs.id, { onDelete: "cascade" }),
    /** Denormalised from the run so the statistics window is one index range. */
    flowId: integer("flow_id").notNull(),
    position: integer("position").notNull(),
    /** The worker's 0-based invocation index, set when the task starts. */
    callIndex: integer("call_index"),
    name: text("name").notNull(),
    /** The task's weight in ms (its estimatedTime, or the run's fallback weight). */
    weight: doublePrecision("weight").notNull(),
    estimatedTime: ms("estimated_time"),
    state: text("state", { enum: TASK_RUN_STATES }).notNull(),
    reportedProgress: doublePrecision("reported_progress"),
    progressChangedAt: ms("progress_changed_at"),
    startedAt: ms("started_at"),
    /** Start of the current attempt: live outliers and stalls judge this attempt, not its retries. */
    attemptStartedAt: ms("attempt_started_at"),
    endedAt: ms("ended_at"),
    durationMs: ms("duration_ms"),
    attempt: integer("attempt").notNull().default(1),
    warning: text("warning", { enum: WARNINGS }),
    zScore: doublePrecision("z_score"),
    threshold: doublePrecision("threshold"),
    stalled: boolean("stalled").notNull().default(false),
    error: text("error"),
  },
  (t) => [
    uniqueIndex("task_runs_run_pos_idx").on(t.runId, t.position),
    // Covering for the statistics window (duration_ms included), as in SQLite.
    index("task_runs_stats_idx").on(t.flowId, t.name, t.endedAt, t.durationMs).where(sql`state = 'COMPLETED'`),
    index("task_runs_running_idx").on(t.state).where(sql`state = 'RUNNING'`),
  ],
);

export const logs = pgTable(
  "logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: bigint("run_id", { mode: "number" }).notNull().references(() => runs.id, { onDelete: "cascade" }),
    taskRunId: bigint("task_run_id", { mode: "number" }),
    /** Per-run order: the worker event seq, or a server-side sequence for server lines. */
    seq: bigint("seq", { mode: "number" }).notNull(),
    level: text("level", { enum: LOG_LEVELS }).notNull(),
    message: text("message").notNull(),
    ts: ms("ts").notNull(),
  },
  (t) => [index("logs_run_idx").on(t.runId, t.id)],
);

export const taskStats = pgTable(
  "task_stats",
  {
    flowId: integer("flow_id").notNull().references(() => flows.id, { onDelete: "cascade" }),
    taskName: text("task_name").notNull(),
    clientId: text("client_id").notNull(),
    mean: doublePrecision("mean").notNull(),
    stddev: doublePrecision("stddev").notNull(),
    samples: integer("samples").notNull(),
    updatedAt: ms("updated_at").notNull(),
    /** The window's durations, oldest first (what the chart draws). */
    recent: jsonb("recent").$type<number[]>().notNull().default([]),
    /** Calls per completed run (newest last, ≤ 100): a loop's expected call count. */
    callsRecent: jsonb("calls_recent").$type<number[]>().notNull().default([]),
    /** Mean of callsRecent (1 without history). */
    callsMean: doublePrecision("calls_mean").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.flowId, t.taskName] })],
);

/** A global concurrency limit: at most `limit` task calls of `@task(concurrency_key=key)` at once. */
export const concurrencyLimits = pgTable("concurrency_limits", {
  key: text("key").primaryKey(),
  limit: integer("limit").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/**
 * A task call's claim on a key: WAITING in line (oldest first), then HELD. A lease of its run:
 * deleted when released, when the run ends (any way, the heartbeat monitor's "lost" included),
 * so a killed worker never keeps a slot.
 */
export const concurrencySlots = pgTable(
  "concurrency_slots",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    key: text("key").notNull(),
    runId: bigint("run_id", { mode: "number" })
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    /** The task call (within the run) the slot is for. */
    call: integer("call").notNull(),
    taskName: text("task_name").notNull(),
    clientId: text("client_id").notNull(),
    workerId: text("worker_id").notNull(),
    state: text("state", { enum: ["WAITING", "HELD"] }).notNull(),
    requestedAt: ms("requested_at").notNull(),
    acquiredAt: ms("acquired_at"),
  },
  (t) => [
    uniqueIndex("concurrency_slots_call_idx").on(t.runId, t.call, t.key),
    index("concurrency_slots_key_idx").on(t.key, t.state, t.id),
  ],
);

/** The alert outbox (db/schema.ts explains each column). */
export const alertDeliveries = pgTable(
  "alert_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    webhookId: text("webhook_id").notNull(),
    destinationId: text("destination_id").notNull(),
    eventType: text("event_type", { enum: ALERT_DELIVERY_EVENTS }).notNull(),
    dedupeKey: text("dedupe_key"),
    throttleKey: text("throttle_key"),
    runId: bigint("run_id", { mode: "number" }),
    flowName: text("flow_name"),
    payload: text("payload").notNull(),
    state: text("state", { enum: DELIVERY_STATES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at"),
    leaseUntil: ms("lease_until"),
    lastAttemptAt: ms("last_attempt_at"),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    deliveredAt: ms("delivered_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("alert_deliveries_webhook_idx").on(t.webhookId),
    uniqueIndex("alert_deliveries_dedupe_idx").on(t.destinationId, t.dedupeKey),
    index("alert_deliveries_due_idx").on(t.nextAttemptAt).where(sql`state = 'PENDING'`),
    index("alert_deliveries_destination_idx").on(t.destinationId, t.id),
    index("alert_deliveries_throttle_idx").on(t.throttleKey, t.createdAt).where(sql`throttle_key IS NOT NULL`),
  ],
);

export const alertAttempts = pgTable(
  "alert_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    deliveryId: bigint("delivery_id", { mode: "number" })
      .notNull()
      .references(() => alertDeliveries.id, { onDelete: "cascade" }),
    at: ms("at").notNull(),
    status: integer("status"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("alert_attempts_delivery_idx").on(t.deliveryId, t.id)],
);

export const users = pgTable(
  "users",
  {
    id: serial("id").primaryKey(),
    username: text("username").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: USER_ROLES }).notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
    lastLoginAt: ms("last_login_at"),
  },
  (t) => [uniqueIndex("users_username_idx").on(t.username)],
);

export const sessions = pgTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: ms("created_at").notNull(),
    expiresAt: ms("expires_at").notNull(),
    lastSeenAt: ms("last_seen_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_expires_idx").on(t.expiresAt)],
);

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role", { enum: USER_ROLES }).notNull(),
    tokenHash: text("token_hash").notNull(),
    createdBy: text("created_by"),
    createdAt: ms("created_at").notNull(),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
  },
  (t) => [index("api_tokens_created_idx").on(t.createdAt)],
);

export const loginFailures = pgTable("login_failures", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull(),
  windowStartedAt: ms("window_started_at").notNull(),
  lockedUntil: ms("locked_until"),
});

export const artifacts = pgTable(
  "artifacts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: bigint("run_id", { mode: "number" })
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    taskRunId: bigint("task_run_id", { mode: "number" }),
    key: text("key"),
    type: text("type", { enum: ARTIFACT_TYPES }).notNull(),
    description: text("description").notNull().default(""),
    data: jsonb("data").$type<unknown>().notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("artifacts_run_idx").on(t.runId, t.id), index("artifacts_key_idx").on(t.key, t.id).where(sql`key IS NOT NULL`)],
);

export const variables = pgTable("variables", {
  name: text("name").primaryKey(),
  value: jsonb("value").$type<unknown>().notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});
