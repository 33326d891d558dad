/**
 * The run engine: a thin facade over systems split by concern (lib/engine/systems), each given
 * its resources and the peers it needs — none holds the engine. Workers *propose* transitions
 * (through events); the engine decides against the transition table. It knows storage only as
 * the asynchronous Store of lib/store/store.ts.
 */
import { AlertRegistry } from "../alerts/alerts-file";
import type { ClientRegistry } from "../clients-file";
import type { DeliveryListQuery } from "../contracts/alerts";
import type { FlowListQuery, FlowSummaryWindow, RunListQuery, ScheduleFields } from "../contracts/dashboard";
import type { EventBatch, GoodbyeRequest, HeartbeatRequest, PollRequest, RegisterRequest, SubflowRequest } from "../contracts/worker";
import type { Trigger } from "../domain/states";
import type { ChangeFeed, RunNotifier, Store } from "../store/store";
import type { Clock } from "./clock";
import { notFound } from "./errors";
import type { SlotRequest } from "../contracts/worker";
import type { ArtifactCreate, ArtifactUpdate, LocalRunRequest } from "../contracts/artifacts";
import { ArtifactSystem } from "./systems/artifacts";
import { AlertsSystem, type AlertsOptions } from "./systems/alerts";
import { ConcurrencySystem } from "./systems/concurrency";
import { parseId, type EngineConfig, type EngineContext } from "./systems/context";
import { DispatchSystem } from "./systems/dispatch";
import { LifecycleSystem } from "./systems/lifecycle";
import { MonitorSystem } from "./systems/monitor";
import { PresenceSystem } from "./systems/presence";
import { RunPublisher } from "./systems/publisher";
import { QuerySystem } from "./systems/queries";
import { RunEventsSystem } from "./systems/run-events";
import { SchedulerSystem } from "./systems/scheduler";
import { StatisticsSystem } from "./systems/statistics";
import { SubflowSystem } from "./systems/subflows";

export { HEARTBEAT_LOST, STALL_FLOOR_MS } from "./systems/monitor";
export { RUN_UNREPORTED, UNREPORTED_BEATS } from "./systems/dispatch";
export { FORGET_WORKER_MS } from "./systems/presence";
export { CALLS_WINDOW } from "./systems/statistics";
export { MAX_LOG_BYTES, truncateLog } from "./systems/run-events";
export type { EngineConfig };

export interface EngineDeps {
  store: Store;
  clock: Clock;
  notifier: RunNotifier;
  feed: ChangeFeed;
  clients: ClientRegistry;
  config: EngineConfig;
  /** The alert rules in force (alerts.json); none when absent. */
  alerts?: AlertRegistry;
  alertOptions?: Partial<AlertsOptions>;
}

const runIdOf = (text: string) => parseId("run", text, notFound);
const flowIdOf = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : -1);

export class Engine {
  readonly store: Store;
  readonly clock: Clock;
  readonly feed: ChangeFeed;
  readonly clients: ClientRegistry;
  readonly config: EngineConfig;
  private readonly presence: PresenceSystem;
  private readonly dispatch: DispatchSystem;
  private readonly events: RunEventsSystem;
  private readonly subflows: SubflowSystem;
  private readonly lifecycle: LifecycleSystem;
  private readonly monitor: MonitorSystem;
  private readonly queries: QuerySystem;
  private readonly concurrency: ConcurrencySystem;
  private readonly artifacts: ArtifactSystem;
  readonly scheduler: SchedulerSystem;
  /** Alert rules, the outbox's delivery loop, and the metrics. */
  readonly alerts: AlertsSystem;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** Resolves once clients.json is mirrored into the store (workers reference their client). */
  readonly ready: Promise<void>;

  constructor(deps: EngineDeps) {
    const ctx: EngineContext = { store: deps.store, clock: deps.clock, notifier: deps.notifier, feed: deps.feed, clients: deps.clients, config: deps.config };
    this.alerts = new AlertsSystem(ctx, deps.alerts ?? new AlertRegistry(), deps.alertOptions);
    ctx.alerts = this.alerts;
    this.store = deps.store;
    this.clock = deps.clock;
    this.feed = deps.feed;
    this.clients = deps.clients;
    this.config = deps.config;
    const publish = new RunPublisher(deps.feed, deps.notifier);
    const stats = new StatisticsSystem(ctx);
    this.presence = new PresenceSystem(ctx);
    this.lifecycle = new LifecycleSystem(ctx, stats, publish);
    this.scheduler = new SchedulerSystem(ctx, this.lifecycle, publish);
    this.dispatch = new DispatchSystem(ctx, this.presence, this.lifecycle, publish, this.scheduler);
    this.subflows = new SubflowSystem(ctx, this.presence, this.lifecycle, stats, publish);
    this.events = new RunEventsSystem(ctx, this.presence, stats, publish, this.subflows);
    this.monitor = new MonitorSystem(ctx, this.presence, this.lifecycle, stats, publish);
    this.queries = new QuerySystem(ctx, this.presence, stats);
    this.concurrency = new ConcurrencySystem(ctx, this.presence, publish);
    this.artifacts = new ArtifactSystem(ctx, this.presence, this.lifecycle, publish);
    this.alerts.metrics.attach(metricsSources(ctx, this.presence));
    this.ready = this.syncClients();
    this.ready.catch(() => {}); // surfaced by the first request that awaits it
  }

