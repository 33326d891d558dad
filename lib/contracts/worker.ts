/**
 * The worker (client) protocol's wire format: one zod schema per request and answer, shared by
 * the route handlers, the engine's callers and the tests (which check them against fixtures/).
 */
import { z } from "zod";
import { LOG_LEVELS, RUN_STATES } from "../domain/states";
import { concurrencyKeySchema } from "./concurrency";
import { MAX_CODE_SCHEDULES, scheduleFieldsSchema } from "./dashboard";
import { dataRecord } from "./data-record";

export const MAX_NAME = 200;
const name = z.string().trim().min(1).max(MAX_NAME);
const isoTime = z.iso.datetime({ offset: true });
/** A time a worker sends: 1970 … 2100, so shifting it by a clock offset stays a valid Date. */
const sentTime = isoTime.refine((s) => { const t = Date.parse(s); return t >= 0 && t <= 4_102_444_800_000; }, { message: "expected a time between 1970 and 2100" });
/** Any duration a worker reports: at most a year, in ms (1e308 would break every date after it). */
export const MAX_DURATION_MS = 366 * 24 * 3600 * 1000;
/** Tags per flow, and a parameter default's serialized size. */
export const MAX_TAGS = 100;
export const MAX_DEFAULT_BYTES = 64 * 1024;

export const taskDefinitionSchema = z.object({
  name,
  estimatedTime: z.number().int().positive().max(7 * 24 * 3600 * 1000).nullish(),
  description: z.string().max(10_000).nullish(),
});

export const parameterSpecSchema = z.object({
  name: z.string().min(1).max(MAX_NAME),
  type: z.string().max(100).default("any"),
  default: z.unknown().optional().refine((v) => v === undefined || Buffer.byteLength(JSON.stringify(v) ?? "") <= MAX_DEFAULT_BYTES, { message: `default larger than ${MAX_DEFAULT_BYTES} bytes of JSON` }),
  required: z.boolean().default(false),
  /** The allowed values of a `Literal[...]` or `Enum` parameter. */
  choices: z.array(z.union([z.string().max(1000), z.number(), z.boolean(), z.null()])).max(1000).optional(),
  /** `var_keyword` for `**kwargs`: the flow accepts names beyond the declared ones. */
  kind: z.enum(["positional", "var_keyword"]).optional(),
});
export type ParameterSpec = z.infer<typeof parameterSpecSchema>;

export const flowDefinitionSchema = z.object({
  name,
  description: z.string().max(10_000).nullish(),
  tags: dataRecord(z.string().min(1).max(100), z.string().max(1000), { maxKeys: MAX_TAGS }).default(Object.create(null)),
  tasks: z.array(taskDefinitionSchema).max(1000).default([]),
  parameters: z.array(parameterSpecSchema).max(200).default([]),
  /** The definition's version (the SDK sends a hash of the flow's code): routes runs to matching workers. */
  version: z.string().max(128).nullish(),
  /** `@flow(max_active_runs=N)`: at most N runs of the flow RUNNING across all workers (the rest wait PENDING). */
  maxActiveRuns: z.number().int().min(1).max(100_000).nullish(),
  /** `@flow(max_parallel_tasks=N)`: the SDK's bound on a run's task threads (informational; the SDK enforces it). */
  maxParallelTasks: z.number().int().min(1).max(1000).nullish(),
  /** `@flow(timeout=seconds)`: the SDK fails a run past it (informational; the SDK enforces it). */
  timeoutSeconds: z.number().positive().max(31_536_000).nullish(),
  /** Schedules declared in code (`@flow(schedules=[…])`): the server keeps one per distinct definition. */
  schedules: z.array(scheduleFieldsSchema).max(MAX_CODE_SCHEDULES).optional(),
});
export type FlowDefinition = z.infer<typeof flowDefinitionSchema>;

export const registerRequestSchema = z.object({
  worker: z
    .object({
      hostname: z.string().max(255).nullish(),
      pid: z.number().int().min(0).max(2 ** 32).nullish(),
      sdkVersion: z.string().max(50).nullish(),
    })
    .default({}),
  flows: z.array(flowDefinitionSchema).max(500),
});
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

export const registerResponseSchema = z.object({
  clientId: z.string(),
  workerId: z.string(),
  heartbeatIntervalMs: z.number().int().positive(),
  longPollMs: z.number().int().nonnegative(),
  flows: z.array(z.object({ id: z.string(), name: z.string() })),
});

