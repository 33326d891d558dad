/**
 * The dashboard JSON API's wire format: query strings and bodies (parsed with zod in the routes)
 * and the answer shapes (inferred types the UI uses).
 */
import { z } from "zod";
import { CATCHUP_POLICIES, LOG_LEVELS, OVERLAP_POLICIES, RUN_STATES, TRIGGERS, type CatchupPolicy, type LogLevel, type OverlapPolicy, type RunState, type ScheduleSource, type Sensitivity, type Trigger, type Warning } from "../domain/states";
import { dataRecord } from "./data-record";
import type { ParameterSpec } from "./worker";

export const MAX_PAGE = 200;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const dateParam = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: "expected an ISO date" });
/** `from=2026-11-25` starts that day (UTC). */
const fromParam = dateParam.transform((s) => Date.parse(s));
/** `to=2026-11-25` includes that whole day (UTC), not just its first millisecond. */
const toParam = dateParam.transform((s) => (DATE_ONLY.test(s) ? Date.parse(s) + 86_400_000 - 1 : Date.parse(s)));

export const tagFilterSchema = z
  .string()
  .regex(/^[^:]+:.*$/, { message: "expected key:value" })
  .transform((s) => {
    const i = s.indexOf(":");
    return { key: s.slice(0, i), value: s.slice(i + 1) };
  });

export const runListQuerySchema = z.object({
  state: z.array(z.enum(RUN_STATES)).default([]),
  flow: z.string().max(200).optional(),
  flowId: z.string().regex(/^\d+$/, { message: "expected a flow id" }).optional(),
  client: z.string().max(200).optional(),
  tag: z.array(tagFilterSchema).max(10).default([]),
  trigger: z.array(z.enum(TRIGGERS)).default([]),
  scheduleId: z.string().regex(/^\d{1,15}$/, { message: "expected a schedule id" }).transform(Number).optional(),
  parentRunId: z.string().regex(/^\d{1,15}$/, { message: "expected a run id" }).transform(Number).optional(),
  /** Runs made by this user, token name, `schedule` or client. */
  triggeredBy: z.string().min(1).max(200).optional(),
  from: fromParam.optional(),
  to: toParam.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  cursor: z.string().regex(/^\d+$/, { message: "invalid cursor" }).optional(),
});
export type RunListQuery = z.infer<typeof runListQuerySchema>;

/** A run's parameters, serialized: bounded so every stored run stays cheap to list and report. */
export const MAX_PARAMETERS_BYTES = 256 * 1024;

export const triggerRunSchema = z.object({
  // Parameter names are data: a null-prototype record (see data-record.ts).
  parameters: dataRecord(z.string().max(200), z.unknown())
    .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PARAMETERS_BYTES, { message: `larger than ${MAX_PARAMETERS_BYTES} bytes of JSON` })
    .optional()
    .transform((p) => p ?? (Object.create(null) as Record<string, unknown>)),
});

export const LOG_QUERY_MAX = 200;
export const logQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0),
  taskRunId: z.string().regex(/^\d+$/, { message: "expected a task run id" }).optional(),
  level: z.array(z.enum(LOG_LEVELS)).default([]),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  /** Case-insensitive substring of the message; bounded so a filter cannot be used as a payload. */
  q: z.string().min(1, { message: "must not be empty" }).max(LOG_QUERY_MAX, { message: `at most ${LOG_QUERY_MAX} characters` }).optional(),
});

/** `GET /api/flows` pages: by name, then id; the cursor is the last flow of the previous page. */
export const FLOW_PAGE_DEFAULT = 50;
export interface FlowCursor { name: string; id: number }
export function encodeFlowCursor(c: FlowCursor): string {
  return Buffer.from(JSON.stringify([c.name, c.id]), "utf8").toString("base64url");
}
const flowCursorParam = z.string().max(1000).transform((s, ctx): FlowCursor => {
  try {
    const v = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && Number.isSafeInteger(v[1])) return { name: v[0], id: v[1] };
  } catch {
    /* fall through */
  }
  ctx.addIssue({ code: "custom", message: "invalid cursor" });
  return z.NEVER;
});
export const flowListQuerySchema = z.object({
  name: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(FLOW_PAGE_DEFAULT),
  cursor: flowCursorParam.optional(),
});
export type FlowListQuery = z.infer<typeof flowListQuerySchema>;
export const statsQuerySchema = z.object({ flow: z.string().max(200).optional(), flowId: z.string().regex(/^\d+$/).optional() });

