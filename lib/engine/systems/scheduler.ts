/**
 * Schedules: their definitions (API and code), and firing. Each schedule keeps its next fire
 * time in the database (indexed); the loop sleeps until the earliest one, then one transaction
 * locks the due schedules (PostgreSQL: SKIP LOCKED, so instances share the work), creates each
 * fire time's run — at most one per (schedule, fire time), a unique key — applies the catch-up
 * and overlap policies, and moves the schedules on. Time comes from the engine's clock only.
 */
import crypto from "node:crypto";
import type { FlowRecord, RunRecord, ScheduleRecord, ScheduleSpec } from "../../domain/records";
import type { ScheduleFields, ScheduleView } from "../../contracts/dashboard";
import { MAX_BACKFILL, MAX_SCHEDULES_PER_FLOW } from "../../contracts/dashboard";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid, notFound } from "../errors";
import { ScheduleSpecError, checkTiming, describeSchedule, fireTimesBetween, nextFireTime, nextFireTimes } from "../schedule-times";
import { iso } from "../views";
import type { AlertWork } from "./alerts";
import { parseId, type EngineContext } from "./context";
import { checkedParameters, type LifecycleSystem } from "./lifecycle";
import type { RunPublisher } from "./publisher";

/** Schedules fired per transaction (a pass repeats until none is due). */
const FIRE_BATCH = 50;
/** Catch-up `all` runs at most the newest this many missed fire times of a schedule. */
export const MAX_CATCHUP = 1000;
/** The loop never sleeps longer than this (a schedule another instance created, a clock step). */
const MAX_SLEEP_MS = 30_000;

const scheduleIdOf = (text: string) => parseId("schedule", text, notFound);

/** What one firing transaction did, announced once it committed. */
interface Fired {
  created: RunRecord[];
  /** Earlier runs to cancel (overlap `cancel_running`). */
  toCancel: number[];
  schedules: { id: number; flowId: number }[];
  /** Alerts of runs created FAILED (run.failed), sent once the firing commits. */
  alerts: AlertWork[];
}

