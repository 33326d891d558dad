/**
 * Subflows: a flow called inside a running flow is a child run of its own (parentRunId,
 * parentCall), created RUNNING for the worker that executes the parent. The parent shows the
 * child as its task call `parentCall`, whose progress is the child's; the server learns the
 * child's real duration as that task's statistics.
 */
import type { ClaimedRun, SubflowRequest } from "../../contracts/worker";
import type { RunRecord, TaskRunRecord } from "../../domain/records";
import type { StoreOps } from "../../store/store";
import { PerfectError, notFound } from "../errors";
import { iso } from "../views";
import type { EngineContext } from "./context";
import { definitionVersion, writeFlowDefinition } from "./dispatch";
import type { LifecycleSystem } from "./lifecycle";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";
import type { StatisticsSystem } from "./statistics";

/** What a child's batch changed in its parent (announced after the transaction commits). */
export interface ParentChange {
  run: RunRecord;
  task: Pick<TaskRunRecord, "id" | "state"> | null;
}

export class SubflowSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly lifecycle: LifecycleSystem,
    private readonly stats: StatisticsSystem,
    private readonly publish: RunPublisher,
  ) {}

  /**
   * Starts (or, for a re-sent request, finds) the child run of `parentId` for task call
   * `req.call`. The parent must be RUNNING and claimed by the requesting worker (409). The
   * child's flow is upserted for the client as a registration does and added to what the worker
   * serves; the parameters are checked against its schema (400 naming the field).
   */
  async start(clientId: string, parentId: number, parentIdText: string, req: SubflowRequest): Promise<{ run: ClaimedRun }> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const f = req.flow;
    const version = f.version ?? definitionVersion(f);
    const done = await this.ctx.store.transaction(async (tx) => {
      // The parent's row lock orders concurrent re-sends: the second finds the first's child.
      const parent = await tx.getRunForUpdate(parentId);
      if (!parent) throw notFound("run", parentIdText);
      if (parent.clientId !== clientId) throw new PerfectError("forbidden", `run ${parentIdText} belongs to another client`);
      const existing = await tx.getChildRun(parent.id, req.call);
      if (existing) return { child: existing, parent, created: false, flowId: existing.flowId, routes: null };
      if (parent.state !== "RUNNING") {
        throw new PerfectError("conflict", `run ${parentIdText} is ${parent.state}: only a RUNNING run starts subflows`, { state: parent.state });
      }
      if (parent.workerId !== req.workerId) {
        throw new PerfectError("conflict", `run ${parentIdText} is not claimed by worker ${req.workerId}`, { state: parent.state });
      }
      const { id: flowId } = await writeFlowDefinition(tx, clientId, f, now);
      const served = await tx.listFlowsOfWorker(req.workerId);
      let routes: { flowId: number; version: string }[] | null = null;
      if (!served.some((s) => s.flowId === flowId && s.version === version)) {
        routes = [...served.filter((s) => s.flowId !== flowId).map((s) => ({ flowId: s.flowId, version: s.version })), { flowId, version }];
        await tx.replaceWorkerFlows(req.workerId, routes);
      }
      const flow = (await tx.getFlow(flowId))!;
      const child = (await this.lifecycle.createRun(tx, flow, req.parameters, {
        trigger: "subflow",
        // A subflow is made by the worker running its parent: its client is who triggered it.
        triggeredBy: clientId,
        override: { state: "RUNNING", workerId: req.workerId, claimedAt: now, startedAt: now, parentRunId: parent.id, parentCall: req.call },
      }, now))!;
      return { child, parent, created: true, flowId, routes };
    });
    const { child } = done;
    if (done.created) {
      if (done.routes) this.presence.registered(req.workerId, clientId, done.routes);
      this.ctx.feed.publish({ kind: "flow", flowId: String(done.flowId), clientId });
      this.publish.run(child);
      this.publish.run(done.parent); // its childRuns changed
    }
    return { run: { id: String(child.id), flowId: String(child.flowId), flowName: child.flowName, parameters: child.parameters, createdAt: iso(child.createdAt)! } };
  }

  /**
   * Inside a child's unit of work (its row locked; the parent is locked after it, never
   * before): the parent's task run for the child's call takes the child's progress, and the
   * parent's progress high-water mark moves with it. Null when the parent is not RUNNING.
   */
  async childMoved(tx: StoreOps, child: RunRecord, now: number): Promise<ParentChange | null> {
    if (child.parentRunId === null) return null;
    const parent = await tx.getRunForUpdate(child.parentRunId);
    if (!parent || parent.state !== "RUNNING") return null;
    const tasks = await tx.listTaskRuns(parent.id);
    const t = child.parentCall === null ? undefined : tasks.find((x) => x.callIndex === child.parentCall);
    if (!t || t.state !== "RUNNING") return { run: parent, task: null };
    const fraction = child.state === "COMPLETED" ? 1 : child.progress;
    if (t.reportedProgress === fraction) return { run: parent, task: null };
    const patch = { reportedProgress: fraction, progressChangedAt: now, stalled: false };
    Object.assign(t, patch);
    await tx.updateTaskRun(t.id, patch);
    const progress = this.stats.progress(parent, tasks, now, await this.stats.baselinesOf(parent.flowId, tx));
    if (progress > parent.progress) await tx.updateRun(parent.id, { progress });
    return { run: { ...parent, progress: Math.max(progress, parent.progress) }, task: { id: t.id, state: t.state } };
  }

  /** After the child's transaction committed: both views move. */
  announce(change: ParentChange | null): void {
    if (!change) return;
    this.publish.changes(change.run, change.task ? [change.task] : [], 0, 0);
  }
}
