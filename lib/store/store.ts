/**
 * The storage backend the engine is given: an asynchronous store in domain terms, a run
 * notifier (wakes long polls) and a change feed (dashboards' SSE). SQLite and PostgreSQL each
 * implement all three in lib/store/<dialect>/; nothing above this file imports a driver, a
 * Drizzle schema or encodes JSON.
 */
import type { Change } from "../domain/changes";
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
  SessionRecord,
  ScheduleRecord,
  SlotListingRecord,
  TaskRunRecord,
  TaskStatRecord,
  VariableRecord,
  UserRecord,
  WorkerFlowRecord,
  RunCountsRecord,
  WorkerRecord,
} from "../domain/records";
import type { RunState, Sensitivity, Warning } from "../domain/states";

/** Access control (lib/auth): users, sessions, API tokens and the shared login-failure counters. */
export interface AccessStoreOps {
  countUsers(): Promise<number>;
  /** The new user, or null when the username is taken (nothing written). */
  insertUser(u: NewUser): Promise<UserRecord | null>;
  getUser(id: number): Promise<UserRecord | undefined>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  /** Every user, by username (byte order). */
  listUsers(): Promise<UserRecord[]>;
  updateUser(id: number, patch: Partial<Pick<UserRecord, "role" | "passwordHash" | "updatedAt" | "lastLoginAt">>): Promise<void>;
  /** Deletes the user (their sessions go with them); whether there was one. */
  deleteUser(id: number): Promise<boolean>;
  /**
   * Locks the users against other writers until the transaction ends (PostgreSQL: LOCK TABLE
   * … EXCLUSIVE; SQLite: the write transaction already does) and returns the admins' ids, so
   * two setups, or two demotions of the last two admins, cannot both succeed. Only inside transaction().
   */
  lockUsers(): Promise<number[]>;

  insertSession(s: SessionRecord): Promise<void>;
  /** The session and its user in one indexed lookup (what every authenticated request costs). */
  getSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined>;
  /** Slides the session: lastSeenAt and expiresAt. */
  touchSession(idHash: string, lastSeenAt: number, expiresAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  deleteSessionsOfUser(userId: number): Promise<void>;
  /** Removes sessions that expired before `now`; how many. */
  deleteExpiredSessions(now: number): Promise<number>;

  insertApiToken(t: ApiTokenRecord): Promise<void>;
  getApiToken(id: string): Promise<ApiTokenRecord | undefined>;
  /** Every token, newest first. */
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** Sets revokedAt once; whether the token existed and was not revoked yet. */
  revokeApiToken(id: string, at: number): Promise<boolean>;
  touchApiToken(id: string, at: number): Promise<void>;

  getLoginFailures(keys: string[]): Promise<LoginFailureRecord[]>;
  /**
   * One more failure of `key`, atomically (every instance shares the count): a window older than
   * `windowMs` starts again at 1; reaching `max` failures locks the key until now + lockMs.
   */
  recordLoginFailure(key: string, now: number, windowMs: number, max: number, lockMs: number): Promise<LoginFailureRecord>;
  clearLoginFailures(key: string): Promise<void>;
}

/** Every operation of the store. Inside a transaction they run on its connection. */
export interface StoreOps extends AccessStoreOps {
  upsertClient(c: { id: string; name: string; sensitivity: Sensitivity }): Promise<void>;
  listClients(): Promise<ClientRecord[]>;
  touchClient(id: string, at: number): Promise<void>;

  insertWorker(w: WorkerRecord): Promise<void>;
  getWorker(id: string): Promise<WorkerRecord | undefined>;
  /** Records a sign of life (only moves lastSeenAt forward). */
  touchWorker(id: string, at: number): Promise<void>;
  listWorkers(clientId?: string): Promise<WorkerRecord[]>;
  /** Forgets worker processes last seen before `before` (their routing rows go with them); returns their ids. */
  deleteWorkersSeenBefore(before: number): Promise<string[]>;
  /** A worker process that said goodbye, with its routing rows; false when it was not stored. */
  deleteWorker(id: string): Promise<boolean>;
  /** The flows (and versions) a worker process serves; replaces what it registered before. */
  replaceWorkerFlows(workerId: string, served: { flowId: number; version: string }[]): Promise<void>;
  listWorkerFlows(flowIds: number[]): Promise<WorkerFlowRecord[]>;
  listFlowsOfWorker(workerId: string): Promise<WorkerFlowRecord[]>;