export class SchedulerSystem {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rearm = false;
  private stopped = true;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly lifecycle: LifecycleSystem,
    private readonly publish: RunPublisher,
  ) {}

  // ---------------------------------------------------------------- definitions

  async list(flowIdText: string): Promise<{ schedules: ScheduleView[] }> {
    const flow = await this.flowOf(flowIdText);
    const rows = await this.ctx.store.listSchedules(flow.id);
    return { schedules: rows.map((s) => this.view(s, flow)) };
  }

  async get(idText: string): Promise<ScheduleView> {
    const s = await this.ctx.store.getSchedule(scheduleIdOf(idText));
    if (!s) throw notFound("schedule", idText);
    const flow = await this.ctx.store.getFlow(s.flowId);
    return this.view(s, flow!);
  }

  async create(flowIdText: string, given: ScheduleFields): Promise<ScheduleView> {
    const now = this.ctx.clock.now();
    const created = await this.ctx.store.transaction(async (tx) => {
      const flow = await tx.getFlow(flowIdOf(flowIdText));
      if (!flow) throw notFound("flow", flowIdText);
      if ((await tx.listSchedules(flow.id)).filter((s) => s.source === "api").length >= MAX_SCHEDULES_PER_FLOW) {
        throw new PerfectError("conflict", `flow ${flowIdText} already has ${MAX_SCHEDULES_PER_FLOW} schedules`);
      }
      const spec = specOf(given, null, "");
      checkSpec(flow, spec, "");
      const row: Omit<ScheduleRecord, "id"> = {
        ...spec,
        flowId: flow.id,
        source: "api",
        codeKey: null,
        nextFireAt: spec.active ? nextFireTime(spec, now) : null,
        lastFiredFor: null,
        createdAt: now,
        updatedAt: now,
      };
      const id = await tx.insertSchedule(row);
      return { schedule: { ...row, id }, flow };
    });
    this.changed(created.schedule);
    return this.view(created.schedule, created.flow);
  }

  async update(idText: string, given: ScheduleFields): Promise<ScheduleView> {
    const id = scheduleIdOf(idText);
    const now = this.ctx.clock.now();
    const done = await this.ctx.store.transaction(async (tx) => {
      const cur = await tx.getScheduleForUpdate(id);
      if (!cur) throw notFound("schedule", idText);
      const flow = (await tx.getFlow(cur.flowId))!;
      const keys = Object.keys(given).filter((k) => (given as Record<string, unknown>)[k] !== undefined);
      if (cur.source === "code" && keys.some((k) => k !== "active")) {
        throw new PerfectError("conflict", "this schedule is defined in code (@flow(schedules=…)): only `active` can be changed here; edit the code to change the rest", { source: "code" });
      }
      const spec = specOf(given, cur, "");
      checkSpec(flow, spec, "");
      const timingChanged =
        spec.cron !== cur.cron || spec.intervalSeconds !== cur.intervalSeconds || spec.anchor !== cur.anchor || spec.timezone !== cur.timezone || spec.active !== cur.active;
      // A resumed or re-timed schedule starts from now: fire times while paused are not caught up.
      const nextFireAt = !spec.active ? null : timingChanged ? nextFireTime(spec, now) : cur.nextFireAt;
      const next: ScheduleRecord = { ...cur, ...spec, nextFireAt, updatedAt: now };
      await tx.updateSchedule(id, { ...spec, nextFireAt, updatedAt: now });
      return { schedule: next, flow };
    });
    this.changed(done.schedule);
    return this.view(done.schedule, done.flow);
  }

  async remove(idText: string): Promise<void> {
    const id = scheduleIdOf(idText);
    const gone = await this.ctx.store.transaction(async (tx) => {
      const cur = await tx.getScheduleForUpdate(id);
      if (!cur) throw notFound("schedule", idText);
      if (cur.source === "code") throw new PerfectError("conflict", "this schedule is defined in code (@flow(schedules=…)): remove it there, or pause it here", { source: "code" });
      await tx.deleteSchedule(id);
      return cur;
    });
    this.changed(gone);
  }

  /** The next fire times of a definition, nothing stored. */
  preview(q: { cron?: string; intervalSeconds?: number; anchor?: number; timezone: string; from?: number; count: number }): { times: string[]; description: string } {
    const spec = { cron: q.cron ?? null, intervalSeconds: q.intervalSeconds ?? null, anchor: q.anchor ?? null, timezone: q.timezone };
    try {
      checkTiming(spec);
    } catch (e) {
      throw asInvalid(e, "");
    }
    const from = q.from ?? this.ctx.clock.now();
    return { times: nextFireTimes(spec, from, q.count).map((t) => iso(t)!), description: describeSchedule(spec) };
  }

  /** Runs for every fire time of the schedule in [from, to] that has none yet (or, dry, how many). */
  async backfill(flowIdText: string, q: { scheduleId: number; from: number; to: number; dryRun?: boolean }) {
    if (q.to < q.from) throw invalid("to", "must not be before from");
    const now = this.ctx.clock.now();
    const result = await this.ctx.store.transaction(async (tx) => {
      const flow = await tx.getFlow(flowIdOf(flowIdText));
      if (!flow) throw notFound("flow", flowIdText);
      const s = await tx.getScheduleForUpdate(q.scheduleId);
      if (!s || s.flowId !== flow.id) throw invalid("scheduleId", `flow ${flowIdText} has no schedule ${q.scheduleId}`);
      const times = fireTimesBetween(s, q.from, q.to, MAX_BACKFILL);
      if (times.length > MAX_BACKFILL) throw invalid("to", `the range holds more than ${MAX_BACKFILL} fire times: backfill it in parts`);
      const had = new Set(await tx.listScheduledFor(s.id, q.from, q.to));
      const todo = times.filter((t) => !had.has(t));
      if (q.dryRun) return { dry: true as const, times: todo, skipped: times.length - todo.length };
      try {
        checkedParameters(flow, s.parameters);
      } catch (e) {
        throw e instanceof PerfectError ? new PerfectError(e.code, `the schedule's parameters no longer fit the flow: ${e.message}`, e.details) : e;
      }
      const created: RunRecord[] = [];
      for (const t of todo) {
        const run = await this.lifecycle.createRun(tx, flow, s.parameters, { trigger: "schedule", triggeredBy: "schedule", scheduleId: s.id, scheduledFor: t, serial: s.overlap === "queue" }, now);
        if (run) created.push(run);
      }
      return { dry: false as const, created, skipped: times.length - todo.length, schedule: s };
    });
    if (result.dry) return { count: result.times.length, skipped: result.skipped, times: result.times.map((t) => iso(t)!) };
    for (const r of result.created) this.lifecycle.announce(r);
    this.changed(result.schedule);
    return { runs: result.created.map((r) => String(r.id)), count: result.created.length, skipped: result.skipped };
  }

  /**
   * Code schedules of a flow being registered (inside its transaction): one per distinct
   * definition — new ones added, unchanged ones kept (their pause and fire history), the
   * ones the code no longer declares deleted. Returns the schedules that changed.
   */
  async syncCode(tx: StoreOps, flow: FlowRecord, given: ScheduleFields[], fieldPrefix: string, now: number): Promise<ScheduleRecord[]> {
    const wanted = new Map<string, ScheduleSpec>();
    given.forEach((g, j) => {
      const at = `${fieldPrefix}${j}.`;
      const spec = specOf(g, null, at);
      checkSpec(flow, spec, at);
      // The key leaves `active` out: pausing in the dashboard survives the next registration.
      wanted.set(codeKeyOf({ ...spec, active: true }), spec);
    });
    const existing = (await tx.listSchedules(flow.id)).filter((s) => s.source === "code");
    const changed: ScheduleRecord[] = [];
    for (const s of existing) {
      if (s.codeKey !== null && wanted.has(s.codeKey)) wanted.delete(s.codeKey);
      else {
        await tx.deleteSchedule(s.id);
        changed.push(s);
      }
    }
    for (const [key, spec] of wanted) {
      const row: Omit<ScheduleRecord, "id"> = {
        ...spec,
        flowId: flow.id,
        source: "code",
        codeKey: key,
        nextFireAt: spec.active ? nextFireTime(spec, now) : null,
        lastFiredFor: null,
        createdAt: now,
        updatedAt: now,
      };
      changed.push({ ...row, id: await tx.insertSchedule(row) });
    }
    return changed;
  }

  /** After a transaction that changed schedules committed: dashboards refetch, the loop re-arms. */
  changed(s: Pick<ScheduleRecord, "id" | "flowId">): void {
    this.ctx.feed.publish({ kind: "schedule", scheduleId: String(s.id), flowId: String(s.flowId) });
    this.arm();
  }

  // ---------------------------------------------------------------- firing

  /** Fires every schedule due at the clock's now; returns how many runs were created. */
  async fireDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.ctx.clock.now();
      const { fired, more } = await this.ctx.store.transaction(async (tx) => {
        const due = await tx.lockDueSchedules(now, FIRE_BATCH);
        const out: Fired = { created: [], toCancel: [], schedules: [], alerts: [] };
        for (const s of due) await this.fireOne(tx, s, now, out);
        return { fired: out, more: due.length === FIRE_BATCH };
      });
      total += fired.created.length;
      for (const r of fired.created) this.lifecycle.announce(r);
      for (const w of fired.alerts) this.ctx.alerts?.done(w);
      for (const s of fired.schedules) this.ctx.feed.publish({ kind: "schedule", scheduleId: String(s.id), flowId: String(s.flowId) });
      for (const id of fired.toCancel) {
        await this.lifecycle.cancel(id, String(id)).catch((e) => {
          if (!(e instanceof PerfectError && e.code === "conflict")) throw e; // already finished: nothing to cancel
        });
      }
      if (!more) return total;
    }
  }

  /** One due schedule, inside the firing transaction. */
  private async fireOne(tx: StoreOps, s: ScheduleRecord, now: number, out: Fired): Promise<void> {
    const graceMs = this.ctx.config.scheduleGraceMs;
    const from = s.nextFireAt!;
    const missedBefore = now - graceMs;
    // On time (or slightly late): every fire time within the grace period runs.
    const current = from >= missedBefore ? fireTimesBetween(s, from, now, MAX_CATCHUP) : fireTimesBetween(s, missedBefore, now, MAX_CATCHUP);
    const missed = from < missedBefore ? missedTimes(s, from, missedBefore - 1, s.catchup) : [];
    const times = [...missed, ...current.filter((t) => t >= from)].slice(-MAX_CATCHUP);
    const flow = await tx.getFlow(s.flowId);
    let last = s.lastFiredFor;
    if (flow && this.ctx.clients.get(flow.clientId) && times.length) {
      let active = await tx.listActiveRunsOfSchedule(s.id);
      for (const t of times) {
        if (s.overlap === "skip" && active.length) continue;
        if (s.overlap === "cancel_running") out.toCancel.push(...active.map((r) => r.id));
        const run = await this.createScheduledRun(tx, flow, s, t, now, out);
        if (run) {
          out.created.push(run);
          if (s.overlap === "cancel_running") active = [];
          active.push(run);
          last = t;
        }
      }
    }
    const after = Math.max(now, times.length ? times[times.length - 1] : now);
    await tx.updateSchedule(s.id, { nextFireAt: nextFireTime(s, after), lastFiredFor: last, updatedAt: now });
    out.schedules.push({ id: s.id, flowId: s.flowId });
  }

  /** The fire time's run; when the schedule's parameters no longer fit the flow, a FAILED run saying so. */
  private async createScheduledRun(tx: StoreOps, flow: FlowRecord, s: ScheduleRecord, t: number, now: number, out: Fired): Promise<RunRecord | null> {
    const origin = { trigger: "schedule" as const, triggeredBy: "schedule", scheduleId: s.id, scheduledFor: t, serial: s.overlap === "queue" };
    try {
      checkedParameters(flow, s.parameters);
    } catch (e) {
      if (!(e instanceof PerfectError)) throw e;
      const error = `the schedule's parameters no longer fit the flow: ${e.message}`;
      const failed = await this.lifecycle.createRun(tx, flow, s.parameters, { ...origin, override: { state: "FAILED", endedAt: now, error, parameters: s.parameters } }, now);
      // A run born FAILED ends here: its run.failed joins the firing's transaction.
      const alerts = failed && (await this.ctx.alerts?.runChanged(tx, { ...failed, state: "PENDING" }, failed, [], now));
      if (alerts) out.alerts.push(alerts);
      return failed;
    }
    return this.lifecycle.createRun(tx, flow, s.parameters, origin, now);
  }

  // ---------------------------------------------------------------- the loop

  /** Sleeps until the earliest fire time (re-armed on every schedule change, here or on another instance). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.ctx.feed.subscribe((c) => {
      if (c.kind === "schedule") this.arm();
    });
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Re-reads the earliest fire time and sets the timer (coalesced: one read per burst of changes). */
  arm(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rearm = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.rearm = false;
          const t = await this.ctx.store.earliestFireAt();
          if (this.stopped) return;
          const delay = t === null ? MAX_SLEEP_MS : Math.min(Math.max(t - this.ctx.clock.now(), 0), MAX_SLEEP_MS);
          if (this.timer) clearTimeout(this.timer);
          this.timer = setTimeout(() => this.pass(), delay);
          this.timer.unref();
        } while (this.rearm);
      } catch (e) {
        console.error("[perfect] scheduler could not read the next fire time:", e);
        if (!this.stopped) {
          this.timer = setTimeout(() => this.arm(), 1000);
          this.timer.unref();
        }
      } finally {
        this.running = null;
      }
    })();
  }

  private firing: Promise<number> | null = null;

  private pass(): void {
    this.timer = null;
    if (this.stopped || this.firing) return;
    this.firing = this.fireDue();
    this.firing
      .catch((e) => console.error("[perfect] scheduler pass failed:", e))
      .finally(() => {
        this.firing = null;
        this.arm();
      });
  }

  // ---------------------------------------------------------------- views

  private async flowOf(flowIdText: string): Promise<FlowRecord> {
    const flow = await this.ctx.store.getFlow(flowIdOf(flowIdText));
    if (!flow) throw notFound("flow", flowIdText);
    return flow;
  }

  view(s: ScheduleRecord, flow: Pick<FlowRecord, "name">): ScheduleView {
    const nextRuns = s.nextFireAt === null ? [] : [s.nextFireAt, ...nextFireTimes(s, s.nextFireAt, 4)];
    return {
      id: String(s.id),
      flowId: String(s.flowId),
      flowName: flow.name,
      cron: s.cron,
      intervalSeconds: s.intervalSeconds,
      anchor: iso(s.anchor),
      timezone: s.timezone,
      parameters: s.parameters,
      active: s.active,
      catchup: s.catchup,
      overlap: s.overlap,
      source: s.source,
      description: describeSchedule(s),
      nextRuns: nextRuns.map((t) => iso(t)!),
      nextFireAt: iso(s.nextFireAt),
      lastFiredFor: iso(s.lastFiredFor),
      createdAt: iso(s.createdAt)!,
      updatedAt: iso(s.updatedAt)!,
    };
  }
}

