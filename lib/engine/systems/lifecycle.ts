/**
 * Lifecycle: a run's beginning and its endings decided by the server — trigger, cancel, a
 * claim given back, and the one "finish on the server" used by cancel and the monitor alike.
 */
import type { FlowRecord, NewLog, RunRecord, TaskRunRecord } from "../../domain/records";
import { MAX_JSON_DEPTH, checkJsonBounds } from "../../domain/json-bounds";
import { canTransition, isTerminal, type RunState, type Trigger } from "../../domain/states";
import { MAX_PARAMETERS_BYTES } from "../../contracts/dashboard";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid, isPerfectError, notFound } from "../errors";
import { resolveParameters } from "../parameters";
import { resolveWeights } from "../weighted-progress";
import { releaseRunSlots } from "./concurrency";
import { routeOf, type EngineContext } from "./context";
import type { RunPublisher } from "./publisher";
import { RunBatch } from "./run-batch";
import type { StatisticsSystem } from "./statistics";
import { pendingTaskRun } from "./task-runs";

/** Where a new run comes from; a schedule's fire also names the schedule and its fire time. */
export interface RunOrigin {
  trigger: Trigger;
  scheduleId?: number;
  scheduledFor?: number;
  /** Overlap `queue`: waits for the schedule's earlier runs. */
  serial?: boolean;
  /** A retry of this run (same flow, same parameters). */
  retryOf?: number;
  /** Who made it (user or token name, `schedule`, the client of a subflow); null: nobody signed in. */
  triggeredBy?: string | null;
  /** Fields set at creation (a schedule whose parameters no longer fit makes a FAILED run). */
  override?: Partial<Pick<RunRecord, "state" | "endedAt" | "error" | "parameters" | "workerId" | "claimedAt" | "startedAt" | "parentRunId" | "parentCall">>;
}

/** The run's parameters: the flow's schema applied, then bounded (400 naming the field). */
export function checkedParameters(flow: FlowRecord, given: Record<string, unknown>): Record<string, unknown> {
  const parameters = resolveParameters(flow.parameters, given);
  // Defaults come from the worker's registration: bounded there, and checked again here so a
  // stored run can always be serialized, listed and reported.
  const violation = checkJsonBounds(parameters, { prefix: "parameters", maxDepth: MAX_JSON_DEPTH });
  if (violation) throw invalid(violation.field, violation.message);
  if (Buffer.byteLength(JSON.stringify(parameters)) > MAX_PARAMETERS_BYTES) throw invalid("parameters", `larger than ${MAX_PARAMETERS_BYTES} bytes of JSON`);
  return parameters;
}

