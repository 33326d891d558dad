/**
 * The records the store speaks: plain data, times as epoch milliseconds, JSON fields as
 * objects. No database types and no JSON text cross the store's interface; each adapter maps
 * its own rows to these.
 */
import type { AlertDeliveryEvent, ArtifactType, CatchupPolicy, DeliveryState, LogLevel, OverlapPolicy, RunState, ScheduleSource, Sensitivity, TaskRunState, Trigger, UserRole, Warning } from "./states";

/** One parameter of a flow, from its Python signature. */
export interface ParameterSpec {
  name: string;
  /** The Python type hint as text (`int`, `Optional[str]`, `Literal['a', 'b']`, …). */
  type: string;
  default?: unknown;
  required: boolean;
  /** The allowed values of a `Literal[...]` or `Enum` parameter. */
  choices?: (string | number | boolean | null)[];
  /** `var_keyword` for `**kwargs`: the flow accepts names beyond the declared ones. */
  kind?: "positional" | "var_keyword";
}

export interface ClientRecord {
  id: string;
  name: string;
  sensitivity: Sensitivity;
  lastSeenAt: number | null;
}

export interface WorkerRecord {
  id: string;
  clientId: string;
  hostname: string | null;
  pid: number | null;
  sdkVersion: string | null;
  registeredAt: number;
  lastSeenAt: number;
}

/** A flow (at a version) one worker process serves: the routing table of claims. */
export interface WorkerFlowRecord {
  workerId: string;
  flowId: number;
  version: string;
}

export interface FlowRecord {
  id: number;
  clientId: string;
  name: string;
  description: string;
  tags: Record<string, string>;
  parameters: ParameterSpec[];
  version: string;
  /** `@flow(max_active_runs=N)`: at most N runs RUNNING across all workers; null: no limit. */
  maxActiveRuns: number | null;
  registeredAt: number;
  updatedAt: number;
}

export interface FlowTaskRecord {
  flowId: number;
  position: number;
  name: string;
  estimatedTime: number | null;
  description: string;
}

export interface RunRecord {
  id: number;
  flowId: number;
  clientId: string;
  /** Snapshot of the flow name at trigger time. */
  flowName: string;
  /** The flow version the run was triggered at. */
  flowVersion: string;
  state: RunState;
  parameters: Record<string, unknown>;
  /** Snapshot of the flow's tags at trigger time. */
  tags: Record<string, string>;
  trigger: Trigger;
  workerId: string | null;
  createdAt: number;
  claimedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  error: string | null;
  /** High-water mark of weighted progress. */
  progress: number;
  /** Highest worker event seq applied. */
  lastSeq: number;
  cancelRequestedAt: number | null;
  /** Consecutive heartbeats of the claiming worker that did not list this run. */
  unreportedBeats: number;
  /** The schedule that made the run (kept after the schedule is deleted). */
  scheduleId: number | null;
  /** The fire time the run was made for: (scheduleId, scheduledFor) is unique. */
  scheduledFor: number | null;
  /** Claimable only once every earlier run of its schedule has finished (overlap `queue`). */
  serial: boolean;
  /** Its flow had max_active_runs when the run was created: claimed under the flow's limit. */
  limited: boolean;
  /** The run this one retries (POST /api/runs/{id}/retry). */
  retryOf: number | null;
  /** A subflow's parent run. */
  parentRunId: number | null;
  /** The parent's task call standing for this subflow. */
  parentCall: number | null;
  /** Who made the run: a user or API token name, `schedule`, or the worker (client) of a direct run or subflow; null when nobody was signed in (before setup). */
  triggeredBy: string | null;
  /** Who asked to cancel it (user or token name), when someone did. */
  cancelledBy: string | null;
}

export interface TaskRunRecord {
  id: number;
  runId: number;
  flowId: number;
  position: number;
  /** The worker's 0-based invocation index, set when the task starts. */
  callIndex: number | null;
  name: string;
  weight: number;
  estimatedTime: number | null;
  state: TaskRunState;
  reportedProgress: number | null;
  progressChangedAt: number | null;
  startedAt: number | null;
  /** Start of the current attempt. */
  attemptStartedAt: number | null;
  endedAt: number | null;
  durationMs: number | null;
  attempt: number;
  warning: Warning | null;
  zScore: number | null;
  threshold: number | null;
  stalled: boolean;
  error: string | null;
}