  /** Insert or replace by (clientId, name); returns the flow id. */
  upsertFlow(f: Omit<FlowRecord, "id">): Promise<number>;
  replaceFlowTasks(flowId: number, tasks: Omit<FlowTaskRecord, "flowId">[]): Promise<void>;
  getFlow(id: number): Promise<FlowRecord | undefined>;
  /** Every flow whose name contains the text (case-insensitive), by name. */
  listFlows(nameContains?: string): Promise<FlowRecord[]>;
  /** Flows ordered by (name, id), after the cursor's flow; `limit` rows at most. */
  listFlowsPage(q: { name?: string; after?: { name: string; id: number }; limit: number }): Promise<FlowRecord[]>;
  countFlowsByClient(): Promise<Map<string, number>>;
  listFlowTasks(flowIds: number[]): Promise<FlowTaskRecord[]>;
  /** The newest run of each flow that has one. */
  lastRunsOfFlows(flowIds: number[]): Promise<RunRecord[]>;

  insertRun(run: NewRun): Promise<number>;
  insertRunTags(runId: number, tags: Record<string, string>): Promise<void>;
  getRun(id: number): Promise<RunRecord | undefined>;
  /**
   * The run, locked until the transaction ends (PostgreSQL: SELECT … FOR UPDATE), so two
   * batches or a batch and the monitor cannot interleave on one run. Only inside transaction().
   */
  getRunForUpdate(id: number): Promise<RunRecord | undefined>;
  updateRun(id: number, patch: Partial<Omit<RunRecord, "id">>): Promise<void>;
  /**
   * Conditional update: applies the patch only while the run is still in state `from`;
   * returns whether it did (each transition happens once across instances).
   */
  updateRunIf(id: number, from: RunState, patch: Partial<Omit<RunRecord, "id">>): Promise<boolean>;
  /**
   * Claims up to `max` PENDING runs of the client that this worker serves (flow at the run's
   * version, see replaceWorkerFlows), oldest first — a `serial` run only while no earlier run
   * of its schedule is PENDING or RUNNING: RUNNING, owned by the worker, claimedAt =
   * startedAt = now. Atomic: a run goes to one claimer (PostgreSQL: FOR UPDATE SKIP LOCKED).
   */
  claimPendingRuns(clientId: string, workerId: string, max: number, now: number): Promise<RunRecord[]>;
  /** History: newest first, keyset-paginated by id. */
  listRuns(q: RunFilter): Promise<RunPage>;
  listRunsInState(state: RunState): Promise<RunRecord[]>;
  listRunsOfWorker(workerId: string, runIds: number[]): Promise<RunRecord[]>;
  /** RUNNING runs claimed by a worker (what its heartbeat should list). */
  listActiveRunsOfWorker(workerId: string): Promise<RunRecord[]>;

  /** Inserts task runs; their ids, in the order given. */
  insertTaskRuns(rows: NewTaskRun[]): Promise<number[]>;
  insertTaskRun(row: NewTaskRun): Promise<number>;
  listTaskRuns(runId: number): Promise<TaskRunRecord[]>;
  updateTaskRun(id: number, patch: Partial<Omit<TaskRunRecord, "id">>): Promise<void>;
  /** Writes what a batch changes on each of these task runs (call, state, progress, times, attempt, warning, stall, error) in one step. */
  updateTaskRuns(rows: readonly TaskRunRecord[]): Promise<void>;
  listRunningTaskRuns(): Promise<RunningTaskRecord[]>;
  /** Worst warning and any stall per run, for runs that have one. */
  countWarnings(runIds: number[]): Promise<Map<number, { warning: Warning | null; stalled: boolean }>>;

