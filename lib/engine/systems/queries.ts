/**
 * The read model: runs, logs, flows, statistics and clients as the dashboard API shows them,
 * with their live figures (progress, ETA, warnings, who serves what).
 */
import type { ClientView, FlowListQuery, FlowSummaryView, FlowSummaryWindow, FlowView, LogView, SummaryView, RunListQuery, RunSummary, RunView, TaskStatView } from "../../contracts/dashboard";
import { FLOW_PAGE_DEFAULT, FLOW_SUMMARY_POINTS, FLOW_SUMMARY_WINDOWS, encodeFlowCursor } from "../../contracts/dashboard";
import type { FlowRecord, FlowTaskRecord, RunRecord, TaskRunRecord } from "../../domain/records";
import type { Warning } from "../../domain/states";
import { notFound } from "../errors";
import { escalate } from "../outliers";
import { flowView, iso, logView, runSummary, taskRunView, taskStatView } from "../views";
import { estimateRemaining } from "../weighted-progress";
import type { EngineContext } from "./context";
import type { PresenceSystem } from "./presence";
import { expectedCallsOf, progressInput, type StatisticsSystem } from "./statistics";

type Flags = Map<number, { warning: Warning | null; stalled: boolean }>;

export class QuerySystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly stats: StatisticsSystem,
  ) {}

  /** Flow versions that at least one online worker serves, per flow. */
  private async servedOnline(flowIds: number[], now: number): Promise<Map<number, Set<string>>> {
    const out = new Map<number, Set<string>>();
    for (const wf of await this.ctx.store.listWorkerFlows([...new Set(flowIds)])) {
      if (!this.presence.isWorkerOnline(wf.workerId, now)) continue;
      let set = out.get(wf.flowId);
      if (!set) out.set(wf.flowId, (set = new Set()));
      set.add(wf.version);
    }
    return out;
  }

  private waitingForWorker(r: RunRecord, served: Map<number, Set<string>>): boolean {
    return r.state === "PENDING" && !served.get(r.flowId)?.has(r.flowVersion);
  }

  async getRun(runId: number, idText: string): Promise<RunView> {
    const run = await this.ctx.store.getRun(runId);
    if (!run) throw notFound("run", idText);
    return this.viewOf(run, await this.ctx.store.listTaskRuns(run.id));
  }

  /**
   * The view of a run as these records show it. A trigger answers with the run as it was
   * created (PENDING) from the records it wrote, not a read after the pollers were woken, when
   * a worker may already hold it.
   */
  async viewOf(run: RunRecord, tasks: TaskRunRecord[]): Promise<RunView> {
    const now = this.ctx.clock.now();
    const baselines = await this.stats.baselinesOf(run.flowId);
    const active = run.state === "RUNNING" || run.state === "PENDING";
    // The stored high-water mark, never a fresh estimate: a read between two batches could see
    // time-based progress that the next task start (a mapped call adding weight) takes back.
    // Batches and the once-a-second monitor keep it current.
    const progress = run.state === "COMPLETED" ? 1 : run.progress;
    const eta = active ? estimateRemaining(tasks.map((t) => progressInput(t, baselines.get(t.name))), now, expectedCallsOf(baselines)) : null;
    const warning = tasks.reduce<Warning | null>((w, t) => escalate(w, t.warning), null);
    const waiting = run.state === "PENDING" && this.waitingForWorker(run, await this.servedOnline([run.flowId], now));
    let waitingForSlot = false;
    if (run.state === "PENDING" && run.limited) {
      const flow = await this.ctx.store.getFlow(run.flowId);
      waitingForSlot = flow?.maxActiveRuns != null && (await this.ctx.store.countRunningRuns(run.flowId)) >= flow.maxActiveRuns;
    }
    return {
      ...runSummary(run, { progress, eta, now, warning, stalled: tasks.some((t) => t.stalled), waitingForWorker: waiting, waitingForSlot, graceMs: this.ctx.config.scheduleGraceMs }),
      taskRuns: tasks.map((t) => taskRunView(t, baselines.get(t.name) ?? null, now)),
      retries: (await this.ctx.store.listRetriesOf(run.id)).map(String),
      childRuns: (await this.ctx.store.listChildRuns(run.id)).map((c) => ({ id: String(c.id), flowName: c.flowName, state: c.state, progress: c.state === "COMPLETED" ? 1 : c.progress })),
    };
  }

  async listRuns(q: RunListQuery): Promise<{ runs: RunSummary[]; nextCursor: string | null }> {
    const page = await this.ctx.store.listRuns(q);
    const now = this.ctx.clock.now();
    const flags = await this.ctx.store.countWarnings(page.runs.map((r) => r.id));
    const pending = page.runs.filter((r) => r.state === "PENDING");
    const served = pending.length ? await this.servedOnline(pending.map((r) => r.flowId), now) : new Map<number, Set<string>>();
    return {
      runs: page.runs.map((r) =>
        runSummary(r, { now, warning: flags.get(r.id)?.warning ?? null, stalled: flags.get(r.id)?.stalled ?? false, waitingForWorker: this.waitingForWorker(r, served), graceMs: this.ctx.config.scheduleGraceMs }),
      ),
      nextCursor: page.nextCursor,
    };
  }

  async listLogs(runId: number, idText: string, q: { after: number; taskRunId?: string; level: string[]; limit: number; q?: string }): Promise<{ logs: LogView[] }> {
    const run = await this.ctx.store.getRun(runId);
    if (!run) throw notFound("run", idText);
    const names = new Map((await this.ctx.store.listTaskRuns(run.id)).map((t) => [t.id, t.name]));
    const rows = await this.ctx.store.listLogs(run.id, {
      after: q.after,
      taskRunId: q.taskRunId === undefined ? undefined : Number(q.taskRunId),
      levels: q.level,
      limit: q.limit,
      q: q.q,
    });
    return { logs: rows.map((l) => logView(l, l.taskRunId === null ? null : (names.get(l.taskRunId) ?? null))) };
  }

  /** One page of flows by name (then id); `nextCursor` is null on the last page. */
  async listFlows(q: FlowListQuery = { limit: FLOW_PAGE_DEFAULT }): Promise<{ flows: FlowView[]; nextCursor: string | null }> {
    const rows = await this.ctx.store.listFlowsPage({ name: q.name, after: q.cursor, limit: q.limit + 1 });
    const more = rows.length > q.limit;
    const flows = more ? rows.slice(0, q.limit) : rows;
    const ids = flows.map((f) => f.id);
    const tasks = new Map<number, FlowTaskRecord[]>();
    for (const t of await this.ctx.store.listFlowTasks(ids)) {
      const list = tasks.get(t.flowId);
      if (list) list.push(t);
      else tasks.set(t.flowId, [t]);
    }
    const last = new Map((await this.ctx.store.lastRunsOfFlows(ids)).map((r) => [r.flowId, r]));
    const lastFlags = await this.ctx.store.countWarnings([...last.values()].map((r) => r.id));
    const served = await this.servedOnline(ids, this.ctx.clock.now());
    const lastFlow = flows[flows.length - 1];
    return {
      flows: flows.map((f) => this.flowViewOf(f, tasks.get(f.id) ?? [], last.get(f.id), lastFlags, served.get(f.id)?.has(f.version) ?? false)),
      nextCursor: more ? encodeFlowCursor({ name: lastFlow.name, id: lastFlow.id }) : null,
    };
  }

  async getFlow(id: number, idText: string): Promise<FlowView> {
    const flow = await this.ctx.store.getFlow(id);
    if (!flow) throw notFound("flow", idText);
    const lr = (await this.ctx.store.lastRunsOfFlows([id]))[0];
    const flags: Flags = lr ? await this.ctx.store.countWarnings([lr.id]) : new Map();
    const served = await this.servedOnline([id], this.ctx.clock.now());
    return this.flowViewOf(flow, await this.ctx.store.listFlowTasks([id]), lr, flags, served.get(id)?.has(flow.version) ?? false);
  }

  /** The flows page's strip: what runs, waits, failed lately and is late now, and who serves. */
  async summary(): Promise<SummaryView> {
    const now = this.ctx.clock.now();
    const since = now - 24 * 60 * 60 * 1000;
    const c = await this.ctx.store.runCounts(since, now - this.ctx.config.scheduleGraceMs);
    let workersOnline = 0;
    for (const n of this.presence.onlineWorkersByClient(now).values()) workersOnline += n;
    const clientsOnline = this.ctx.clients.all().filter((cl) => this.presence.isClientOnline(cl.id, now)).length;
    return { runningNow: c.running, pendingNow: c.pending, failed24h: c.failedSince, late: c.late, workersOnline, clientsOnline, failedSince: iso(since)!, asOf: iso(now)! };
  }

  /** The flow page's figures over a window ending now (404 for an unknown flow). */
  async flowSummary(id: number, idText: string, window: FlowSummaryWindow): Promise<FlowSummaryView> {
    const flow = await this.ctx.store.getFlow(id);
    if (!flow) throw notFound("flow", idText);
    const since = this.ctx.clock.now() - FLOW_SUMMARY_WINDOWS[window];
    const s = await this.ctx.store.flowRunSummary(id, since, FLOW_SUMMARY_POINTS);
    const completed = s.counts.COMPLETED ?? 0;
    const finished = completed + (s.counts.FAILED ?? 0);
    return {
      flowId: String(id),
      window,
      since: iso(since),
      total: Object.values(s.counts).reduce((a, b) => a + (b ?? 0), 0),
      counts: s.counts,
      successRate: finished ? completed / finished : null,
      p50Ms: s.p50Ms,
      p95Ms: s.p95Ms,
      samples: s.samples,
      runs: s.recent.map((r) => ({
        id: String(r.id),
        state: r.state,
        createdAt: iso(r.createdAt),
        startedAt: iso(r.startedAt),
        endedAt: iso(r.endedAt),
        durationMs: r.startedAt !== null && r.endedAt !== null ? r.endedAt - r.startedAt : null,
      })),
    };
  }

  private flowViewOf(f: FlowRecord, tasks: FlowTaskRecord[], lr: RunRecord | undefined, flags: Flags, online: boolean): FlowView {
    const client = this.ctx.clients.get(f.clientId);
    const w = lr ? (flags.get(lr.id)?.warning ?? null) : null;
    return {
      ...flowView(f, tasks, { online, clientName: client?.name ?? f.clientId, lastRun: lr, lastRunWarning: w, warnings: w ? 1 : 0 }),
      clientRemoved: !client,
    };
  }

  async listTaskStats(flowName?: string, flowId?: string): Promise<{ stats: TaskStatView[] }> {
    let flows = await this.ctx.store.listFlows(flowName);
    if (flowId) flows = flows.filter((f) => String(f.id) === flowId);
    const names = new Map(flows.map((f) => [f.id, f]));
    const rows = await this.ctx.store.listTaskStats(flows.map((f) => f.id));
    return { stats: rows.map((s) => taskStatView(s, names.get(s.flowId)?.name ?? "", this.ctx.clients.sensitivity(s.clientId))) };
  }

  async listClients(): Promise<{ clients: ClientView[] }> {
    const now = this.ctx.clock.now();
    const workers = await this.ctx.store.listWorkers();
    const flowCount = await this.ctx.store.countFlowsByClient();
    const configured = new Set(this.ctx.clients.all().map((c) => c.id));
    return {
      clients: (await this.ctx.store.listClients())
        .filter((c) => configured.has(c.id))
        .map((c) => {
          const mine = workers.filter((w) => w.clientId === c.id);
          let lastSeen = c.lastSeenAt ?? 0;
          for (const w of mine) lastSeen = Math.max(lastSeen, this.presence.observed(w.id, w.lastSeenAt));
          return {
            id: c.id,
            name: c.name,
            performanceSensitivity: this.ctx.clients.sensitivity(c.id),
            online: this.presence.isClientOnline(c.id, now),
            lastSeenAt: lastSeen > 0 ? iso(lastSeen) : null,
            workers: mine.slice(0, 20).map((w) => ({
              id: w.id,
              hostname: w.hostname,
              pid: w.pid,
              online: this.presence.isWorkerOnline(w.id, now),
              lastSeenAt: iso(this.presence.observed(w.id, w.lastSeenAt))!,
            })),
            flows: flowCount.get(c.id) ?? 0,
          };
        }),
    };
  }
}
