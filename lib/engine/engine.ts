/**
 * The run engine: a plain class with its store, clock, notifier and change feed passed in.
 * Workers *propose* transitions (through events); the engine decides against the transition
 * table and answers 409 when a run is already final. Every write is one BEGIN IMMEDIATE
 * transaction, so an acknowledged event is durable and a refused one changes nothing.
 */
import crypto from "node:crypto";
import type { FlowRow, FlowTaskRow, RunRow, TaskRunRow, TaskStatRow } from "../../db/schema";
import { MAX_JSON_DEPTH, checkJsonBounds } from "../api/json-bounds";
import type { ClientRegistry } from "../clients-file";
import { FLOW_PAGE_DEFAULT, MAX_PARAMETERS_BYTES, encodeFlowCursor, type FlowListQuery } from "../contracts/dashboard";
import type { ClientView, FlowView, LogView, RunListQuery, RunSummary, RunView, TaskStatView } from "../contracts/dashboard";
import type {
  ClaimedRun,
  EventBatch,
  EventBatchResult,
  HeartbeatRequest,
  PollRequest,
  RegisterRequest,
  WorkerEvent,
} from "../contracts/worker";
import type { ChangeFeed } from "./change-feed";
import type { Clock } from "./clock";
import type { RunNotifier } from "./dispatch";
import { PerfectError, invalid, notFound } from "./errors";
import { LivenessTracker } from "./liveness";
import { STATS_WINDOW, criticalDurationMs, escalate, evaluateDuration, summarize, type Baseline } from "./outliers";
import { resolveParameters } from "./parameters";
import { canTransition, isTerminal, type RunState, type Trigger, type Warning } from "../domain/states";
import type { NewLog, NewTaskRun, Store } from "./store";
import { flowView, iso, logView, parseJson, runSummary, taskRunView, taskStatView } from "./views";
import { estimateRemaining, resolveWeights, runProgress, type TaskProgressInput } from "./weighted-progress";
import type { ParameterSpec } from "../contracts/worker";

export const HEARTBEAT_LOST = "client heartbeat lost";
export const RUN_UNREPORTED = "worker stopped reporting this run";
/** Consecutive heartbeats that must omit a claimed run before the server acts on it. */
export const UNREPORTED_BEATS = 2;
/** Worker processes silent this long are forgotten (memory maps and routing rows). */
export const FORGET_WORKER_MS = 60 * 60 * 1000;
/** How many completed runs' call counts make a task's expected calls per run. */
export const CALLS_WINDOW = 100;
export const MAX_LOG_BYTES = 16 * 1024;
/** Without a baseline, a task whose reported progress is frozen this long (or 3× its weight) is stalled. */
export const STALL_FLOOR_MS = 30_000;

export interface EngineConfig {
  heartbeatTimeoutMs: number;
  longPollMs: number;
}

export interface EngineDeps {
  store: Store;
  clock: Clock;
  notifier: RunNotifier;
  feed: ChangeFeed;
  clients: ClientRegistry;
  config: EngineConfig;
}

export function truncateLog(message: string): string {
  if (message.length * 3 <= MAX_LOG_BYTES) return message;
  const buf = Buffer.from(message, "utf8");
  if (buf.length <= MAX_LOG_BYTES) return message;
  // Cut on a character boundary: decode the prefix and drop a trailing partial character.
  const head = buf.subarray(0, MAX_LOG_BYTES).toString("utf8").replace(/\uFFFD$/, "");
  return `${head}… [truncated ${buf.length - Buffer.byteLength(head)} bytes]`;
}

const runIdOf = (id: string): number => {
  if (!/^\d{1,15}$/.test(id)) throw notFound("run", id);
  return Number(id);
};

export class Engine {
  readonly store: Store;
  readonly clock: Clock;
  readonly notifier: RunNotifier;
  readonly feed: ChangeFeed;
  readonly clients: ClientRegistry;
  readonly config: EngineConfig;
  readonly liveness: LivenessTracker;
  private workerClient = new Map<string, string>();
  private readonly offsets = new Map<string, number[]>();
  /** Last online state published per client, so the feed reports each transition once. */
  private readonly clientOnline = new Map<string, boolean>();
  private timer: NodeJS.Timeout | null = null;
  private lastForget = 0;
  /** Routes (flow id @ version) each worker serves: which waiting polls a new run wakes. */
  private readonly served = new Map<string, Set<string>>();

  constructor(deps: EngineDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.notifier = deps.notifier;
    this.feed = deps.feed;
    this.clients = deps.clients;
    this.config = deps.config;
    this.liveness = new LivenessTracker(this.clock.now());
    this.syncClients();
    for (const c of this.clients.all()) this.clientOnline.set(c.id, false); // nobody is online at boot
  }

  get heartbeatIntervalMs(): number {
    // A third of the timeout: two heartbeats may be lost before a healthy worker is judged dead.
    return Math.max(Math.floor(this.config.heartbeatTimeoutMs / 3), 1);
  }

  /** Mirrors clients.json into the database (names and sensitivities shown by the dashboard). */
  syncClients(): void {
    this.store.transaction(() => {
      for (const c of this.clients.all()) this.store.upsertClient({ id: c.id, name: c.name, sensitivity: c.sensitivity });
    });
  }