  /** Returns the id of the last row inserted (0 when rows is empty). */
  insertLogs(rows: NewLog[]): Promise<number>;
  listLogs(runId: number, opts: { after: number; taskRunId?: number; levels: string[]; limit: number; q?: string }): Promise<LogRecord[]>;

  getTaskStat(flowId: number, taskName: string): Promise<TaskStatRecord | undefined>;
  getTaskStats(flowId: number): Promise<TaskStatRecord[]>;
  /** For each named task, the durations of its last `limit` COMPLETED task runs, newest first (one entry per name, [] without any). */
  recentDurations(flowId: number, taskNames: readonly string[], limit: number): Promise<Map<string, number[]>>;
  /**
   * Inserts or updates duration statistics in one step (callsRecent/callsMean of an existing
   * row are kept). A row whose stored window is newer (updatedAt) is left alone, so a refresh
   * that read earlier never replaces a later one; a calls-only row (samples 0) always takes it.
   */
  upsertTaskStats(rows: readonly TaskStatRecord[]): Promise<void>;
  /** Appends one completed run's call count of each task to its window (creating rows as needed), atomically. */
  recordTaskCalls(flowId: number, clientId: string, calls: ReadonlyArray<{ taskName: string; calls: number }>, window: number, now: number): Promise<void>;
  listTaskStats(flowIds?: number[]): Promise<TaskStatRecord[]>;

  insertSchedule(s: NewSchedule): Promise<number>;
  getSchedule(id: number): Promise<ScheduleRecord | undefined>;
  /** The schedule, locked until the transaction ends (PostgreSQL: FOR UPDATE). Only inside transaction(). */
  getScheduleForUpdate(id: number): Promise<ScheduleRecord | undefined>;
  /** The flow's schedules, oldest first. */
  listSchedules(flowId: number): Promise<ScheduleRecord[]>;
  updateSchedule(id: number, patch: Partial<Omit<ScheduleRecord, "id">>): Promise<void>;
  deleteSchedule(id: number): Promise<void>;
  /** The earliest next fire time of any schedule (paused ones have none): what the scheduler sleeps until. */
  earliestFireAt(): Promise<number | null>;
  /**
   * Up to `limit` schedules due at `now` (nextFireAt ≤ now), earliest first, locked until the
   * transaction ends; rows another transaction holds are skipped (PostgreSQL: FOR UPDATE SKIP
   * LOCKED), so instances fire different schedules. Only inside transaction().
   */
  lockDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  /** Inserts a schedule's run unless its (scheduleId, scheduledFor) already has one; its id, or null. */
  insertScheduledRun(run: NewRun): Promise<number | null>;
  /** The fire times in [from, to] that already have a run of the schedule, ascending. */
  listScheduledFor(scheduleId: number, from: number, to: number): Promise<number[]>;
  /** The schedule's PENDING and RUNNING runs, oldest first. */
  listActiveRunsOfSchedule(scheduleId: number): Promise<RunRecord[]>;
  /** Ids of the runs that retry this one, oldest first. */
  listRetriesOf(runId: number): Promise<number[]>;
  /** The subflows (child runs, parentRunId = parentId) of a run, oldest first. */
  listChildRuns(parentId: number): Promise<RunRecord[]>;
  /** The subflow run a parent's task call made, if it made one (one row, not the whole list). */
  getChildRun(parentId: number, call: number): Promise<RunRecord | null>;
  /** How many runs of the flow are RUNNING (its max_active_runs slots in use). */
  countRunningRuns(flowId: number): Promise<number>;

