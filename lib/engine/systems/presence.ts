/**
 * Presence: which worker processes and clients are alive, by the server's receipt time only.
 * Signs of life are kept in memory (every request) and in the store (at most once a second per
 * worker), so another instance's monitor judges a worker by what any instance heard. After a
 * restart every worker counts as last seen at boot: a restart never mass-fails healthy runs.
 */
import { PerfectError, notFound } from "../errors";
import { LivenessTracker } from "../liveness";
import type { EngineContext } from "./context";
import { routeOf } from "./context";

/** Worker processes silent this long are forgotten (memory maps and routing rows). */
export const FORGET_WORKER_MS = 60 * 60 * 1000;

export class PresenceSystem {
  readonly liveness: LivenessTracker;
  private readonly workerClient = new Map<string, string>();
  /** The same, grouped by client: isClientOnline looks at that client's workers only. */
  private readonly clientWorkers = new Map<string, Set<string>>();
  /** Last sign of life of each worker as stored by any instance. */
  private readonly storedSeen = new Map<string, number>();
  private readonly offsets = new Map<string, number[]>();
  /** Routes (flow id @ version) each worker serves: which waiting polls a new run wakes. */
  private readonly served = new Map<string, Set<string>>();
  /**
   * Last online state published per client, so the feed reports each transition once. A sign of
   * life makes its client online, so touch() compares with this (O(1)) instead of recounting.
   */
  private readonly clientOnline = new Map<string, boolean>();
  private lastForget = 0;

  constructor(private readonly ctx: EngineContext) {
    this.liveness = new LivenessTracker(ctx.clock.now());
    for (const c of ctx.clients.all()) this.clientOnline.set(c.id, false); // nobody is online at boot
  }

  get heartbeatIntervalMs(): number {
    // A third of the timeout: two heartbeats may be lost before a healthy worker is judged dead.
    return Math.max(Math.floor(this.ctx.config.heartbeatTimeoutMs / 3), 1);
  }

  /** A sign of life from a worker of a client. */
  async touch(workerId: string, clientId: string): Promise<void> {
    const now = this.ctx.clock.now();
    this.own(workerId, clientId);
    if (this.liveness.touch(workerId, now)) {
      await this.ctx.store.touchWorker(workerId, now);
      await this.ctx.store.touchClient(clientId, now);
    }
    if (this.clientOnline.get(clientId) !== true) {
      this.clientOnline.set(clientId, true);
      this.ctx.feed.publish({ kind: "client", clientId, online: true });
    }
  }

  /** The worker exists and belongs to the client (403 otherwise); counts as a sign of life. */
  async requireWorker(clientId: string, workerId: string): Promise<void> {
    let owner = this.workerClient.get(workerId);
    if (owner === undefined) {
      const w = await this.ctx.store.getWorker(workerId);
      if (!w) throw notFound("worker", workerId);
      owner = w.clientId;
      this.own(workerId, owner);
    }
    if (owner !== clientId) throw new PerfectError("forbidden", `worker ${workerId} belongs to another client`);
    await this.touch(workerId, clientId);
  }

  /** What a worker process registered (routes as flowId@version). */
  registered(workerId: string, clientId: string, routes: { flowId: number; version: string }[]): void {
    this.own(workerId, clientId);
    this.served.set(workerId, new Set(routes.map((r) => routeOf(r.flowId, r.version))));
  }

  async servesOf(workerId: string): Promise<(route: string) => boolean> {
    let routes = this.served.get(workerId);
    if (!routes) {
      routes = new Set((await this.ctx.store.listFlowsOfWorker(workerId)).map((wf) => routeOf(wf.flowId, wf.version)));
      this.served.set(workerId, routes);
    }
    const set = routes;
    return (route) => set.has(route);
  }

  /**
   * The worker's clock offset: receivedAt − sentAt is the offset plus this request's delay, so
   * the smallest value among the worker's recent batches is the best estimate of the offset.
   */
  clockOffset(workerId: string, observed: number): number {
    let recent = this.offsets.get(workerId);
    if (!recent) this.offsets.set(workerId, (recent = []));
    recent.push(observed);
    if (recent.length > 32) recent.shift();
    let min = Infinity;
    for (const x of recent) if (x < min) min = x;
    return min;
  }

  /** Last sign of life heard by any instance, or this instance's boot time. */
  lastSeen(workerId: string | null): number {
    const mine = this.liveness.lastSeen(workerId);
    const stored = workerId ? (this.storedSeen.get(workerId) ?? 0) : 0;
    return Math.max(mine, stored);
  }