  /** Starts the once-a-second monitor (heartbeats, live outliers, stalls, progress). */
  start(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (e) {
        console.error("[perfect] monitor tick failed:", e);
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // ---------------------------------------------------------------- worker protocol

  authenticate(clientId: string, token: string | null): void {
    if (!this.clients.authenticate(clientId, token)) {
      throw new PerfectError("unauthorized", "missing or wrong bearer token for this client");
    }
  }

  private touch(workerId: string, clientId: string): void {
    const now = this.clock.now();
    const wasOnline = this.isClientOnline(clientId, now);
    if (this.liveness.touch(workerId, now)) {
      this.store.touchWorker(workerId, now);
      this.store.touchClient(clientId, now);
    }
    if (!wasOnline) {
      this.clientOnline.set(clientId, true);
      this.feed.publish({ kind: "client", clientId, online: true });
    }
  }

  private requireWorker(clientId: string, workerId: string): void {
    let owner = this.workerClient.get(workerId);
    if (owner === undefined) {
      const w = this.store.getWorker(workerId);
      if (!w) throw notFound("worker", workerId);
      owner = w.clientId;
      this.workerClient.set(workerId, owner);
    }
    if (owner !== clientId) throw new PerfectError("forbidden", `worker ${workerId} belongs to another client`);
    this.touch(workerId, clientId);
  }

  register(clientId: string, req: RegisterRequest) {
    const now = this.clock.now();
    const workerId = `wkr_${crypto.randomBytes(9).toString("base64url")}`;
    const names = new Set<string>();
    req.flows.forEach((f, i) => {
      if (names.has(f.name)) throw invalid(`flows.${i}.name`, `duplicate flow name "${f.name}"`);
      names.add(f.name);
    });
    const flows = this.store.transaction(() => {
      this.store.insertWorker({
        id: workerId,
        clientId,
        hostname: req.worker.hostname ?? null,
        pid: req.worker.pid ?? null,
        sdkVersion: req.worker.sdkVersion ?? null,
        registeredAt: now,
        lastSeenAt: now,
      });
      const registered = req.flows.map((f) => {
        const version = f.version ?? definitionVersion(f);
        const id = this.store.upsertFlow({
          clientId,
          name: f.name,
          description: f.description ?? "",
          tags: JSON.stringify(f.tags),
          parameters: JSON.stringify(f.parameters),
          version,
          registeredAt: now,
          updatedAt: now,
        });
        this.store.replaceFlowTasks(
          id,
          f.tasks.map((t, position) => ({ position, name: t.name, estimatedTime: t.estimatedTime ?? null, description: t.description ?? "" })),
        );
        return { id: String(id), name: f.name, flowId: id, version };
      });
      this.store.replaceWorkerFlows(workerId, registered.map((r) => ({ flowId: r.flowId, version: r.version })));
      this.served.set(workerId, new Set(registered.map((r) => routeOf(r.flowId, r.version))));
      return registered.map(({ id, name }) => ({ id, name }));
    });
    this.workerClient.set(workerId, clientId);
    this.touch(workerId, clientId);
    for (const f of flows) this.feed.publish({ kind: "flow", flowId: f.id, clientId });
    return { clientId, workerId, heartbeatIntervalMs: this.heartbeatIntervalMs, longPollMs: this.config.longPollMs, flows };
  }

  claim(clientId: string, workerId: string, max: number): ClaimedRun[] {
    // A client removed from clients.json while its poll was waiting gets no new work.
    if (!this.clients.get(clientId)) return [];
    const now = this.clock.now();
    const rows = this.store.transaction(() => this.store.claimPendingRuns(clientId, workerId, max, now));
    for (const r of rows) this.publishRun(r);
    return rows.map((r) => ({
      id: String(r.id),
      flowId: String(r.flowId),
      flowName: r.flowName,
      parameters: parseJson(r.parameters, {}),
      createdAt: iso(r.createdAt)!,
    }));
  }

  private servesOf(workerId: string): (route: string) => boolean {
    let routes = this.served.get(workerId);
    if (!routes) {
      routes = new Set(this.store.listFlowsOfWorker(workerId).map((wf) => routeOf(wf.flowId, wf.version)));
      this.served.set(workerId, routes);
    }
    const set = routes;
    return (route) => set.has(route);
  }

  /** Long poll: answers at once with claimable runs, else waits until woken or waitMs passes. */
  async poll(clientId: string, req: PollRequest, signal?: AbortSignal): Promise<{ runs: ClaimedRun[] }> {
    this.requireWorker(clientId, req.workerId);
    const waitMs = Math.min(req.waitMs ?? this.config.longPollMs, this.config.longPollMs);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const runs = this.claim(clientId, req.workerId, req.maxRuns);
      if (runs.length) return { runs };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { runs: [] };
      await this.notifier.waitForRun(clientId, left, signal, this.servesOf(req.workerId));
      if (signal?.aborted) return { runs: [] };
      this.touch(req.workerId, clientId);
    }
  }

  /**
   * The worker's clock offset: receivedAt − sentAt is the offset plus this request's delay
   * (network, a busy server, a first request compiling a route in dev), so the smallest value
   * among the worker's recent batches is the best estimate of the offset alone.
   */
  private clockOffset(workerId: string, observed: number): number {
    let recent = this.offsets.get(workerId);
    if (!recent) this.offsets.set(workerId, (recent = []));
    recent.push(observed);
    if (recent.length > 32) recent.shift();
    return Math.min(...recent);
  }

  heartbeat(clientId: string, req: HeartbeatRequest) {
    this.requireWorker(clientId, req.workerId);
    const now = this.clock.now();
    const ids = req.runIds.filter((id) => /^\d{1,15}$/.test(id)).map(Number);
    const cancelledRunIds: string[] = [];
    const finishedRunIds: string[] = [];
    const rows = this.store.listRunsOfWorker(req.workerId, ids);
    for (const r of rows) {
      if (isTerminal(r.state)) finishedRunIds.push(String(r.id));
      else if (r.cancelRequestedAt !== null) cancelledRunIds.push(String(r.id));
    }
    // Ids the worker runs that the server never gave it (another worker's, or a wiped database).
    const mine = new Set(rows.map((r) => String(r.id)));
    for (const id of req.runIds) if (!mine.has(id)) finishedRunIds.push(id);
    this.judgeUnreported(req.workerId, new Set(ids), now);
    return { cancelledRunIds, finishedRunIds, heartbeatIntervalMs: this.heartbeatIntervalMs };
  }

  /**
   * A heartbeat lists every run its worker holds. A RUNNING run of this worker that
   * UNREPORTED_BEATS heartbeats in a row leave out is not being executed: the first omission
   * may be a heartbeat composed just before the claim's answer arrived, the second cannot be.
   * A claim that never reached the worker (no event yet) goes back to the queue; a run the
   * worker dropped after starting it is FAILED with a reason that says so.
   */
  private judgeUnreported(workerId: string, reported: Set<number>, now: number): void {
    const active = this.store.listActiveRunsOfWorker(workerId);
    for (const r of active) {
      if (reported.has(r.id)) {
        if (r.unreportedBeats !== 0) this.store.updateRun(r.id, { unreportedBeats: 0 });
        continue;
      }
      const beats = r.unreportedBeats + 1;
      if (beats < UNREPORTED_BEATS) {
        this.store.updateRun(r.id, { unreportedBeats: beats });
      } else if (r.lastSeq === 0) {
        this.requeue(r.id, workerId, now);
      } else {
        this.finishOnServer(r.id, "FAILED", RUN_UNREPORTED, now, `${RUN_UNREPORTED}: worker ${workerId} no longer lists it in its heartbeats`);
      }
    }
  }

  /** Gives a claim back to the queue: the run is PENDING again, for any worker that serves it. */
  private requeue(runId: number, workerId: string, now: number): void {
    const run = this.store.transaction(() => {
      const cur = this.store.getRun(runId);
      if (!cur || cur.state !== "RUNNING" || cur.workerId !== workerId || cur.lastSeq !== 0) return null;
      if (!canTransition(cur.state, "PENDING")) return null;
      const patch = { state: "PENDING" as const, workerId: null, claimedAt: null, startedAt: null, unreportedBeats: 0 };
      this.store.updateRun(cur.id, patch);
      const logId = this.store.insertLogs([{
        runId: cur.id, taskRunId: null, seq: 0, level: "WARNING", ts: now,
        message: `worker ${workerId} never received this run: it is queued again`,
      }]);
      return { run: { ...cur, ...patch }, logId };
    });
    if (!run) return;
    this.publishRun(run.run);
    this.feed.publish({ kind: "log", runId: String(runId), lastLogId: String(run.logId), count: 1 });
    this.notifier.runQueued(run.run.clientId, 1, routeOf(run.run.flowId, run.run.flowVersion));
  }

  /**
   * The one way the server itself ends a RUNNING (or PENDING) run: the monitor's heartbeat
   * loss, an unreported run, a cancel before pickup. Conditional on the state it read, so a
   * run is finished once however many paths reach it.
   */
  private finishOnServer(runId: number, to: "FAILED" | "CANCELLED", error: string | null, now: number, message: string, from: RunState = "RUNNING"): RunRow | null {
    const done = this.store.transaction(() => {
      const cur = this.store.getRun(runId);
      if (!cur || cur.state !== from || !canTransition(cur.state, to)) return null;
      const ctx = new RunContext(this, cur, this.store.listTaskRuns(cur.id));
      ctx.finish(to, now, error);
      ctx.flush(now);
      const patch = {
        state: to, endedAt: now, error, progress: ctx.run.progress,
        ...(to === "CANCELLED" ? { cancelRequestedAt: cur.cancelRequestedAt ?? now } : {}),
      };
      this.store.updateRun(cur.id, patch);
      const logId = this.store.insertLogs([{ runId: cur.id, taskRunId: null, seq: cur.lastSeq, level: to === "FAILED" ? "ERROR" : "WARNING", ts: now, message }]);
      return { run: { ...cur, ...patch }, logId, tasks: ctx.changedTasks() };
    });
    if (!done) return null;
    this.publishRunChanges(done.run, done.tasks, done.logId, 1);
    return done.run;
  }

  /** Publishes what one unit of work changed in a run: the run, its task runs, its new logs. */
  private publishRunChanges(run: RunRow, tasks: { id: number; state: RunState }[], lastLogId: number, logCount: number): void {
    const runId = String(run.id);
    this.publishRun(run);
    for (const t of tasks) this.feed.publish({ kind: "taskRun", runId, taskRunId: String(t.id), state: t.state });
    if (logCount) this.feed.publish({ kind: "log", runId, lastLogId: String(lastLogId), count: logCount });
  }

  applyEvents(clientId: string, runIdText: string, batch: EventBatch): EventBatchResult {
    this.requireWorker(clientId, batch.workerId);
    const runId = runIdOf(runIdText);
    const receivedAt = this.clock.now();
    const skew = batch.sentAt ? this.clockOffset(batch.workerId, receivedAt - Date.parse(batch.sentAt)) : 0;
    const at = (ts: string | undefined) => (ts ? Math.min(Date.parse(ts) + skew, receivedAt) : receivedAt);
    const touched = new Map<number, string>();
    let logCount = 0;
    let lastLogId = 0;
    const result = this.store.transaction(() => {
      const run = this.store.getRun(runId);
      if (!run) throw notFound("run", runIdText);
      if (run.clientId !== clientId) throw new PerfectError("forbidden", `run ${runIdText} belongs to another client`);
      if (run.workerId !== batch.workerId) throw new PerfectError("forbidden", `run ${runIdText} is not claimed by worker ${batch.workerId}`);
      // Events apply in seq order, each once: a seq already applied (or repeated within this
      // batch) is a duplicate; a gap means an earlier batch is missing, and applying past it
      // would later discard that batch as a "duplicate", so it is refused with the seq expected.
      const bySeq = new Map<number, WorkerEvent>();
      for (const e of batch.events) if (e.seq > run.lastSeq && !bySeq.has(e.seq)) bySeq.set(e.seq, e);
      const fresh = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      const duplicates = batch.events.length - fresh.length;
      if (!fresh.length) {
        return { applied: 0, duplicates, lastSeq: run.lastSeq, state: run.state, cancelRequested: run.cancelRequestedAt !== null };
      }
      if (isTerminal(run.state)) {
        throw new PerfectError("run_finished", `run ${runIdText} is already ${run.state}`, { state: run.state });
      }
      for (let i = 0; i < fresh.length; i++) {
        const expected = run.lastSeq + 1 + i;
        if (fresh[i].seq !== expected) {
          throw new PerfectError("seq_gap", `events for run ${runIdText} must continue at seq ${expected}; got ${fresh[i].seq}`, { expectedSeq: expected });
        }
      }
      const ctx = new RunContext(this, run, this.store.listTaskRuns(run.id));
      const logs: NewLog[] = [];
      for (const e of fresh) {
        const ts = at(e.ts);
        if (e.type === "log") {
          const tr = e.call === null || e.call === undefined ? undefined : ctx.byCall.get(e.call);
          logs.push({ runId: run.id, taskRunId: tr?.id ?? null, seq: e.seq, level: e.level, message: truncateLog(e.message), ts });
          continue;
        }
        const line = ctx.apply(e, ts);
        if (line) logs.push({ runId: run.id, taskRunId: line.taskRunId, seq: e.seq, level: line.level, message: line.message, ts });
      }
      ctx.flush(receivedAt);
      for (const t of ctx.changedTasks()) touched.set(t.id, t.state);
      lastLogId = this.store.insertLogs(logs);
      logCount = logs.length;
      const lastSeq = fresh[fresh.length - 1].seq;
      ctx.run.lastSeq = lastSeq;
      this.store.updateRun(run.id, {
        lastSeq,
        state: ctx.run.state,
        endedAt: ctx.run.endedAt,
        error: ctx.run.error,
        progress: ctx.run.progress,
      });
      return { applied: fresh.length, duplicates, lastSeq, state: ctx.run.state, cancelRequested: run.cancelRequestedAt !== null, run: ctx.run };
    });
    if ("run" in result && result.run) {
      const { run, ...answer } = result;
      this.publishRunChanges(run, [...touched].map(([id, state]) => ({ id, state: state as RunState })), lastLogId, logCount);
      return answer;
    }
    return result as EventBatchResult;
  }

  // ---------------------------------------------------------------- dashboard actions

  /**
   * Everything is checked before the first insert (flow, client, parameters and their JSON
   * bounds), and the answer is built inside the same transaction: a failure anywhere, even
   * while reading the new run back, rolls the whole trigger back. No 500 leaves a run behind.
   */
  triggerRun(flowIdText: string, given: Record<string, unknown>, trigger: Trigger): RunView {
    const flowId = /^\d{1,15}$/.test(flowIdText) ? Number(flowIdText) : -1;
    const now = this.clock.now();
    let flowVersion = "";
    const view = this.store.transaction(() => {
      const flow = this.store.getFlow(flowId);
      if (!flow) throw notFound("flow", flowIdText);
      flowVersion = flow.version;
      if (!this.clients.get(flow.clientId)) {
        throw new PerfectError(
          "conflict",
          `flow ${flowIdText} belongs to client ${flow.clientId}, which is no longer in the clients file: it cannot be triggered`,
          { reason: "client_removed", clientId: flow.clientId },
        );
      }
      const parameters = resolveParameters(parseJson<ParameterSpec[]>(flow.parameters, []), given);
      // Defaults come from the worker's registration: bounded there, and checked again here so a
      // stored run can always be serialized, listed and reported.
      const violation = checkJsonBounds(parameters, { prefix: "parameters", maxDepth: MAX_JSON_DEPTH });
      if (violation) throw invalid(violation.field, violation.message);
      const parametersJson = JSON.stringify(parameters);
      if (Buffer.byteLength(parametersJson) > MAX_PARAMETERS_BYTES) throw invalid("parameters", `larger than ${MAX_PARAMETERS_BYTES} bytes of JSON`);
      const tags = parseJson<Record<string, string>>(flow.tags, {});
      const id = this.store.insertRun({
        flowId: flow.id,
        clientId: flow.clientId,
        flowName: flow.name,
        flowVersion: flow.version,
        state: "PENDING",
        parameters: parametersJson,
        tags: JSON.stringify(tags),
        trigger,
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
      });
      this.store.insertRunTags(id, tags);
      const tasks = this.store.listFlowTasks([flow.id]);
      const weights = resolveWeights(tasks.map((t) => t.estimatedTime));
      this.store.insertTaskRuns(
        tasks.map((t, i) => pendingTaskRun({ runId: id, flowId: flow.id, position: i, name: t.name, weight: weights[i], estimatedTime: t.estimatedTime })),
      );
      return this.getRun(String(id));
    });
    this.notifier.runQueued(view.clientId, 1, routeOf(Number(view.flowId), flowVersion));
    this.feed.publish({ kind: "run", runId: view.id, flowId: view.flowId, state: view.state, progress: 0 });
    return view;
  }

  /** PENDING → CANCELLED at once; RUNNING → flagged, the worker stops at its next task boundary. */
  cancelRun(runIdText: string): RunView {
    const runId = runIdOf(runIdText);
    const now = this.clock.now();
    const run = this.store.transaction(() => {
      const r = this.store.getRun(runId);
      if (!r) throw notFound("run", runIdText);
      if (isTerminal(r.state)) throw new PerfectError("conflict", `run ${runIdText} is already ${r.state}`, { state: r.state });
      if (r.state === "PENDING") return null;
      if (r.cancelRequestedAt === null) {
        this.store.updateRun(r.id, { cancelRequestedAt: now });
        this.insertServerLog(r, "WARNING", "cancellation requested: the worker stops at its next task boundary", now);
      }
      return { ...r, cancelRequestedAt: r.cancelRequestedAt ?? now };
    });
    if (run) this.publishRun(run);
    else if (!this.finishOnServer(runId, "CANCELLED", null, now, "run cancelled before a worker picked it up", "PENDING")) {
      // Claimed between the read and the cancel: ask the worker instead.
      return this.cancelRun(runIdText);
    }
    return this.getRun(runIdText);
  }

  private insertServerLog(run: RunRow, level: "INFO" | "WARNING" | "ERROR", message: string, now: number): void {
    const id = this.store.insertLogs([{ runId: run.id, taskRunId: null, seq: run.lastSeq, level, message, ts: now }]);
    this.feed.publish({ kind: "log", runId: String(run.id), lastLogId: String(id), count: 1 });
  }

  // ---------------------------------------------------------------- monitor

  /** One pass of the monitor: dead workers, live outliers and stalls, progress high-water marks. */
  tick(): void {
    const now = this.clock.now();
    this.forgetGoneWorkers(now);
    this.failSilentWorkers(now);
    this.publishClientTransitions(now);
    this.evaluateRunning(now);
  }

  private failSilentWorkers(now: number): void {
    const timeout = this.config.heartbeatTimeoutMs;
    for (const r of this.store.listRunsInState("RUNNING")) {
      // A claimed run whose worker never spoke again is judged from its claim time.
      const last = Math.max(this.liveness.lastSeen(r.workerId), r.claimedAt ?? 0);
      if (now - last <= timeout) continue;
      this.finishOnServer(r.id, "FAILED", HEARTBEAT_LOST, now,
        `${HEARTBEAT_LOST}: worker ${r.workerId ?? "?"} silent for ${now - last} ms (timeout ${timeout} ms)`);
    }
  }

  /**
   * Memory stays bounded however many workers come and go: a worker process silent for
   * FORGET_WORKER_MS leaves every map keyed by worker id, and its routing rows go too.
   */
  private forgetGoneWorkers(now: number): void {
    if (now - this.lastForget < 60_000) return;
    this.lastForget = now;
    const before = now - FORGET_WORKER_MS;
    for (const id of this.workerClient.keys()) {
      if (this.liveness.lastSeen(id) < before) {
        this.workerClient.delete(id);
        this.offsets.delete(id);
        this.liveness.forget(id);
        this.served.delete(id);
      }
    }
    if (before > this.liveness.bootTime) {
      for (const id of this.store.transaction(() => this.store.deleteWorkersSeenBefore(before))) {
        this.workerClient.delete(id);
        this.offsets.delete(id);
        this.liveness.forget(id);
        this.served.delete(id);
      }
    }
  }

  /** Publishes a client change when it goes offline (or online) without any request or run failing. */
  private publishClientTransitions(now: number): void {
    for (const c of this.clients.all()) {
      const online = this.isClientOnline(c.id, now);
      if (this.clientOnline.get(c.id) !== online) {
        this.clientOnline.set(c.id, online);
        this.feed.publish({ kind: "client", clientId: c.id, online });
      }
    }
  }

  private evaluateRunning(now: number): void {
    const running = this.store.listRunningTaskRuns();
    if (!running.length) return;
    const baselines = new Map<string, TaskStatRow | undefined>();
    const changedRuns = new Set<number>();
    this.store.transaction(() => {
      for (const { taskRun: t, clientId, workerId } of running) {
        const attemptStart = t.attemptStartedAt ?? t.startedAt;
        if (attemptStart === null) continue;
        const key = `${t.flowId}\u0000${t.name}`;
        if (!baselines.has(key)) baselines.set(key, this.store.getTaskStat(t.flowId, t.name));
        const baseline = baselines.get(key);
        const sensitivity = this.clients.sensitivity(clientId);
        const ev = evaluateDuration(now - attemptStart, baseline, sensitivity);
        const warning = escalate(t.warning, ev?.warning ?? null);
        const patch: Partial<TaskRunRow> = {};
        if (ev && warning !== t.warning) Object.assign(patch, { warning, zScore: ev.zScore, threshold: ev.threshold });
        else if (ev && warning && ev.zScore > (t.zScore ?? -Infinity)) Object.assign(patch, { zScore: ev.zScore, threshold: ev.threshold });
        const stalled = this.isStalled(t, baseline, sensitivity, workerId, now);
        if (stalled !== t.stalled) patch.stalled = stalled;
        if (Object.keys(patch).length) {
          this.store.updateTaskRun(t.id, patch);
          changedRuns.add(t.runId);
          if (patch.warning || patch.stalled !== undefined) {
            this.feed.publish({ kind: "taskRun", runId: String(t.runId), taskRunId: String(t.id), state: t.state });
          }
        }
      }
      // Progress moves with time for running tasks: keep the stored high-water mark current.
      for (const runId of new Set(running.map((r) => r.taskRun.runId))) {
        const run = this.store.getRun(runId);
        if (!run || run.state !== "RUNNING") continue;
        const p = this.computeProgress(run, this.store.listTaskRuns(runId), now);
        if (p > run.progress + 0.0005) {
          this.store.updateRun(runId, { progress: p });
          changedRuns.add(runId);
        }
      }
    });
    for (const runId of changedRuns) {
      const run = this.store.getRun(runId);
      if (run) this.publishRun(run);
    }
  }

  /** Frozen progress on a live worker, for longer than the task's CRITICAL duration. */
  private isStalled(t: TaskRunRow, baseline: Baseline | undefined, sensitivity: Parameters<typeof criticalDurationMs>[1], workerId: string | null, now: number): boolean {
    if (t.reportedProgress === null || t.progressChangedAt === null) return false;
    const alive = now - this.liveness.lastSeen(workerId) <= this.config.heartbeatTimeoutMs;
    if (!alive) return false;
    const horizon = (baseline && criticalDurationMs(baseline, sensitivity)) ?? Math.max(3 * t.weight, STALL_FLOOR_MS);
    return now - t.progressChangedAt > horizon;
  }

  /** Live weighted progress of an active run (never below its high-water mark); an ended run keeps what it reached. */
  computeProgress(run: RunRow, tasks: TaskRunRow[], now: number, baselines?: Map<string, TaskStatRow>): number {
    if (run.state === "COMPLETED") return 1;
    if (isTerminal(run.state)) return run.progress;
    const stats = baselines ?? this.baselinesOf(run.flowId);
    const p = runProgress(tasks.map((t) => progressInput(t, stats.get(t.name))), now, expectedCallsOf(stats));
    return Math.max(p, run.progress);
  }

  private baselinesOf(flowId: number): Map<string, TaskStatRow> {
    return new Map(this.store.getTaskStats(flowId).map((s) => [s.taskName, s]));
  }

  /** A completed run teaches each task's usual number of calls per run. */
  recordCalls(run: RunRow, tasks: TaskRunRow[], now: number): void {
    const calls = new Map<string, number>();
    for (const t of tasks) calls.set(t.name, (calls.get(t.name) ?? 0) + (t.callIndex !== null ? 1 : 0));
    for (const [name, n] of calls) this.store.recordTaskCalls(run.flowId, name, run.clientId, n, CALLS_WINDOW, now);
  }

  // ---------------------------------------------------------------- reads

  isClientOnline(clientId: string, now = this.clock.now()): boolean {
    for (const [workerId, owner] of this.workerClient) {
      if (owner === clientId && this.liveness.isOnline(workerId, now, this.config.heartbeatTimeoutMs)) return true;
    }
    return false;
  }

  /** Flow versions that at least one online worker serves, per flow. */
  private servedOnline(flowIds: number[], now: number): Map<number, Set<string>> {
    const out = new Map<number, Set<string>>();
    for (const wf of this.store.listWorkerFlows([...new Set(flowIds)])) {
      if (!this.liveness.isOnline(wf.workerId, now, this.config.heartbeatTimeoutMs)) continue;
      let set = out.get(wf.flowId);
      if (!set) out.set(wf.flowId, (set = new Set()));
      set.add(wf.version);
    }
    return out;
  }

  private waitingForWorker(r: RunRow, served: Map<number, Set<string>>): boolean {
    return r.state === "PENDING" && !served.get(r.flowId)?.has(r.flowVersion);
  }

  getRun(idText: string): RunView {
    const run = this.store.getRun(runIdOf(idText));
    if (!run) throw notFound("run", idText);
    const now = this.clock.now();
    const tasks = this.store.listTaskRuns(run.id);
    const baselines = this.baselinesOf(run.flowId);
    const active = run.state === "RUNNING" || run.state === "PENDING";
    const progress = this.computeProgress(run, tasks, now, baselines);
    const eta = active ? estimateRemaining(tasks.map((t) => progressInput(t, baselines.get(t.name))), now, expectedCallsOf(baselines)) : null;
    const warning = tasks.reduce<Warning | null>((w, t) => escalate(w, t.warning), null);
    return {
      ...runSummary(run, {
        progress, eta, now, warning, stalled: tasks.some((t) => t.stalled),
        waitingForWorker: run.state === "PENDING" && this.waitingForWorker(run, this.servedOnline([run.flowId], now)),
      }),
      taskRuns: tasks.map((t) => taskRunView(t, baselines.get(t.name) ?? null, now)),
    };
  }

  listRuns(q: RunListQuery): { runs: RunSummary[]; nextCursor: string | null } {
    const page = this.store.listRuns(q);
    const now = this.clock.now();
    const flags = this.store.countWarnings(page.runs.map((r) => r.id));
    const pending = page.runs.filter((r) => r.state === "PENDING");
    const served = pending.length ? this.servedOnline(pending.map((r) => r.flowId), now) : new Map<number, Set<string>>();
    return {
      runs: page.runs.map((r) =>
        runSummary(r, { now, warning: flags.get(r.id)?.warning ?? null, stalled: flags.get(r.id)?.stalled ?? false, waitingForWorker: this.waitingForWorker(r, served) }),
      ),
      nextCursor: page.nextCursor,
    };
  }

  listLogs(idText: string, q: { after: number; taskRunId?: string; level: string[]; limit: number }): { logs: LogView[] } {
    const run = this.store.getRun(runIdOf(idText));
    if (!run) throw notFound("run", idText);
    const names = new Map(this.store.listTaskRuns(run.id).map((t) => [t.id, t.name]));
    const rows = this.store.listLogs(run.id, {
      after: q.after,
      taskRunId: q.taskRunId === undefined ? undefined : Number(q.taskRunId),
      levels: q.level,
      limit: q.limit,
    });
    return { logs: rows.map((l) => logView(l, l.taskRunId === null ? null : (names.get(l.taskRunId) ?? null))) };
  }

  /** One page of flows by name (then id); `nextCursor` is null on the last page. */
  listFlows(q: FlowListQuery = { limit: FLOW_PAGE_DEFAULT }): { flows: FlowView[]; nextCursor: string | null } {
    const rows = this.store.listFlowsPage({ name: q.name, after: q.cursor, limit: q.limit + 1 });
    const more = rows.length > q.limit;
    const flows = more ? rows.slice(0, q.limit) : rows;
    const ids = flows.map((f) => f.id);
    const tasks = new Map<number, FlowTaskRow[]>();
    for (const t of this.store.listFlowTasks(ids)) {
      const list = tasks.get(t.flowId);
      if (list) list.push(t);
      else tasks.set(t.flowId, [t]);
    }
    const last = new Map(this.store.lastRunsOfFlows(ids).map((r) => [r.flowId, r]));
    const lastFlags = this.store.countWarnings([...last.values()].map((r) => r.id));
    const now = this.clock.now();
    const served = this.servedOnline(ids, now);
    const lastFlow = flows[flows.length - 1];
    return {
      flows: flows.map((f) => this.flowViewOf(f, tasks.get(f.id) ?? [], last.get(f.id), lastFlags, served.get(f.id)?.has(f.version) ?? false)),
      nextCursor: more ? encodeFlowCursor({ name: lastFlow.name, id: lastFlow.id }) : null,
    };
  }

  getFlow(idText: string): FlowView {
    const id = /^\d{1,15}$/.test(idText) ? Number(idText) : -1;
    const flow = this.store.getFlow(id);
    if (!flow) throw notFound("flow", idText);
    const lr = this.store.lastRunsOfFlows([id])[0];
    const flags = lr ? this.store.countWarnings([lr.id]) : new Map();
    return this.flowViewOf(flow, this.store.listFlowTasks([id]), lr, flags, this.servedOnline([id], this.clock.now()).get(id)?.has(flow.version) ?? false);
  }

  private flowViewOf(
    f: FlowRow,
    tasks: FlowTaskRow[],
    lr: RunRow | undefined,
    flags: Map<number, { warning: Warning | null; stalled: boolean }>,
    online: boolean,
  ): FlowView {
    const client = this.clients.get(f.clientId);
    const w = lr ? (flags.get(lr.id)?.warning ?? null) : null;
    return {
      ...flowView(f, tasks, { online, clientName: client?.name ?? f.clientId, lastRun: lr, lastRunWarning: w, warnings: w ? 1 : 0 }),
      clientRemoved: !client,
    };
  }

  listTaskStats(flowName?: string, flowId?: string): { stats: TaskStatView[] } {
    let flows = this.store.listFlows(flowName);
    if (flowId) flows = flows.filter((f) => String(f.id) === flowId);
    const names = new Map(flows.map((f) => [f.id, f]));
    const rows = this.store.listTaskStats(flows.map((f) => f.id));
    return {
      stats: rows.map((s) => taskStatView(s, names.get(s.flowId)?.name ?? "", this.clients.sensitivity(s.clientId))),
    };
  }

  listClients(): { clients: ClientView[] } {
    const now = this.clock.now();
    const workers = this.store.listWorkers();
    const flowCount = new Map<string, number>();
    for (const f of this.store.listFlows()) flowCount.set(f.clientId, (flowCount.get(f.clientId) ?? 0) + 1);
    const configured = new Set(this.clients.all().map((c) => c.id));
    return {
      clients: this.store
        .listClients()
        .filter((c) => configured.has(c.id))
        .map((c) => {
          const mine = workers.filter((w) => w.clientId === c.id);
          let lastSeen = c.lastSeenAt ?? 0;
          for (const w of mine) lastSeen = Math.max(lastSeen, this.liveness.observed(w.id) ?? w.lastSeenAt);
          return {
            id: c.id,
            name: c.name,
            performanceSensitivity: this.clients.sensitivity(c.id),
            online: this.isClientOnline(c.id, now),
            lastSeenAt: lastSeen > 0 ? iso(lastSeen) : null,
            workers: mine.slice(0, 20).map((w) => ({
              id: w.id,
              hostname: w.hostname,
              pid: w.pid,
              online: this.liveness.isOnline(w.id, now, this.config.heartbeatTimeoutMs),
              lastSeenAt: iso(this.liveness.observed(w.id) ?? w.lastSeenAt)!,
            })),
            flows: flowCount.get(c.id) ?? 0,
          };
        }),
    };
  }

  private publishRun(r: RunRow): void {
    this.feed.publish({ kind: "run", runId: String(r.id), flowId: String(r.flowId), state: r.state, progress: r.state === "COMPLETED" ? 1 : r.progress });
  }

  /** Used inside RunContext when a task completes: baseline before, then the window after. */
  recordCompletion(t: TaskRunRow, clientId: string, now: number): void {
    const before = this.store.getTaskStat(t.flowId, t.name);
    const ev = evaluateDuration(t.durationMs ?? 0, before, this.clients.sensitivity(clientId));
    if (ev) {
      const warning = escalate(t.warning, ev.warning);
      t.warning = warning;
      // Keep the z-score that raised the (possibly live) warning when it was higher.
      if (ev.zScore >= (t.zScore ?? -Infinity) || warning === ev.warning) {
        t.zScore = ev.zScore;
        t.threshold = ev.threshold;
      }
    }
    this.store.updateTaskRun(t.id, t);
    const window = this.store.recentDurations(t.flowId, t.name, STATS_WINDOW);
    const s = summarize(window);
    this.store.upsertTaskStat({
      flowId: t.flowId,
      taskName: t.name,
      clientId,
      mean: s.mean,
      stddev: s.stddev,
      samples: s.samples,
      updatedAt: now,
      recent: JSON.stringify([...window].reverse()),
      callsRecent: before?.callsRecent ?? "[]",
      callsMean: before?.callsMean ?? 1,
    });
    this.feed.publish({ kind: "stats", flowId: String(t.flowId), taskName: t.name });
  }
}

/** The one factory of task-run records: a declared task at trigger time, or an undeclared one when it starts. */
function pendingTaskRun(t: Pick<TaskRunRow, "runId" | "flowId" | "position" | "name" | "weight" | "estimatedTime">): NewTaskRun {
  return {
    ...t,
    callIndex: null,
    state: "PENDING",
    reportedProgress: null,
    progressChangedAt: null,
    startedAt: null,
    attemptStartedAt: null,
    endedAt: null,
    durationMs: null,
    attempt: 1,
    warning: null,
    zScore: null,
    threshold: null,
    stalled: false,
    error: null,
  };
}

const routeOf = (flowId: number, version: string): string => `${flowId}@${version}`;

/** A version for an SDK that sends none: the definition itself (same definition, same version). */
function definitionVersion(f: RegisterRequest["flows"][number]): string {
  const text = JSON.stringify([f.description ?? "", f.tags, f.tasks, f.parameters]);
  return `def-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

function progressInput(t: TaskRunRow, baseline: Baseline | undefined): TaskProgressInput {
  // A running task's elapsed time is its current attempt's: a retry starts over.
  const startedAt = t.state === "RUNNING" ? (t.attemptStartedAt ?? t.startedAt) : t.startedAt;
  return { name: t.name, state: t.state, weight: t.weight, reportedProgress: t.reportedProgress, startedAt, baseline };
}

function expectedCallsOf(stats: Map<string, TaskStatRow>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, s] of stats) if (s.callsMean > 1) out.set(name, s.callsMean);
  return out;
}

/**
 * One run's task runs, loaded once per transaction and written back once: applies worker
 * events against the transition table.
 */
class RunContext {
  readonly byCall = new Map<number, TaskRunRow>();
  /** Task runs to write back at flush. */
  readonly dirty = new Set<number>();
  /** Every task run this context changed (for the change feed), written already or not. */
  readonly changed = new Set<number>();
  run: RunRow;

  constructor(
    private readonly engine: Engine,
    run: RunRow,
    private readonly tasks: TaskRunRow[],
  ) {
    this.run = { ...run };
    for (const t of tasks) if (t.callIndex !== null) this.byCall.set(t.callIndex, t);
  }

  private task(call: number, type: string): TaskRunRow {
    const t = this.byCall.get(call);
    if (!t) throw invalid("events", `${type} for call ${call} before its task_started`);
    return t;
  }

  private move(t: TaskRunRow, to: RunState): void {
    if (!canTransition(t.state, to)) {
      throw new PerfectError("conflict", `task run ${t.name} (call ${t.callIndex}) cannot go from ${t.state} to ${to}`, { state: t.state });
    }
    t.state = to;
    this.dirty.add(t.id);
    this.changed.add(t.id);
  }

  apply(e: Exclude<WorkerEvent, { type: "log" }>, ts: number): { level: "INFO" | "WARNING" | "ERROR"; message: string; taskRunId: number | null } | null {
    switch (e.type) {
      case "task_started": {
        let t = this.byCall.get(e.call);
        if (!t) {
          t = this.tasks.find((x) => x.callIndex === null && x.state === "PENDING" && x.name === e.task);
          if (!t) t = this.addUndeclared(e.task);
          t.callIndex = e.call;
          this.byCall.set(e.call, t);
        }
        this.move(t, "RUNNING");
        Object.assign(t, { startedAt: ts, attemptStartedAt: ts, attempt: e.attempt, progressChangedAt: ts, reportedProgress: null });
        return null;
      }
      case "task_progress": {
        const t = this.task(e.call, e.type);
        if (t.state !== "RUNNING") return null;
        if (t.reportedProgress !== e.progress) {
          Object.assign(t, { reportedProgress: e.progress, progressChangedAt: ts, stalled: false });
          this.dirty.add(t.id);
          this.changed.add(t.id);
        }
        return null;
      }
      case "task_retrying": {
        const t = this.task(e.call, e.type);
        this.move(t, "RUNNING");
        // A new attempt: live outliers and stalls start over from here (warnings of a failed attempt stay).
        Object.assign(t, { attempt: e.attempt, attemptStartedAt: ts, reportedProgress: null, progressChangedAt: ts });
        return { level: "WARNING", taskRunId: t.id, message: `${t.name}: attempt ${e.attempt} after error: ${e.error ?? "unknown error"}` };
      }
      case "task_completed": {
        const t = this.task(e.call, e.type);
        this.move(t, "COMPLETED");
        // The worker's monotonic duration of the last attempt is authoritative.
        const duration = Math.round(e.durationMs ?? Math.max(ts - (t.attemptStartedAt ?? t.startedAt ?? ts), 0));
        const attemptStart = ts - duration;
        Object.assign(t, {
          startedAt: t.attempt > 1 && t.startedAt !== null ? Math.min(t.startedAt, attemptStart) : attemptStart,
          attemptStartedAt: attemptStart, endedAt: ts, durationMs: duration, reportedProgress: 1, stalled: false,
        });
        this.engine.recordCompletion(t, this.run.clientId, ts);
        this.dirty.delete(t.id);
        return null;
      }
      case "task_failed": {
        const t = this.task(e.call, e.type);
        this.move(t, "FAILED");
        const duration = Math.round(e.durationMs ?? Math.max(ts - (t.attemptStartedAt ?? t.startedAt ?? ts), 0));
        const attemptStart = ts - duration;
        Object.assign(t, {
          startedAt: t.attempt > 1 && t.startedAt !== null ? Math.min(t.startedAt, attemptStart) : attemptStart,
          attemptStartedAt: attemptStart, endedAt: ts, durationMs: duration, error: e.error, stalled: false,
        });
        return null;
      }
      case "run_completed":
        // The worker proposes, the server decides: a cancel answered 200 while the last task
        // ran is honoured, so the run ends CANCELLED, not COMPLETED.
        if (this.run.cancelRequestedAt !== null && !isTerminal(this.run.state)) {
          this.finishRun("CANCELLED", ts, null);
          return { level: "WARNING", taskRunId: null, message: "run cancelled by request (its last task had already started)" };
        }
        this.finishRun("COMPLETED", ts, null);
        return null;
      case "run_failed":
        this.finishRun("FAILED", ts, e.error);
        return null;
      case "run_cancelled":
        this.finishRun("CANCELLED", ts, null);
        return { level: "WARNING", taskRunId: null, message: "run cancelled by request" };
    }
  }

  private finishRun(to: RunState, ts: number, error: string | null): void {
    if (isTerminal(this.run.state)) return; // later events of a finished batch change nothing
    if (!canTransition(this.run.state, to)) {
      throw new PerfectError("conflict", `run cannot go from ${this.run.state} to ${to}`, { state: this.run.state });
    }
    this.finish(to, ts, error);
  }

  /**
   * Ends the run: its progress is frozen at what it reached (only COMPLETED is 1), then every
   * unfinished task run is closed the way the run ended.
   */
  finish(to: RunState, ts: number, error: string | null): void {
    if (this.run.state === "RUNNING") this.run.progress = this.engine.computeProgress(this.run, this.tasks, ts);
    if (to === "COMPLETED") {
      this.run.progress = 1;
      this.engine.recordCalls(this.run, this.tasks, ts);
    }
    this.run.state = to;
    this.run.endedAt = ts;
    this.run.error = error;
    for (const t of this.tasks) {
      if (t.state === "RUNNING") {
        t.state = to === "FAILED" ? "FAILED" : "CANCELLED";
        t.endedAt = ts;
        t.durationMs = t.startedAt !== null ? Math.max(ts - t.startedAt, 0) : null;
        if (to === "FAILED") t.error = t.error ?? error;
        this.dirty.add(t.id);
        this.changed.add(t.id);
      } else if (t.state === "PENDING") {
        t.state = "CANCELLED";
        this.dirty.add(t.id);
        this.changed.add(t.id);
      }
    }
  }

  private addUndeclared(name: string): TaskRunRow {
    const declared = this.tasks.filter((t) => t.estimatedTime !== null).map((t) => t.estimatedTime);
    const weight = resolveWeights([...declared, null]).at(-1)!;
    const row = pendingTaskRun({
      runId: this.run.id,
      flowId: this.run.flowId,
      position: this.tasks.reduce((m, t) => Math.max(m, t.position), -1) + 1,
      name,
      weight,
      estimatedTime: null,
    });
    const id = this.engine.store.insertTaskRun(row);
    const t = { ...row, id };
    this.tasks.push(t);
    return t;
  }

  changedTasks(): TaskRunRow[] {
    return this.tasks.filter((t) => this.changed.has(t.id));
  }

  /** Writes changed task runs and refreshes the run's progress high-water mark. */
  flush(now: number): void {
    for (const t of this.tasks) if (this.dirty.has(t.id)) this.engine.store.updateTaskRun(t.id, t);
    if (this.run.state === "RUNNING") this.run.progress = this.engine.computeProgress(this.run, this.tasks, now);
    if (this.run.state === "COMPLETED") this.run.progress = 1;
  }
}
