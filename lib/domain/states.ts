/**
 * Every state and enum of the domain, as one const array each: used by the Drizzle columns,
 * the zod schemas and the UI, so the three cannot drift.
 */
export const RUN_STATES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TASK_RUN_STATES = RUN_STATES;
export type TaskRunState = RunState;

export function isTerminal(state: RunState): boolean {
  return state === "COMPLETED" || state === "FAILED" || state === "CANCELLED";
}

/** Who made a run: the dashboard, a script, a schedule, a flow called directly (`python etl.py`), or a running flow calling another (a subflow). */
export const TRIGGERS = ["ui", "api", "schedule", "local", "subflow"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** What a schedule does with fire times missed while no server ran (SPEC "Schedules"). */
export const CATCHUP_POLICIES = ["skip", "latest", "all"] as const;
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/** What a schedule does at a fire time while its previous run is still PENDING or RUNNING. */
export const OVERLAP_POLICIES = ["allow", "skip", "queue", "cancel_running"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** Where a schedule comes from: `@flow(schedules=…)` (replaced at each registration) or the dashboard/API. */
export const SCHEDULE_SOURCES = ["code", "api"] as const;
export type ScheduleSource = (typeof SCHEDULE_SOURCES)[number];

export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const WARNINGS = ["SLOW", "CRITICAL"] as const;
export type Warning = (typeof WARNINGS)[number];

export const SENSITIVITIES = ["conservative", "normal", "aggressive"] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

/**
 * The one transition table. Workers and users *propose* transitions; the engine accepts only
 * those listed here. RUNNING → RUNNING is a task retry (a new attempt of the same call);
 * RUNNING → PENDING gives back a claim its worker never received (no event, not reported).
 */
export const TRANSITIONS: Record<RunState, readonly RunState[]> = {
  PENDING: ["RUNNING", "CANCELLED", "FAILED"],
  RUNNING: ["RUNNING", "COMPLETED", "FAILED", "CANCELLED", "PENDING"],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Dashboard roles, each including the one before: read; + trigger, cancel, retry, schedules; + users, tokens, limits. */
export const USER_ROLES = ["viewer", "operator", "admin"] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** What an alert rule can be raised on (SPEC "Alerts and metrics"); `alert.test` is the admin's "send test alert". */
export const ALERT_EVENTS = ["run.failed", "run.completed", "run.recovered", "run.late", "worker.lost", "task.slow", "task.critical"] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];
export const ALERT_DELIVERY_EVENTS = [...ALERT_EVENTS, "alert.test"] as const;
export type AlertDeliveryEvent = (typeof ALERT_DELIVERY_EVENTS)[number];

/** A delivery waits (PENDING, retried with backoff), arrives (DELIVERED), gives up after a day (DEAD), or is held back by a rule's throttle (THROTTLED, never sent). */
export const DELIVERY_STATES = ["PENDING", "DELIVERED", "DEAD", "THROTTLED"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** What a run can publish for its run view (Prefect's `prefect.artifacts`). */
export const ARTIFACT_TYPES = ["markdown", "table", "link", "progress"] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];