// ---------------------------------------------------------------- schedules

/** At most this many fire times per backfill (400 above). */
export const MAX_BACKFILL = 1000;
/** Schedules a flow may have from the API (409 beyond), and from its code (one registration). */
export const MAX_SCHEDULES_PER_FLOW = 1000;
export const MAX_CODE_SCHEDULES = 50;

const isoInstant = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));
const scheduleParameters = dataRecord(z.string().max(200), z.unknown()).refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PARAMETERS_BYTES, {
  message: `larger than ${MAX_PARAMETERS_BYTES} bytes of JSON`,
});

/** A schedule's fields as given (API body, or a flow definition's `schedules` in register). */
export const scheduleFieldsSchema = z.object({
  cron: z.string().trim().min(1).max(200).nullish(),
  intervalSeconds: z.number().int().min(1).max(365 * 24 * 3600).nullish(),
  anchor: isoInstant.nullish(),
  timezone: z.string().trim().min(1).max(64).optional(),
  parameters: scheduleParameters.optional(),
  active: z.boolean().optional(),
  catchup: z.enum(CATCHUP_POLICIES).optional(),
  overlap: z.enum(OVERLAP_POLICIES).optional(),
});
export type ScheduleFields = z.infer<typeof scheduleFieldsSchema>;
export const scheduleCreateSchema = scheduleFieldsSchema;
export const schedulePatchSchema = scheduleFieldsSchema;

export const schedulePreviewQuerySchema = z.object({
  cron: z.string().trim().min(1).max(200).optional(),
  intervalSeconds: z.coerce.number().int().min(1).max(365 * 24 * 3600).optional(),
  anchor: isoInstant.optional(),
  timezone: z.string().trim().min(1).max(64).default("UTC"),
  from: isoInstant.optional(),
  count: z.coerce.number().int().min(1).max(100).default(5),
});

export const backfillSchema = z.object({
  scheduleId: z.string().regex(/^\d{1,15}$/, { message: "expected a schedule id" }).transform(Number),
  from: isoInstant,
  to: isoInstant,
  dryRun: z.boolean().optional(),
});