const flowIdOf = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : -1);

/** The definition with defaults filled in, over the current one for a patch. */
function specOf(g: ScheduleFields, cur: ScheduleSpec | null, at: string): ScheduleSpec {
  let cron = cur?.cron ?? null;
  let intervalSeconds = cur?.intervalSeconds ?? null;
  // cron and intervalSeconds replace each other in a patch.
  if (g.cron) {
    cron = g.cron;
    intervalSeconds = g.intervalSeconds ?? null;
  } else if (g.intervalSeconds) {
    intervalSeconds = g.intervalSeconds;
    cron = g.cron ?? null;
  }
  if (!cur && !cron && !intervalSeconds) throw invalid(`${at}cron`, "give cron (5 or 6 fields) or intervalSeconds");
  const spec: ScheduleSpec = {
    cron,
    intervalSeconds,
    anchor: intervalSeconds === null ? null : g.anchor !== undefined ? (g.anchor ?? null) : (cur?.anchor ?? null),
    timezone: g.timezone ?? cur?.timezone ?? "UTC",
    parameters: g.parameters ?? cur?.parameters ?? {},
    active: g.active ?? cur?.active ?? true,
    catchup: g.catchup ?? cur?.catchup ?? "skip",
    overlap: g.overlap ?? cur?.overlap ?? "allow",
  };
  return spec;
}