export class LifecycleSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly stats: StatisticsSystem,
    private readonly publish: RunPublisher,
  ) {}

  /** A new PENDING run of the flow: parameters checked and bounded, all of it or nothing. */
  async trigger(flowId: number, flowIdText: string, given: Record<string, unknown>, trigger: Trigger, actor: string | null = null): Promise<{ run: RunRecord; tasks: TaskRunRecord[] }> {
    const now = this.ctx.clock.now();
    const created = await this.ctx.store.transaction(async (tx) => {
      const flow = await tx.getFlow(flowId);
      if (!flow) throw notFound("flow", flowIdText);
      // The task runs as inserted, not read back: one round trip fewer before the commit that
      // wakes the pollers.
      return (await this.createRunWithTasks(tx, flow, given, { trigger, triggeredBy: actor }, now))!;
    });
    this.announce(created.run);
    return created;
  }

  /**
   * Creates a PENDING run of the flow inside `tx`: parameters resolved against the flow's
   * schema and bounded, tags snapshotted, its task runs laid out. A scheduled origin inserts
   * only when its (schedule, fire time) has no run yet: null when it had one.
   */
  async createRun(tx: StoreOps, flow: FlowRecord, given: Record<string, unknown>, origin: RunOrigin, now: number): Promise<RunRecord | null> {
    return (await this.createRunWithTasks(tx, flow, given, origin, now))?.run ?? null;
  }

  /** createRun, answering with the task runs it laid out too. */
  async createRunWithTasks(tx: StoreOps, flow: FlowRecord, given: Record<string, unknown>, origin: RunOrigin, now: number): Promise<{ run: RunRecord; tasks: TaskRunRecord[] } | null> {
    if (!this.ctx.clients.get(flow.clientId)) {
      throw new PerfectError(
        "conflict",
        `flow ${flow.id} belongs to client ${flow.clientId}, which is no longer in the clients file: it cannot be triggered`,
        { reason: "client_removed", clientId: flow.clientId },
      );
    }
    const parameters = origin.override?.parameters ?? checkedParameters(flow, given);
    const record: Omit<RunRecord, "id"> = {
      flowId: flow.id,
      clientId: flow.clientId,
      flowName: flow.name,
      flowVersion: flow.version,
      state: "PENDING",
      parameters,
      tags: flow.tags,
      trigger: origin.trigger,
      workerId: null,
      createdAt: now,
      claimedAt: null,
      startedAt: null,
      endedAt: null,
      error: null,
      progress: 0,
      lastSeq: 0,
      cancelRequestedAt: null,
      unreportedBeats: 0,
      scheduleId: origin.scheduleId ?? null,
      scheduledFor: origin.scheduledFor ?? null,
      serial: origin.serial ?? false,
      limited: flow.maxActiveRuns !== null,
      retryOf: origin.retryOf ?? null,
      parentRunId: null,
      parentCall: null,
      triggeredBy: origin.triggeredBy ?? null,
      cancelledBy: null,
      ...origin.override,
    };
    const id = origin.scheduleId === undefined ? await tx.insertRun(record) : await tx.insertScheduledRun(record);
    if (id === null) return null;
    if (Object.keys(flow.tags).length) await tx.insertRunTags(id, flow.tags);
    const defs = await tx.listFlowTasks([flow.id]);
    const weights = resolveWeights(defs.map((t) => t.estimatedTime));
    const rows = defs.map((t, i) => pendingTaskRun({ runId: id, flowId: flow.id, position: i, name: t.name, weight: weights[i], estimatedTime: t.estimatedTime }));
    const ids = await tx.insertTaskRuns(rows);
    return { run: { ...record, id }, tasks: rows.map((r, i) => ({ ...r, id: ids[i] })) };
  }

  /** After the run's transaction committed: wake the pollers that serve it, tell the dashboards. */
  announce(run: RunRecord): void {
    if (run.state === "PENDING") this.ctx.notifier.runQueued(run.clientId, 1, routeOf(run.flowId, run.flowVersion));
    this.publish.run(run);
  }

  /**
   * A new run of a finished run's flow with the same parameters (checked against the flow's
   * schema as it is now), linked by `retryOf`. A run still PENDING or RUNNING is 409.
   */
  async retry(runId: number, runIdText: string, trigger: Trigger, actor: string | null = null): Promise<{ run: RunRecord; tasks: TaskRunRecord[] }> {
    const now = this.ctx.clock.now();
    const created = await this.ctx.store.transaction(async (tx) => {
      const orig = await tx.getRun(runId);
      if (!orig) throw notFound("run", runIdText);
      if (!isTerminal(orig.state)) throw new PerfectError("conflict", `run ${runIdText} is still ${orig.state}: retry it once it has finished (or cancel it)`, { state: orig.state });
      const flow = await tx.getFlow(orig.flowId);
      if (!flow) throw notFound("flow", String(orig.flowId));
      const run = (await this.createRun(tx, flow, orig.parameters, { trigger, retryOf: orig.id, triggeredBy: actor }, now))!;
      return { run, tasks: await tx.listTaskRuns(run.id) };
    });
    this.announce(created.run);
    return created;
  }

  /**
   * PENDING → CANCELLED at once; RUNNING → flagged, the worker stops at its next task boundary.
   * Every unfinished subflow below the run (at any depth) is cancelled the same way.
   */
  async cancel(runId: number, runIdText: string, actor: string | null = null): Promise<void> {
    await this.cancelOne(runId, runIdText, "", actor);
    await this.cancelDescendants(runId);
  }

  /** The subflows below a run, breadth first (each once). */
  private async descendants(runId: number): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    const seen = new Set<number>([runId]);
    for (let queue = [runId]; queue.length; ) {
      const next: number[] = [];
      for (const id of queue) {
        for (const c of await this.ctx.store.listChildRuns(id)) {
          if (seen.has(c.id)) continue;
          seen.add(c.id);
          out.push(c);
          next.push(c.id);
        }
      }
      queue = next;
    }
    return out;
  }

  private async cancelDescendants(runId: number): Promise<void> {
    for (const c of await this.descendants(runId)) {
      if (isTerminal(c.state)) continue;
      try {
        await this.cancelOne(c.id, String(c.id), `parent run ${c.parentRunId} cancelled: `);
      } catch (e) {
        // Finished meanwhile (409): nothing left to cancel.
        if (!(isPerfectError(e) && e.code === "conflict")) throw e;
      }
    }
  }

  private async cancelOne(runId: number, runIdText: string, why = "", actor: string | null = null): Promise<void> {
    const now = this.ctx.clock.now();
    for (;;) {
      const flagged = await this.ctx.store.transaction(async (tx) => {
        const r = await tx.getRunForUpdate(runId);
        if (!r) throw notFound("run", runIdText);
        if (isTerminal(r.state)) throw new PerfectError("conflict", `run ${runIdText} is already ${r.state}`, { state: r.state });
        if (r.state === "PENDING") return null;
        let logId = 0;
        if (r.cancelRequestedAt === null) {
          await tx.updateRun(r.id, { cancelRequestedAt: now, cancelledBy: actor });
          logId = await this.serverLog(tx, r, "WARNING", `${why}cancellation requested: the worker stops at its next task boundary`, now);
        }
        return { run: r.cancelRequestedAt === null ? { ...r, cancelRequestedAt: now, cancelledBy: actor } : r, logId };
      });
      if (flagged) {
        this.publish.run(flagged.run);
        if (flagged.logId) this.publish.log(runId, flagged.logId, 1);
        return;
      }
      if (await this.finishOnServer(runId, "CANCELLED", null, now, `${why}run cancelled before a worker picked it up`, "PENDING", actor)) return;
      // Claimed between the read and the cancel: ask the worker instead (next turn of the loop).
    }
  }

  /**
   * The one way the server itself ends a run (heartbeat loss, an unreported run, a cancel
   * before pickup). Conditional on the state it read under a row lock, so a run is finished
   * once however many paths (or instances) reach it.
   */
  async finishOnServer(
    runId: number,
    to: "FAILED" | "CANCELLED",
    error: string | null,
    now: number,
    message: string,
    from: RunState = "RUNNING",
    actor: string | null = null,
  ): Promise<RunRecord | null> {
    const done = await this.ctx.store.transaction(async (tx) => {
      const cur = await tx.getRunForUpdate(runId);
      if (!cur || cur.state !== from || !canTransition(cur.state, to)) return null;
      const hooks = await this.stats.hooksFor(tx, cur);
      const batch = new RunBatch(tx, cur, await tx.listTaskRuns(cur.id), hooks);
      await batch.finish(to, now, error);
      await batch.flush(now);
      const patch = {
        state: to,
        endedAt: now,
        error,
        progress: batch.run.progress,
        ...(to === "CANCELLED" ? { cancelRequestedAt: cur.cancelRequestedAt ?? now, ...(actor !== null && cur.cancelledBy === null ? { cancelledBy: actor } : {}) } : {}),
      };
      if (!(await tx.updateRunIf(cur.id, from, patch))) return null;
      const logId = await this.serverLog(tx, cur, to === "FAILED" ? "ERROR" : "WARNING", message, now);
      const slotKeys = await releaseRunSlots(tx, cur.id, now);
      const alerts = await this.ctx.alerts?.runChanged(tx, cur, { ...cur, ...patch }, batch.changedTasks(), now);
      return { run: { ...cur, ...patch }, logId, tasks: batch.changedTasks(), slotKeys, hooks, alerts };
    });
    if (!done) return null;
    this.ctx.alerts?.done(done.alerts);
    this.publish.changes(done.run, done.tasks, done.logId, 1);
    await done.hooks.settle(now);
    this.publish.slots(done.slotKeys);
    // Its subflows run inside it: they end the same way (each in its own unit of work).
    for (const c of await this.ctx.store.listChildRuns(runId)) {
      if (c.state !== "RUNNING" && c.state !== "PENDING") continue;
      await this.finishOnServer(c.id, to, error, now, `parent run ${runId} ended ${to}: ${message}`, c.state);
    }
    return done.run;
  }

  /** Gives a claim back to the queue: PENDING again, for any worker that serves it. */
  async requeue(runId: number, workerId: string, now: number): Promise<void> {
    const back = await this.ctx.store.transaction(async (tx) => {
      const cur = await tx.getRunForUpdate(runId);
      if (!cur || cur.state !== "RUNNING" || cur.workerId !== workerId || cur.lastSeq !== 0) return null;
      if (!canTransition(cur.state, "PENDING")) return null;
      const patch = { state: "PENDING" as const, workerId: null, claimedAt: null, startedAt: null, unreportedBeats: 0 };
      if (!(await tx.updateRunIf(cur.id, "RUNNING", patch))) return null;
      const logId = await this.serverLog(tx, cur, "WARNING", `worker ${workerId} never received this run: it is queued again`, now);
      return { run: { ...cur, ...patch }, logId, slotKeys: await releaseRunSlots(tx, cur.id, now) };
    });
    if (!back) return;
    this.publish.slots(back.slotKeys);
    this.publish.run(back.run);
    this.publish.log(runId, back.logId, 1);
    this.ctx.notifier.runQueued(back.run.clientId, 1, routeOf(back.run.flowId, back.run.flowVersion));
  }

  /** A log line the server writes into a run (ordered after the worker's lines so far). */
  async serverLog(tx: StoreOps, run: RunRecord, level: NewLog["level"], message: string, now: number): Promise<number> {
    return tx.insertLogs([{ runId: run.id, taskRunId: null, seq: run.lastSeq, level, message, ts: now }]);
  }
}