  // Global concurrency limits (`@task(concurrency_key=…)`) and their slots: leases of a run.
  /** Sets the key's limit (creating the row); returns it. */
  upsertConcurrencyLimit(key: string, limit: number, now: number): Promise<ConcurrencyLimitRecord>;
  getConcurrencyLimit(key: string): Promise<ConcurrencyLimitRecord | undefined>;
  /** Every limit, by key (byte order). */
  listConcurrencyLimits(): Promise<ConcurrencyLimitRecord[]>;
  /** Removes the key's limit (its slots stay: the key is then unlimited); whether there was one. */
  deleteConcurrencyLimit(key: string): Promise<boolean>;
  /**
   * A slot for the task call (runId, call) on `key`: a new WAITING one, or the one it already
   * has (a re-sent request is idempotent), then the key's waiters granted (grantSlots). Returns
   * the slot as it is after the grant. Atomic.
   */
  requestSlot(slot: NewSlot, now: number): Promise<ConcurrencySlotRecord>;
  /**
   * Grants the key's slots, decided under the key's lock so instances never over-grant
   * (PostgreSQL: pg_advisory_xact_lock on the key's hash; SQLite: the write transaction): the
   * oldest WAITING slots become HELD (acquiredAt = now) while fewer than the limit are HELD; a
   * key without a limit row is unlimited (every waiter is granted). Returns those granted.
   */
  grantSlots(key: string, now: number): Promise<ConcurrencySlotRecord[]>;
  getSlot(id: number): Promise<ConcurrencySlotRecord | undefined>;
  /** The slot's 1-based place among its key's WAITING slots (0 when it is not waiting). */
  slotPosition(id: number): Promise<number>;
  /** Deletes one slot; the row deleted, or undefined when there was none. */
  deleteSlot(id: number): Promise<ConcurrencySlotRecord | undefined>;
  /** Deletes every slot of the run; the distinct keys they had, sorted. */
  deleteSlotsOfRun(runId: number): Promise<string[]>;
  /** Slots (all keys, or one), by key then id, with their run's flow name, state and worker. */
  listSlots(key?: string): Promise<SlotListingRecord[]>;
  /** How many slots are HELD, per key that has any. */
  countHeldSlots(): Promise<Map<string, number>>;