export interface LogRecord {
  id: number;
  runId: number;
  taskRunId: number | null;
  /** Per-run order: the worker event seq, or the run's last seq for server lines. */
  seq: number;
  level: LogLevel;
  message: string;
  ts: number;
}

export interface TaskStatRecord {
  flowId: number;
  taskName: string;
  clientId: string;
  mean: number;
  stddev: number;
  samples: number;
  updatedAt: number;
  /** The window's durations, oldest first. */
  recent: number[];
  /** Calls per completed run, oldest first (≤ 100). */
  callsRecent: number[];
  /** Mean of callsRecent (1 without history). */
  callsMean: number;
}

/** When a schedule fires and what its runs get: the part a user (or the code) defines. */
export interface ScheduleSpec {
  /** 5 fields, or 6 with seconds first; exactly one of cron / intervalSeconds. */
  cron: string | null;
  intervalSeconds: number | null;
  /** Intervals count from here (ms); null for cron. */
  anchor: number | null;
  /** IANA name. */
  timezone: string;
  parameters: Record<string, unknown>;
  active: boolean;
  catchup: CatchupPolicy;
  overlap: OverlapPolicy;
}

export interface ScheduleRecord extends ScheduleSpec {
  id: number;
  flowId: number;
  source: ScheduleSource;
  /** For code schedules: the definition's identity, so a registration keeps unchanged ones. */
  codeKey: string | null;
  /** The next fire time not yet handled (null while paused): the scheduler sleeps until the earliest. */
  nextFireAt: number | null;
  /** The last fire time that made a run. */
  lastFiredFor: number | null;
  createdAt: number;
  updatedAt: number;
}

export type NewSchedule = Omit<ScheduleRecord, "id">;

export type NewRun = Omit<RunRecord, "id">;
export type NewTaskRun = Omit<TaskRunRecord, "id">;
export type NewLog = Omit<LogRecord, "id">;

export interface RunningTaskRecord {
  taskRun: TaskRunRecord;
  clientId: string;
  workerId: string | null;
}

/** History filters, already parsed (times as ms). */
export interface RunFilter {
  state: RunState[];
  /** Flow name, substring, case-insensitive. */
  flow?: string;
  flowId?: string;
  client?: string;
  /** Any of these triggers (empty: all). */
  trigger?: Trigger[];
  scheduleId?: number;
  /** Only the subflows (child runs) of this run. */
  parentRunId?: number;
  /** All must match. */
  tag: { key: string; value: string }[];
  /** Exactly this user, token name, `schedule` or worker. */
  triggeredBy?: string;
  from?: number;
  to?: number;
  limit: number;
  /** The last id of the previous page. */
  cursor?: string;
}

export interface RunPage {
  runs: RunRecord[];
  nextCursor: string | null;
}

/** A global concurrency limit: at most `limit` task calls with this key hold a slot at once. */
export interface ConcurrencyLimitRecord {
  key: string;
  limit: number;
  createdAt: number;
  updatedAt: number;
}

export type SlotState = "WAITING" | "HELD";

/** A task call's lease on a key's slot, tied to its run (and so to its worker's liveness). */
export interface ConcurrencySlotRecord {
  id: number;
  key: string;
  runId: number;
  call: number;
  taskName: string;
  clientId: string;
  workerId: string;
  state: SlotState;
  requestedAt: number;
  acquiredAt: number | null;
}

export type NewSlot = Pick<ConcurrencySlotRecord, "key" | "runId" | "call" | "taskName" | "clientId" | "workerId">;

/** A slot with what the dashboard and the monitor need of its run. */
export interface SlotListingRecord extends ConcurrencySlotRecord {
  flowName: string;
  runState: RunState;
  runWorkerId: string | null;
}