export interface ScheduleView {
  id: string;
  flowId: string;
  flowName: string;
  cron: string | null;
  intervalSeconds: number | null;
  anchor: string | null;
  timezone: string;
  parameters: Record<string, unknown>;
  active: boolean;
  catchup: CatchupPolicy;
  overlap: OverlapPolicy;
  source: ScheduleSource;
  description: string;
  nextRuns: string[];
  nextFireAt: string | null;
  lastFiredFor: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TaskView { name: string; estimatedTime: number | null; weight: number; description: string }
export interface RunSummary {
  id: string;
  flowId: string;
  flowName: string;
  clientId: string;
  state: RunState;
  progress: number;
  eta: string | null;
  etaMs: number | null;
  etaLowMs: number | null;
  etaHighMs: number | null;
  parameters: Record<string, unknown>;
  tags: Record<string, string>;
  trigger: Trigger;
  workerId: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  error: string | null;
  cancelRequested: boolean;
  warning: Warning | null;
  stalled: boolean;
  /** PENDING, and no online worker serves this flow (at the version it was triggered with). */
  waitingForWorker: boolean;
  /** PENDING because its flow's max_active_runs slots are all taken (the single-run answer only; lists say false). */
  waitingForSlot: boolean;
  scheduleId: string | null;
  /** The run this one retries. */
  retryOf: string | null;
  /** A subflow's parent run (the run whose flow called this run's flow). */
  parentRunId: string | null;
  /** Who made the run: a user or API token name, `schedule`, or the client of a subflow; null before the first user exists. */
  triggeredBy: string | null;
  /** Who asked to cancel it, when someone did. */
  cancelledBy: string | null;
  /** The fire time a scheduled run was made for. */
  scheduledFor: string | null;
  /** A scheduled run that waited longer than the grace period to start (or still waits). */
  late: boolean;
  /** How long after its fire time it started (so far, while PENDING). */
  lateByMs: number | null;
}
export interface TaskRunView {
  id: string;
  name: string;
  position: number;
  state: RunState;
  progress: number;
  weight: number;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  attempt: number;
  warning: Warning | null;
  zScore: number | null;
  threshold: number | null;
  stalled: boolean;
  error: string | null;
  expectedMs: number;
  meanMs: number | null;
  stddevMs: number | null;
  samples: number;
}
export interface RunView extends RunSummary {
  taskRuns: TaskRunView[];
  /** The runs that retry this one, oldest first. */
  retries: string[];
  /** The subflows this run started, oldest first. */
  childRuns: ChildRunView[];
}
/** A subflow of a run, as the parent's answer lists it. */
export interface ChildRunView {
  id: string;
  flowName: string;
  state: RunState;
  progress: number;
}
export interface FlowView {
  id: string;
  name: string;
  description: string;
  tags: Record<string, string>;
  clientId: string;
  clientName: string;
  online: boolean;
  tasks: TaskView[];
  parameters: ParameterSpec[];
  /** `@flow(max_active_runs=N)`: at most N runs RUNNING across all workers; null: no limit. */
  maxActiveRuns: number | null;
  registeredAt: string;
  updatedAt: string;
  lastRun: Pick<RunSummary, "id" | "state" | "createdAt" | "endedAt" | "progress" | "warning"> | null;
  warnings: number;
  /** Its client is no longer in clients.json: the flow stays visible but cannot be triggered. */
  clientRemoved?: boolean;
}
export interface LogView { id: string; runId: string; taskRunId: string | null; taskName: string | null; level: LogLevel; message: string; ts: string; seq: number }
export interface ClientView {
  id: string;
  name: string;
  performanceSensitivity: Sensitivity;
  online: boolean;
  lastSeenAt: string | null;
  workers: { id: string; hostname: string | null; pid: number | null; online: boolean; lastSeenAt: string }[];
  flows: number;
}
export interface TaskStatView {
  flowId: string;
  flowName: string;
  clientId: string;
  taskName: string;
  meanMs: number;
  stddevMs: number;
  samples: number;
  updatedAt: string;
  sensitivity: Sensitivity;
  threshold: number | null;
  slowAtMs: number | null;
  criticalAtMs: number | null;
  recentMs: number[];
}

/** The flow page's windows (GET /api/flows/{id}/summary?window=…). */
export const FLOW_SUMMARY_WINDOWS = { "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 } as const;
export type FlowSummaryWindow = keyof typeof FLOW_SUMMARY_WINDOWS;
/** How many of the window's newest runs the chart gets at most. */
export const FLOW_SUMMARY_POINTS = 200;

export const flowSummaryQuerySchema = z.object({
  window: z.enum(Object.keys(FLOW_SUMMARY_WINDOWS) as [FlowSummaryWindow, ...FlowSummaryWindow[]]).default("24h"),
});

export interface FlowRunPointView {
  id: string;
  state: RunState;
  createdAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  /** endedAt − startedAt of a finished run; null while it has not both. */
  durationMs: number | null;
}

/** The flows page's summary strip (GET /api/summary). */
export interface SummaryView {
  runningNow: number;
  pendingNow: number;
  /** Runs created in the last 24 h that are FAILED. */
  failed24h: number;
  /** PENDING past their due time (scheduledFor, else createdAt) by more than PERFECT_SCHEDULE_GRACE_MS — run.late's rule. */
  late: number;
  workersOnline: number;
  clientsOnline: number;
  /** The start of the 24 h window. */
  failedSince: string;
  asOf: string;
}

export interface FlowSummaryView {
  flowId: string;
  window: FlowSummaryWindow;
  since: string | null;
  total: number;
  counts: Partial<Record<RunState, number>>;
  /** COMPLETED / (COMPLETED + FAILED) of the window's runs; null when none finished so. */
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  samples: number;
  /** The window's newest runs (at most FLOW_SUMMARY_POINTS), oldest first. */
  runs: FlowRunPointView[];
}
