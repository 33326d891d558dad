/**
 * Dispatch: worker registration, claims, long polls and heartbeats. A run is claimed only by
 * a worker that registered its flow at the run's version; a heartbeat that twice leaves out a
 * run the worker holds gives it back (never received) or fails it (dropped).
 */
import crypto from "node:crypto";
import type { ClaimedRun, GoodbyeRequest, HeartbeatRequest, PollRequest, RegisterRequest } from "../../contracts/worker";
import type { RunRecord } from "../../domain/records";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid } from "../errors";
import { iso } from "../views";
import type { EngineContext } from "./context";
import type { LifecycleSystem } from "./lifecycle";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";
import type { SchedulerSystem } from "./scheduler";

export const RUN_UNREPORTED = "worker stopped reporting this run";
export const WORKER_STOPPED = "worker stopped";
/** Consecutive heartbeats that must omit a claimed run before the server acts on it. */
export const UNREPORTED_BEATS = 2;

/** A version for an SDK that sends none: the definition itself (same definition, same version). */
export function definitionVersion(f: RegisterRequest["flows"][number]): string {
  const text = JSON.stringify([f.description ?? "", f.tags, f.tasks, f.parameters]);
  return `def-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** Writes a flow definition for a client (registration, or a subflow's first call): the flow and its tasks. */
export async function writeFlowDefinition(tx: StoreOps, clientId: string, f: RegisterRequest["flows"][number], now: number) {
  const version = f.version ?? definitionVersion(f);
  const flow = {
    clientId,
    name: f.name,
    description: f.description ?? "",
    tags: f.tags,
    parameters: f.parameters,
    version,
    maxActiveRuns: f.maxActiveRuns ?? null,
    registeredAt: now,
    updatedAt: now,
  };
  const id = await tx.upsertFlow(flow);
  await tx.replaceFlowTasks(
    id,
    f.tasks.map((t, position) => ({ position, name: t.name, estimatedTime: t.estimatedTime ?? null, description: t.description ?? "" })),
  );
  return { ...flow, id };
}

/**
 * The worker's RUNNING runs its heartbeat reports: those it lists, and the subflows (at any
 * depth) of a run it lists, which execute inside that run.
 */
function covered(active: RunRecord[], listed: Set<number>): Set<number> {
  const byId = new Map(active.map((r) => [r.id, r]));
  const out = new Set<number>();
  const reports = (r: RunRecord, depth: number): boolean => {
    if (listed.has(r.id) || out.has(r.id)) return true;
    const parent = r.parentRunId === null ? undefined : byId.get(r.parentRunId);
    return parent !== undefined && depth < 100 && reports(parent, depth + 1);
  };
  for (const r of active) if (reports(r, 0)) out.add(r.id);
  return out;
}

export class DispatchSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly lifecycle: LifecycleSystem,
    private readonly publish: RunPublisher,
    private readonly scheduler: SchedulerSystem,
  ) {}

  authenticate(clientId: string, token: string | null): void {
    if (!this.ctx.clients.authenticate(clientId, token)) {
      throw new PerfectError("unauthorized", "missing or wrong bearer token for this client");
    }
  }

  async register(clientId: string, req: RegisterRequest) {
    const now = this.ctx.clock.now();
    const workerId = `wkr_${crypto.randomBytes(9).toString("base64url")}`;
    const names = new Set<string>();
    req.flows.forEach((f, i) => {
      if (names.has(f.name)) throw invalid(`flows.${i}.name`, `duplicate flow name "${f.name}"`);
      names.add(f.name);
    });
    const registered = await this.ctx.store.transaction(async (tx) => {
      await tx.insertWorker({
        id: workerId,
        clientId,
        hostname: req.worker.hostname ?? null,
        pid: req.worker.pid ?? null,
        sdkVersion: req.worker.sdkVersion ?? null,
        registeredAt: now,
        lastSeenAt: now,
      });
      const out: { id: string; name: string; flowId: number; version: string }[] = [];
      const schedules: { id: number; flowId: number }[] = [];
      for (const [i, f] of req.flows.entries()) {
        const flow = await writeFlowDefinition(tx, clientId, f, now);
        // Code is the source of truth for its schedules: a registration without any removes them.
        schedules.push(...(await this.scheduler.syncCode(tx, flow, f.schedules ?? [], `flows.${i}.schedules.`, now)));
        out.push({ id: String(flow.id), name: f.name, flowId: flow.id, version: flow.version });
      }
      await tx.replaceWorkerFlows(workerId, out.map((r) => ({ flowId: r.flowId, version: r.version })));
      return { out, schedules };
    });
    for (const s of registered.schedules) this.scheduler.changed(s);
    return this.registered(clientId, workerId, registered.out);
  }

  private async registered(clientId: string, workerId: string, registered: { id: string; name: string; flowId: number; version: string }[]) {
    this.presence.registered(workerId, clientId, registered);
    await this.presence.touch(workerId, clientId);
    for (const f of registered) this.ctx.feed.publish({ kind: "flow", flowId: f.id, clientId });
    return {
      clientId,
      workerId,
      heartbeatIntervalMs: this.presence.heartbeatIntervalMs,
      longPollMs: this.ctx.config.longPollMs,
      flows: registered.map(({ id, name }) => ({ id, name })),
    };
  }

  async claim(clientId: string, workerId: string, max: number): Promise<ClaimedRun[]> {
    // A client removed from clients.json while its poll was waiting gets no new work.
    if (!this.ctx.clients.get(clientId)) return [];
    const now = this.ctx.clock.now();
    const rows = await this.ctx.store.claimPendingRuns(clientId, workerId, max, now);
    for (const r of rows) {
      this.publish.run(r);
      this.ctx.alerts?.metrics.dispatched(now - r.createdAt);
    }
    return rows.map((r) => ({ id: String(r.id), flowId: String(r.flowId), flowName: r.flowName, parameters: r.parameters, createdAt: iso(r.createdAt)! }));
  }

  /** Long poll: answers at once with claimable runs, else waits until woken or waitMs passes. */
  async poll(clientId: string, req: PollRequest, signal?: AbortSignal): Promise<{ runs: ClaimedRun[] }> {
    await this.presence.requireWorker(clientId, req.workerId);
    const waitMs = Math.min(req.waitMs ?? this.ctx.config.longPollMs, this.ctx.config.longPollMs);
    const deadline = Date.now() + waitMs;
    const serves = await this.presence.servesOf(req.workerId);
    let woken = false;
    for (;;) {
      // A woken poll's sign of life is stored beside the claim, not in front of it: on
      // PostgreSQL each is a round trip, and the claim is what the waiting worker is for.
      const [runs] = await Promise.all([this.claim(clientId, req.workerId, req.maxRuns), woken ? this.presence.touch(req.workerId, clientId) : null]);
      if (runs.length) return { runs };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { runs: [] };
      await this.ctx.notifier.waitForRun(clientId, left, signal, serves);
      if (signal?.aborted) return { runs: [] };
      woken = true;
    }
  }

  async heartbeat(clientId: string, req: HeartbeatRequest) {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const ids = req.runIds.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    const cancelledRunIds: string[] = [];
    const finishedRunIds: string[] = [];
    const rows = await this.ctx.store.listRunsOfWorker(req.workerId, ids);
    for (const r of rows) {
      if (r.state === "COMPLETED" || r.state === "FAILED" || r.state === "CANCELLED") finishedRunIds.push(String(r.id));
      else if (r.cancelRequestedAt !== null) cancelledRunIds.push(String(r.id));
    }
    // Ids the worker runs that the server never gave it (another worker's, or a wiped database).
    const mine = new Set(rows.map((r) => String(r.id)));
    for (const id of req.runIds) if (!mine.has(id)) finishedRunIds.push(id);
    const active = await this.ctx.store.listActiveRunsOfWorker(req.workerId);
    const reported = covered(active, new Set(ids));
    // A subflow runs inside its parent: listing the parent reports it, and its cancel is
    // answered with the parent's heartbeat even when the worker does not list it itself.
    for (const r of active) if (!ids.includes(r.id) && reported.has(r.id) && r.cancelRequestedAt !== null) cancelledRunIds.push(String(r.id));
    await this.judgeUnreported(req.workerId, active, reported, now);
    return { cancelledRunIds, finishedRunIds, heartbeatIntervalMs: this.presence.heartbeatIntervalMs };
  }

  /**
   * A worker process stopping on purpose (SIGTERM, Ctrl-C, the end of `serve`) says so last: it
   * is forgotten at once — no longer listed, routed to, or judged lost by the monitor (no
   * worker.lost alert for a deploy) — and a run of it still RUNNING, whose end the worker could
   * not deliver, is FAILED now rather than after the heartbeat timeout.
   */
  async goodbye(clientId: string, req: GoodbyeRequest): Promise<void> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    for (const r of await this.ctx.store.listActiveRunsOfWorker(req.workerId)) {
      if (r.state !== "RUNNING") continue;
      await this.lifecycle.finishOnServer(r.id, "FAILED", WORKER_STOPPED, now, `${WORKER_STOPPED}: worker ${req.workerId} stopped before it reported the run's end`);
    }
    await this.ctx.store.deleteWorker(req.workerId);
    this.presence.goodbye(req.workerId, clientId);
  }

  /**
   * A heartbeat lists every run its worker holds. A RUNNING run of this worker that
   * UNREPORTED_BEATS heartbeats in a row leave out is not being executed: the first omission
   * may be a heartbeat composed just before the claim's answer arrived, the second cannot be.
   * A claim that never reached the worker (no event yet) goes back to the queue; a run the
   * worker dropped after starting it is FAILED with a reason that says so.
   */
  private async judgeUnreported(workerId: string, active: RunRecord[], reported: Set<number>, now: number): Promise<void> {
    for (const r of active) {
      if (reported.has(r.id)) {
        if (r.unreportedBeats !== 0) await this.ctx.store.updateRunIf(r.id, "RUNNING", { unreportedBeats: 0 });
        continue;
      }
      const beats = r.unreportedBeats + 1;
      if (beats < UNREPORTED_BEATS) await this.ctx.store.updateRunIf(r.id, "RUNNING", { unreportedBeats: beats });
      else if (r.lastSeq === 0) await this.lifecycle.requeue(r.id, workerId, now);
      else await this.lifecycle.finishOnServer(r.id, "FAILED", RUN_UNREPORTED, now, `${RUN_UNREPORTED}: worker ${workerId} no longer lists it in its heartbeats`);
    }
  }
}