/** What a run published for its run view (Prefect's `prefect.artifacts`); `data` by type: markdown `{ markdown }`, table `{ columns, rows }`, link `{ url, text? }`, progress `{ progress }` (0..100). */
export interface ArtifactRecord {
  id: number;
  runId: number;
  taskRunId: number | null;
  key: string | null;
  type: ArtifactType;
  description: string;
  data: unknown;
  createdAt: number;
  updatedAt: number;
}
export type NewArtifact = Omit<ArtifactRecord, "id">;

/** A named JSON value flows read and write at run time (Prefect's `Variable`). */
export interface VariableRecord {
  name: string;
  value: unknown;
  createdAt: number;
  updatedAt: number;
}

/** One alert delivery to queue: an occurrence of an event for one destination (the outbox). */
export interface NewAlertDelivery {
  /** Standard Webhooks `webhook-id`: the same on every retry. */
  webhookId: string;
  destinationId: string;
  eventType: AlertDeliveryEvent;
  /** One delivery per destination per occurrence: a second row with the same key is not queued. */
  dedupeKey: string | null;
  /** The rule's throttle bucket; with throttleWindowMs, a bucket that had a send that recently makes this row THROTTLED. */
  throttleKey: string | null;
  throttleWindowMs: number;
  runId: number | null;
  flowName: string | null;
  /** The exact JSON body sent on every attempt. */
  payload: string;
  createdAt: number;
}

export interface AlertDeliveryRecord {
  id: number;
  webhookId: string;
  destinationId: string;
  eventType: AlertDeliveryEvent;
  dedupeKey: string | null;
  throttleKey: string | null;
  runId: number | null;
  flowName: string | null;
  payload: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number | null;
  leaseUntil: number | null;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

export interface AlertAttemptRecord {
  id: number;
  deliveryId: number;
  at: number;
  /** The receiver's status code; null when none came (refused, timed out). */
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** The delivery log's filter: newest first, keyset-paginated by id (`before`). */
export interface DeliveryFilter {
  state?: DeliveryState;
  destinationId?: string;
  before?: number;
  limit: number;
}

/** What happened to one send, and what the delivery becomes. */
export interface DeliveryOutcome {
  attempt: Omit<AlertAttemptRecord, "id" | "deliveryId">;
  state: DeliveryState;
  nextAttemptAt: number | null;
}

/** A destination's record so far, from its deliveries. */
export interface DestinationHealthRecord {
  destinationId: string;
  pending: number;
  delivered: number;
  dead: number;
  throttled: number;
  lastSuccessAt: number | null;
  /** The last attempt that did not succeed (an error or a non-2xx answer). */
  lastFailureAt: number | null;
}

// ---------------------------------------------------------------- access control

/** A dashboard user; the password only as a salted scrypt hash (lib/auth/secrets.ts). */
export interface UserRecord {
  id: number;
  username: string;
  passwordHash: string;
  role: UserRole;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
}
export type NewUser = Omit<UserRecord, "id">;

/** A login session: `idHash` is the SHA-256 of the cookie's random id. */
export interface SessionRecord {
  idHash: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
}

/** An API token: `id` is the public part of `pft_<id>_<secret>`, `tokenHash` the secret's scrypt hash. */
export interface ApiTokenRecord {
  id: string;
  name: string;
  role: UserRole;
  tokenHash: string;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Failed logins of one key (`user:<name>` or `addr:<ip>`) in the current window. */
export interface LoginFailureRecord {
  key: string;
  failures: number;
  windowStartedAt: number;
  lockedUntil: number | null;
}

/** One run as the flow page's chart plots it. */
export interface FlowRunPoint {
  id: number;
  state: import("./states").RunState;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** What the flow page summarises over a window (runs created at or after `since`). */
/** What the flows page's summary strip counts (store.runCounts). */
export interface RunCountsRecord {
  running: number;
  pending: number;
  failedSince: number;
  late: number;
}

export interface FlowRunSummaryRecord {
  /** Runs in the window per state (states without runs are absent). */
  counts: Partial<Record<import("./states").RunState, number>>;
  /** Nearest-rank percentiles of the COMPLETED runs' durations (endedAt − startedAt) in the window; null without any. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** How many COMPLETED runs with a duration the percentiles are over. */
  samples: number;
  /** The window's newest runs (at most the limit asked for), oldest first. */
  recent: FlowRunPoint[];
}
