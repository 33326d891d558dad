/**
 * Artifacts, variables and direct runs — what Prefect users reach for beside tasks:
 * - a run publishes artifacts for its run view (markdown, table, link, progress; a keyed
 *   progress artifact is updated in place), written by the worker that executes the run;
 * - variables are named JSON values, read and written by flows (worker routes) and by people
 *   (dashboard routes);
 * - a direct run (`python etl.py` with PERFECT_URL set) is a run created RUNNING for the calling
 *   worker with `trigger: "local"`; from then on it reports events and heartbeats like a
 *   dispatched run.
 */
import type { ArtifactCreate, ArtifactUpdate, ArtifactView, LocalRunRequest, VariableView } from "../../contracts/artifacts";
import { artifactDataSchemas, variableNameSchema } from "../../contracts/artifacts";
import type { ClaimedRun } from "../../contracts/worker";
import type { ArtifactRecord, RunRecord, VariableRecord } from "../../domain/records";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid, notFound } from "../errors";
import { iso } from "../views";
import type { EngineContext } from "./context";
import type { LifecycleSystem } from "./lifecycle";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";

export function artifactView(a: ArtifactRecord): ArtifactView {
  return {
    id: String(a.id),
    runId: String(a.runId),
    taskRunId: a.taskRunId === null ? null : String(a.taskRunId),
    key: a.key,
    type: a.type,
    description: a.description,
    data: a.data,
    createdAt: iso(a.createdAt)!,
    updatedAt: iso(a.updatedAt)!,
  };
}

export function variableView(v: VariableRecord): VariableView {
  return { name: v.name, value: v.value, createdAt: iso(v.createdAt)!, updatedAt: iso(v.updatedAt)! };
}

export class ArtifactSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly lifecycle: LifecycleSystem,
    private readonly publish: RunPublisher,
  ) {}

  /** The run, RUNNING and executed by this worker of this client (403/404/409 otherwise); inside `tx`. */
  private async ownRun(tx: StoreOps, clientId: string, runId: number, runIdText: string, workerId: string): Promise<RunRecord> {
    const run = await tx.getRun(runId);
    if (!run) throw notFound("run", runIdText);
    if (run.clientId !== clientId) throw new PerfectError("forbidden", `run ${runIdText} belongs to another client`);
    if (run.state !== "RUNNING") throw new PerfectError("run_finished", `run ${runIdText} is ${run.state}`, { state: run.state });
    if (run.workerId !== workerId) throw new PerfectError("conflict", `run ${runIdText} is not executed by worker ${workerId}`, { state: run.state });
    return run;
  }

  /** A new artifact of the run (201); a progress artifact with a key the run already used is updated in place instead. */
  async create(clientId: string, runId: number, runIdText: string, req: ArtifactCreate): Promise<{ artifact: ArtifactView }> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const { run, artifact } = await this.ctx.store.transaction(async (tx) => {
      const run = await this.ownRun(tx, clientId, runId, runIdText, req.workerId);
      const key = req.key ?? null;
      if (key !== null && req.type === "progress") {
        const existing = await tx.findArtifactByKey(run.id, key);
        if (existing && existing.type === "progress") {
          await tx.updateArtifact(existing.id, { data: req.data, description: req.description ?? undefined, updatedAt: now });
          return { run, artifact: (await tx.getArtifact(existing.id))! };
        }
      }
      let taskRunId: number | null = null;
      if (req.call !== null && req.call !== undefined) {
        taskRunId = (await tx.listTaskRuns(run.id)).find((t) => t.callIndex === req.call)?.id ?? null;
      }
      const id = await tx.insertArtifact({ runId: run.id, taskRunId, key, type: req.type, description: req.description ?? "", data: req.data, createdAt: now, updatedAt: now });
      return { run, artifact: (await tx.getArtifact(id))! };
    });
    this.publish.run(run); // the run view refetches its artifacts on its run's changes
    return { artifact: artifactView(artifact) };
  }

  /** New data for an artifact of the run (Prefect's `update_progress_artifact`), checked against its type. */
  async update(clientId: string, runId: number, runIdText: string, artifactIdText: string, req: ArtifactUpdate): Promise<{ artifact: ArtifactView }> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const { run, artifact } = await this.ctx.store.transaction(async (tx) => {
      const run = await this.ownRun(tx, clientId, runId, runIdText, req.workerId);
      const existing = /^\d{1,15}$/.test(artifactIdText) ? await tx.getArtifact(Number(artifactIdText)) : undefined;
      if (!existing || existing.runId !== run.id) throw notFound("artifact", artifactIdText);
      const parsed = artifactDataSchemas[existing.type].safeParse(req.data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw invalid(["data", ...issue.path.map(String)].join("."), issue.message);
      }
      await tx.updateArtifact(existing.id, { data: parsed.data, description: req.description ?? undefined, updatedAt: now });
      return { run, artifact: (await tx.getArtifact(existing.id))! };
    });
    this.publish.run(run);
    return { artifact: artifactView(artifact) };
  }

  /** `GET /api/runs/{id}/artifacts`. */
  async list(runId: number, runIdText: string): Promise<{ artifacts: ArtifactView[] }> {
    const run = await this.ctx.store.getRun(runId);
    if (!run) throw notFound("run", runIdText);
    return { artifacts: (await this.ctx.store.listArtifacts(run.id)).map(artifactView) };
  }

  // ------------------------------------------------------------------------------- variables

  private name(text: string): string {
    const r = variableNameSchema.safeParse(text);
    if (!r.success) throw invalid("name", r.error.issues[0].message);
    return r.data;
  }

  async listVariables(): Promise<{ variables: VariableView[] }> {
    return { variables: (await this.ctx.store.listVariables()).map(variableView) };
  }

  async getVariable(nameText: string): Promise<{ variable: VariableView }> {
    const v = await this.ctx.store.getVariable(this.name(nameText));
    if (!v) throw notFound("variable", nameText);
    return { variable: variableView(v) };
  }

  async setVariable(nameText: string, value: unknown): Promise<{ variable: VariableView }> {
    const name = this.name(nameText);
    return { variable: variableView(await this.ctx.store.upsertVariable(name, value, this.ctx.clock.now())) };
  }

  async deleteVariable(nameText: string): Promise<void> {
    if (!(await this.ctx.store.deleteVariable(this.name(nameText)))) throw notFound("variable", nameText);
  }

  // ------------------------------------------------------------------------------- direct runs

  /**
   * A flow called directly by a worker that registered it: a run RUNNING for that worker, with
   * `trigger: "local"` and the parameters checked against the flow's schema (400 naming the
   * field). 404 when the worker serves no flow of that name.
   */
  async startLocal(clientId: string, req: LocalRunRequest): Promise<{ run: ClaimedRun }> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const run = await this.ctx.store.transaction(async (tx) => {
      const served = await tx.listFlowsOfWorker(req.workerId);
      let flow = null;
      for (const s of served) {
        const f = await tx.getFlow(s.flowId);
        if (f && f.name === req.flow && f.clientId === clientId) flow = f;
      }
      if (!flow) throw notFound("flow", req.flow);
      return (await this.lifecycle.createRun(tx, flow, req.parameters, {
        trigger: "local",
        // Audit: a direct run is made by the worker process that called the flow.
        triggeredBy: `worker ${req.workerId}`,
        override: { state: "RUNNING", workerId: req.workerId, claimedAt: now, startedAt: now },
      }, now))!;
    });
    this.publish.run(run);
    return { run: { id: String(run.id), flowId: String(run.flowId), flowName: run.flowName, parameters: run.parameters, createdAt: iso(run.createdAt)! } };
  }
}