/** Timing and parameters checked; a ScheduleSpecError becomes a 400 naming the field. */
function checkSpec(flow: FlowRecord, spec: ScheduleSpec, at: string): void {
  try {
    checkTiming(spec);
  } catch (e) {
    throw asInvalid(e, at);
  }
  try {
    checkedParameters(flow, spec.parameters);
  } catch (e) {
    if (e instanceof PerfectError && e.code === "validation_error" && at) {
      const field = typeof e.details?.field === "string" ? e.details.field : "parameters";
      throw invalid(`${at}${field}`, e.message.slice(field.length + 2));
    }
    throw e;
  }
}

function asInvalid(e: unknown, at: string): unknown {
  return e instanceof ScheduleSpecError ? invalid(`${at}${e.field}`, e.message) : e;
}

function codeKeyOf(spec: ScheduleSpec): string {
  const text = JSON.stringify([spec.cron, spec.intervalSeconds, spec.anchor, spec.timezone, spec.parameters, spec.catchup, spec.overlap]);
  return crypto.createHash("sha256").update(text).digest("hex").slice(0, 24);
}

/**
 * The missed fire times in [from, to] a catch-up policy runs: none (`skip`), the newest
 * (`latest`), or the newest MAX_CATCHUP (`all`) — found by looking back from `to` over
 * growing windows, so a long outage of a per-second schedule never enumerates a year.
 */
function missedTimes(s: ScheduleSpec, from: number, to: number, policy: ScheduleSpec["catchup"]): number[] {
  if (policy === "skip" || to < from) return [];
  const want = policy === "latest" ? 1 : MAX_CATCHUP;
  let start = from;
  for (let look = 1000; to - look > from; look *= 2) {
    if (fireTimesBetween(s, to - look, to, want).length >= want) {
      start = to - look;
      break;
    }
  }
  // The newest `want` of the window, in order.
  const ring: number[] = [];
  let t: number | null = start - 1;
  while ((t = nextFireTime(s, t)) !== null && t <= to) {
    ring.push(t);
    if (ring.length > 2 * want) ring.splice(0, ring.length - want);
  }
  return ring.slice(-want);
}