  // Artifacts (what a run publishes for its run view) and variables (named JSON values).
  /** Inserts an artifact; its id. */
  insertArtifact(a: NewArtifact): Promise<number>;
  getArtifact(id: number): Promise<ArtifactRecord | undefined>;
  /** The run's newest artifact with this key, if any (a keyed progress artifact is updated in place). */
  findArtifactByKey(runId: number, key: string): Promise<ArtifactRecord | undefined>;
  /** Replaces an artifact's data (and description when given); whether it existed. */
  updateArtifact(id: number, patch: { data: unknown; description?: string; updatedAt: number }): Promise<boolean>;
  /** The run's artifacts, oldest first. */
  listArtifacts(runId: number): Promise<ArtifactRecord[]>;
  getVariable(name: string): Promise<VariableRecord | undefined>;
  /** Every variable, by name (byte order). */
  listVariables(): Promise<VariableRecord[]>;
  /** Creates or replaces the variable (createdAt kept on replace); returns it. */
  upsertVariable(name: string, value: unknown, now: number): Promise<VariableRecord>;
  /** Whether there was one. */
  deleteVariable(name: string): Promise<boolean>;
  // Alerts: the outbox of deliveries (alert_deliveries) and their attempts.
  /**
   * Queues deliveries (inside the transaction of the change that raised them): a row whose
   * (destinationId, dedupeKey) is already queued is skipped; a row whose throttle bucket had a
   * row that was not THROTTLED within throttleWindowMs before it is stored THROTTLED (decided
   * under the bucket's lock on PostgreSQL); the others PENDING, due at createdAt. Returns the
   * rows stored, in the order given.
   */
  queueAlertDeliveries(rows: NewAlertDelivery[]): Promise<AlertDeliveryRecord[]>;
  /** The earliest nextAttemptAt of a PENDING delivery (a lease not counted), or null. */
  earliestDeliveryAt(): Promise<number | null>;
  /**
   * Leases up to `limit` PENDING deliveries due at `now` whose lease (if any) ran out, earliest
   * first: leaseUntil is set, so one sender (instance) has each (PostgreSQL: FOR UPDATE SKIP LOCKED).
   */
  claimDueDeliveries(now: number, leaseUntil: number, limit: number): Promise<AlertDeliveryRecord[]>;
  /**
   * Records one send (an alert_attempts row) and the delivery's new state, only while the
   * delivery still holds the lease `lease` (a sender whose lease ran out records nothing);
   * whether it did. Atomic.
   */
  recordDeliveryAttempt(id: number, lease: number, outcome: DeliveryOutcome): Promise<boolean>;
  getDelivery(id: number): Promise<AlertDeliveryRecord | undefined>;
  /** The delivery log: newest first (by id), filtered. */
  listDeliveries(q: DeliveryFilter): Promise<AlertDeliveryRecord[]>;
  /** Attempts of these deliveries, oldest first per delivery (by id). */
  listDeliveryAttempts(deliveryIds: number[]): Promise<AlertAttemptRecord[]>;
  /** Counts by state and last success/failure per destination that has deliveries, by id. */
  destinationHealth(): Promise<DestinationHealthRecord[]>;
  /** How many deliveries are PENDING. */
  countPendingDeliveries(): Promise<number>;
  /** The state of the flow's last COMPLETED or FAILED run before run `beforeId` (by id), or null. */
  previousFinishedRunState(flowId: number, beforeId: number): Promise<RunState | null>;
  /** Durations (endedAt − startedAt) of the flow's last `limit` COMPLETED runs before run `beforeId` (by id), newest first. */
  recentRunDurations(flowId: number, beforeId: number, limit: number): Promise<number[]>;
  /** PENDING and RUNNING runs counted per flow name and state (read through the state index). */
  countActiveRuns(): Promise<{ flowName: string; state: RunState; count: number }[]>;
  /**
   * The flow's runs created at or after `since`: counts per state, nearest-rank p50/p95 of the
   * COMPLETED runs' durations (SQL aggregation: a count, then one ORDER BY … OFFSET per
   * percentile) and the newest `limit` runs, oldest first. Read through runs_flow_idx.
   */
  flowRunSummary(flowId: number, since: number, limit: number): Promise<FlowRunSummaryRecord>;
  /**
   * The flows page's strip: runs RUNNING and PENDING now, runs created at or after `since` that
   * are FAILED, and PENDING runs due (scheduledFor, else createdAt) before `dueBefore` — late.
   * Read through the state index and runs_created_idx: no scan of the history.
   */
  runCounts(since: number, dueBefore: number): Promise<RunCountsRecord>;
}

export interface Store extends StoreOps {
  readonly dialect: "sqlite" | "postgres";
  /**
   * Runs fn in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED with
   * row locks from getRunForUpdate). A throw rolls everything back. The body may await only the
   * `tx` it is given (and pure code): no network, no timers.
   */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /** Answers when the database is open and migrated. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Wakes long polls: in-process, or across instances (PostgreSQL LISTEN/NOTIFY). */
export interface RunNotifier {
  /** A run became claimable for this client; `route` (`flowId@version`) says which workers serve it. */
  runQueued(clientId: string, count?: number, route?: string): void;
  /** Resolves true when woken, false on timeout or abort. `serves` filters the routes that wake it. */
  waitForRun(clientId: string, timeoutMs: number, signal?: AbortSignal, serves?: (route: string) => boolean): Promise<boolean>;
}

/** Changes for dashboards: in-process, or across instances. */
export interface ChangeFeed {
  publish(change: Change): void;
  subscribe(listener: (change: Change) => void): () => void;
  /**
   * Called when this instance may have missed changes (PostgreSQL: its LISTEN connection came
   * back after a loss). Listeners refetch everything; an SSE stream ends itself so the browser
   * reconnects and revalidates what it shows. Absent on a feed that can never miss a change.
   */
  onResync?(listener: () => void): () => void;
}

export interface Backend {
  store: Store;
  notifier: RunNotifier;
  feed: ChangeFeed;
  close(): Promise<void>;
}