const workerId = z.string().min(1).max(100);

export const pollRequestSchema = z.object({
  workerId,
  maxRuns: z.number().int().min(1).max(50).default(1),
  waitMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type PollRequest = z.infer<typeof pollRequestSchema>;

export const claimedRunSchema = z.object({
  id: z.string(),
  flowId: z.string(),
  flowName: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  createdAt: isoTime,
});
export type ClaimedRun = z.infer<typeof claimedRunSchema>;
export const pollResponseSchema = z.object({ runs: z.array(claimedRunSchema) });

/**
 * `POST /api/worker/{clientId}/runs/{parentRunId}/subflows`: a flow called inside a running
 * flow. `call` is the parent's task call standing for the subflow; `flow` its definition as a
 * registration lists it; `parameters` the call's arguments by name.
 */
export const subflowRequestSchema = z.object({
  workerId,
  call: z.number().int().min(0).max(1_000_000),
  flow: flowDefinitionSchema,
  parameters: dataRecord(z.string().max(200), z.unknown()).optional().transform((p) => p ?? (Object.create(null) as Record<string, unknown>)),
});
export type SubflowRequest = z.infer<typeof subflowRequestSchema>;
export const subflowResponseSchema = z.object({ run: claimedRunSchema });

export const heartbeatRequestSchema = z.object({
  workerId,
  runIds: z.array(z.string().max(40)).max(1000).default([]),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;
/** The last request of a worker process that stops on purpose. */
export const goodbyeRequestSchema = z.object({ workerId });
export type GoodbyeRequest = z.infer<typeof goodbyeRequestSchema>;

export const heartbeatResponseSchema = z.object({
  cancelledRunIds: z.array(z.string()),
  finishedRunIds: z.array(z.string()),
  heartbeatIntervalMs: z.number().int().positive(),
});

const seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const call = z.number().int().min(0).max(1_000_000);
const base = { seq, ts: sentTime.optional() };
const durationMs = z.number().min(0).max(MAX_DURATION_MS).nullish();
const attempt = z.number().int().min(1).max(100_000);
const errorText = z.string().max(100_000);

export const workerEventSchema = z.discriminatedUnion("type", [
  z.object({ ...base, type: z.literal("task_started"), call, task: name, attempt: attempt.default(1) }),
  z.object({ ...base, type: z.literal("task_progress"), call, progress: z.number().min(0).max(1) }),
  z.object({ ...base, type: z.literal("task_retrying"), call, attempt: attempt.min(2), error: errorText.nullish() }),
  z.object({ ...base, type: z.literal("task_completed"), call, durationMs }),
  z.object({ ...base, type: z.literal("task_failed"), call, error: errorText.default("task failed"), durationMs }),
  // Messages are not capped here: over-long lines are truncated with a marker, not refused.
  z.object({ ...base, type: z.literal("log"), call: call.nullish(), level: z.enum(LOG_LEVELS), message: z.string() }),
  z.object({ ...base, type: z.literal("run_completed") }),
  z.object({ ...base, type: z.literal("run_failed"), error: errorText.default("run failed") }),
  z.object({ ...base, type: z.literal("run_cancelled") }),
]);
export type WorkerEvent = z.infer<typeof workerEventSchema>;

export const eventBatchSchema = z.object({
  workerId,
  sentAt: sentTime.optional(),
  events: z.array(workerEventSchema).min(1).max(5000),
});
export type EventBatch = z.infer<typeof eventBatchSchema>;

/** A task call asks for a slot of `key` (global concurrency limit); long-polled while WAITING. */
export const slotRequestSchema = z.object({
  workerId,
  key: concurrencyKeySchema,
  call,
  task: name,
  waitMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type SlotRequest = z.infer<typeof slotRequestSchema>;
export const slotResponseSchema = z.object({
  slotId: z.string(),
  state: z.enum(["HELD", "WAITING"]),
  /** While WAITING: the 1-based place in the key's line. */
  position: z.number().int().positive().optional(),
});
export type SlotResponse = z.infer<typeof slotResponseSchema>;

export const eventBatchResponseSchema = z.object({
  applied: z.number().int(),
  duplicates: z.number().int(),
  lastSeq: z.number().int(),
  state: z.enum(RUN_STATES),
  cancelRequested: z.boolean(),
});
export type EventBatchResult = z.infer<typeof eventBatchResponseSchema>;

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});