  get heartbeatIntervalMs(): number {
    return this.presence.heartbeatIntervalMs;
  }

  /** Worker processes tracked in memory (bounded: forgotten an hour after their last sign of life). */
  get trackedWorkers(): number {
    return this.presence.trackedWorkers;
  }

  /** Mirrors clients.json into the database (names and sensitivities shown by the dashboard). */
  async syncClients(): Promise<void> {
    await this.store.transaction(async (tx) => {
      for (const c of this.clients.all()) await tx.upsertClient({ id: c.id, name: c.name, sensitivity: c.sensitivity });
    });
  }

  /** Starts the once-a-second monitor (heartbeats, live outliers, stalls, progress) and the scheduler. */
  start(intervalMs = 1000): void {
    if (this.timer) return;
    this.scheduler.start();
    this.alerts.start();
    this.timer = setInterval(() => {
      if (this.ticking) return; // a slow tick is never overlapped by the next
      this.ticking = this.tick()
        .catch((e) => console.error("[perfect] monitor tick failed:", e))
        .finally(() => (this.ticking = null));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.scheduler.stop();
    void this.alerts.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // ---------------------------------------------------------------- worker protocol

  authenticate(clientId: string, token: string | null): void {
    this.dispatch.authenticate(clientId, token);
  }
  async register(clientId: string, req: RegisterRequest) {
    await this.ready;
    return this.dispatch.register(clientId, req);
  }
  claim(clientId: string, workerId: string, max: number) {
    return this.dispatch.claim(clientId, workerId, max);
  }
  poll(clientId: string, req: PollRequest, signal?: AbortSignal) {
    return this.dispatch.poll(clientId, req, signal);
  }
  heartbeat(clientId: string, req: HeartbeatRequest) {
    return this.dispatch.heartbeat(clientId, req);
  }
  goodbye(clientId: string, req: GoodbyeRequest) {
    return this.dispatch.goodbye(clientId, req);
  }
  applyEvents(clientId: string, runIdText: string, batch: EventBatch) {
    return this.events.apply(clientId, runIdOf(runIdText), runIdText, batch);
  }
  /** A flow called inside the running run `parentRunIdText`: its child run, RUNNING for the same worker. */
  startSubflow(clientId: string, parentRunIdText: string, req: SubflowRequest) {
    return this.subflows.start(clientId, runIdOf(parentRunIdText), parentRunIdText, req);
  }

  /** A task call's slot of a concurrency key (long-polled while WAITING). */
  acquireSlot(clientId: string, runIdText: string, req: SlotRequest, signal?: AbortSignal) {
    return this.concurrency.acquire(clientId, runIdOf(runIdText), runIdText, req, signal);
  }
  releaseSlot(clientId: string, runIdText: string, slotIdText: string) {
    return this.concurrency.release(clientId, runIdOf(runIdText), slotIdText);
  }

  /** A flow called directly (`python etl.py`) by a worker that registered it: a RUNNING run, trigger "local". */
  startLocalRun(clientId: string, req: LocalRunRequest) {
    return this.artifacts.startLocal(clientId, req);
  }
  createArtifact(clientId: string, runIdText: string, req: ArtifactCreate) {
    return this.artifacts.create(clientId, runIdOf(runIdText), runIdText, req);
  }
  updateArtifact(clientId: string, runIdText: string, artifactIdText: string, req: ArtifactUpdate) {
    return this.artifacts.update(clientId, runIdOf(runIdText), runIdText, artifactIdText, req);
  }

  // ---------------------------------------------------------------- artifacts and variables

  listArtifacts(runIdText: string) {
    return this.artifacts.list(runIdOf(runIdText), runIdText);
  }
  listVariables() {
    return this.artifacts.listVariables();
  }
  getVariable(name: string) {
    return this.artifacts.getVariable(name);
  }
  setVariable(name: string, value: unknown) {
    return this.artifacts.setVariable(name, value);
  }
  deleteVariable(name: string) {
    return this.artifacts.deleteVariable(name);
  }

  // ---------------------------------------------------------------- concurrency limits

  listConcurrencyLimits() {
    return this.concurrency.listLimits();
  }
  getConcurrencyLimit(key: string) {
    return this.concurrency.getLimit(key);
  }
  setConcurrencyLimit(key: string, limit: number) {
    return this.concurrency.setLimit(key, limit);
  }
  deleteConcurrencyLimit(key: string) {
    return this.concurrency.deleteLimit(key);
  }

  // ---------------------------------------------------------------- dashboard actions

  /** `actor`: who asked (user or token name; null before the first user exists), kept as the run's triggeredBy. */
  async triggerRun(flowIdText: string, given: Record<string, unknown>, trigger: Trigger, actor: string | null = null) {
    // Answered from what the trigger wrote: the run as created (PENDING), even when a waiting
    // worker claimed it in the meantime.
    const { run, tasks } = await this.lifecycle.trigger(flowIdOf(flowIdText), flowIdText, given, trigger, actor);
    return this.queries.viewOf(run, tasks);
  }
  async retryRun(runIdText: string, trigger: Trigger, actor: string | null = null) {
    const { run, tasks } = await this.lifecycle.retry(runIdOf(runIdText), runIdText, trigger, actor);
    return this.queries.viewOf(run, tasks);
  }
  async cancelRun(runIdText: string, actor: string | null = null) {
    const id = runIdOf(runIdText);
    await this.lifecycle.cancel(id, runIdText, actor);
    return this.queries.getRun(id, runIdText);
  }

  // ---------------------------------------------------------------- schedules

  listSchedules(flowIdText: string) {
    return this.scheduler.list(flowIdText);
  }
  getSchedule(idText: string) {
    return this.scheduler.get(idText);
  }
  createSchedule(flowIdText: string, fields: ScheduleFields) {
    return this.scheduler.create(flowIdText, fields);
  }
  updateSchedule(idText: string, fields: ScheduleFields) {
    return this.scheduler.update(idText, fields);
  }
  deleteSchedule(idText: string) {
    return this.scheduler.remove(idText);
  }
  previewSchedule(q: Parameters<SchedulerSystem["preview"]>[0]) {
    return this.scheduler.preview(q);
  }
  backfill(flowIdText: string, q: Parameters<SchedulerSystem["backfill"]>[1]) {
    return this.scheduler.backfill(flowIdText, q);
  }
  /** Fires every schedule due at the clock's now (the loop calls it at each fire time; tests call it directly). */
  fireDueSchedules(): Promise<number> {
    return this.scheduler.fireDue();
  }

  // ---------------------------------------------------------------- monitor

  /** One pass of the monitor, then the sweep of expired concurrency slots (leases). */
  async tick(): Promise<void> {
    await this.monitor.tick();
    await this.concurrency.sweep(this.clock.now());
  }

  // ---------------------------------------------------------------- alerts and metrics

  alertsOverview() {
    return this.alerts.overview();
  }
  listAlertDeliveries(q: DeliveryListQuery) {
    return this.alerts.listDeliveries(q);
  }
  sendTestAlert(destinationId: string) {
    return this.alerts.sendTest(destinationId);
  }
  /** Prometheus text (and its content type) of this instance. */
  async metrics(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.alerts.metrics.contentType, text: await this.alerts.metrics.text() };
  }

  // ---------------------------------------------------------------- reads

  isClientOnline(clientId: string): boolean {
    return this.presence.isClientOnline(clientId);
  }
  getRun(idText: string) {
    return this.queries.getRun(runIdOf(idText), idText);
  }
  listRuns(q: RunListQuery) {
    return this.queries.listRuns(q);
  }
  listLogs(idText: string, q: { after: number; taskRunId?: string; level: string[]; limit: number; q?: string }) {
    return this.queries.listLogs(runIdOf(idText), idText, q);
  }
  listFlows(q?: FlowListQuery) {
    return this.queries.listFlows(q);
  }
  getFlow(idText: string) {
    return this.queries.getFlow(flowIdOf(idText), idText);
  }
  summary() {
    return this.queries.summary();
  }
  flowSummary(idText: string, window: FlowSummaryWindow) {
    return this.queries.flowSummary(flowIdOf(idText), idText, window);
  }
  listTaskStats(flowName?: string, flowId?: string) {
    return this.queries.listTaskStats(flowName, flowId);
  }
  listClients() {
    return this.queries.listClients();
  }
}

/**
 * What a scrape reads: the active runs through the state index (one query shared by the gauges
 * of one scrape, kept 500 ms), the pending deliveries, and the workers this instance knows.
 */
function metricsSources(ctx: EngineContext, presence: PresenceSystem) {
  let active: { at: number; rows: Promise<{ flowName: string; state: string; count: number }[]> } | null = null;
  return {
    activeRuns() {
      const now = Date.now();
      if (!active || now - active.at > 500) {
        active = { at: now, rows: ctx.store.countActiveRuns() };
        active.rows.catch(() => (active = null));
      }
      return active.rows;
    },
    workersOnline: () => presence.onlineWorkersByClient(),
    pendingDeliveries: () => ctx.store.countPendingDeliveries(),
  };
}