  /** Last sign of life for display (no boot-time default). */
  observed(workerId: string, stored: number): number {
    return Math.max(this.liveness.observed(workerId) ?? 0, this.storedSeen.get(workerId) ?? 0, stored);
  }

  isWorkerOnline(workerId: string, now = this.ctx.clock.now()): boolean {
    const seen = Math.max(this.liveness.observed(workerId) ?? -Infinity, this.storedSeen.get(workerId) ?? -Infinity);
    return now - seen <= this.ctx.config.heartbeatTimeoutMs;
  }

  isClientOnline(clientId: string, now = this.ctx.clock.now()): boolean {
    for (const workerId of this.clientWorkers.get(clientId) ?? []) {
      if (this.isWorkerOnline(workerId, now)) return true;
    }
    return false;
  }

  /** Records which client a worker belongs to (both maps). */
  private own(workerId: string, clientId: string): void {
    const before = this.workerClient.get(workerId);
    if (before === clientId) return;
    if (before !== undefined) this.disown(workerId);
    this.workerClient.set(workerId, clientId);
    let set = this.clientWorkers.get(clientId);
    if (!set) this.clientWorkers.set(clientId, (set = new Set()));
    set.add(workerId);
  }

  private disown(workerId: string): void {
    const clientId = this.workerClient.get(workerId);
    if (clientId === undefined) return;
    this.workerClient.delete(workerId);
    const set = this.clientWorkers.get(clientId);
    set?.delete(workerId);
    if (set?.size === 0) this.clientWorkers.delete(clientId);
  }

  /** Reads what every instance stored (once a monitor tick): liveness across instances. */
  async refresh(): Promise<void> {
    for (const w of await this.ctx.store.listWorkers()) {
      this.storedSeen.set(w.id, w.lastSeenAt);
      if (!this.workerClient.has(w.id)) this.own(w.id, w.clientId);
    }
  }

  /**
   * Memory stays bounded however many workers come and go: a worker process silent for
   * FORGET_WORKER_MS leaves every map keyed by worker id, and its rows go too.
   */
  async forgetGone(now: number): Promise<void> {
    if (now - this.lastForget < 60_000) return;
    this.lastForget = now;
    const before = now - FORGET_WORKER_MS;
    const gone = new Set<string>();
    for (const id of this.workerClient.keys()) if (this.lastSeen(id) < before) gone.add(id);
    if (before > this.liveness.bootTime) {
      for (const id of await this.ctx.store.deleteWorkersSeenBefore(before)) gone.add(id);
    }
    for (const id of gone) {
      this.disown(id);
      this.offsets.delete(id);
      this.served.delete(id);
      this.storedSeen.delete(id);
      this.liveness.forget(id);
    }
  }

  /**
   * A worker process that stopped on purpose (its goodbye): it leaves every map now, not after
   * FORGET_WORKER_MS, and its client's online state is published if that changed.
   */
  goodbye(workerId: string, clientId: string): void {
    this.disown(workerId);
    this.offsets.delete(workerId);
    this.served.delete(workerId);
    this.storedSeen.delete(workerId);
    this.liveness.forget(workerId);
    const online = this.isClientOnline(clientId, this.ctx.clock.now());
    if (this.clientOnline.get(clientId) !== online) {
      this.clientOnline.set(clientId, online);
      this.ctx.feed.publish({ kind: "client", clientId, online });
    }
  }

  /** Publishes a client change when it goes offline (or online) without any request. */
  publishClientTransitions(now: number): void {
    for (const c of this.ctx.clients.all()) {
      const online = this.isClientOnline(c.id, now);
      if (this.clientOnline.get(c.id) !== online) {
        this.clientOnline.set(c.id, online);
        this.ctx.feed.publish({ kind: "client", clientId: c.id, online });
      }
    }
  }

  /** Worker processes online now, per client that has any (metrics). */
  onlineWorkersByClient(now = this.ctx.clock.now()): Map<string, number> {
    const out = new Map<string, number>();
    for (const [clientId, workers] of this.clientWorkers) {
      let n = 0;
      for (const w of workers) if (this.isWorkerOnline(w, now)) n++;
      if (n) out.set(clientId, n);
    }
    return out;
  }

  get trackedWorkers(): number {
    return this.liveness.size;
  }
}
