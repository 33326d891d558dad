/**
 * Global concurrency limits by key: a task call declared with `concurrency_key` runs only while
 * it holds one of its key's slots. A slot is a lease of its run, never of a connection or a
 * process: it is deleted when the task call releases it, and whenever its run ends by any path
 * (the worker's run_* events, a cancel, the monitor failing a lost worker's runs, a requeue) in
 * the same transaction that ends the run. On top of that the monitor's tick sweeps every slot
 * whose run is no longer RUNNING or whose worker has been silent past the heartbeat timeout, so
 * a kill -9-ed worker's slots come back within the timeout even if a path was missed.
 *
 * Grants are FIFO and decided in the store under the key's lock (see Store.grantSlots). A slot
 * that frees is granted in the transaction that frees it; the waiters of that key are then woken
 * (here at once, and on every instance through the change feed: PostgreSQL NOTIFY). A waiter
 * only re-reads its own slot, so a lost wake-up costs latency (until its poll ends), never a slot.
 */
import type { ConcurrencyLimitRecord, SlotListingRecord } from "../../domain/records";
import {
  concurrencyKeySchema,
  type ConcurrencyLimitList,
  type ConcurrencyLimitView,
} from "../../contracts/concurrency";
import type { SlotRequest, SlotResponse } from "../../contracts/worker";
import type { StoreOps } from "../../store/store";
import { PerfectError, invalid, notFound } from "../errors";
import { iso } from "../views";
import type { EngineContext } from "./context";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";

/**
 * Frees every slot of a run inside the transaction that ends it, granting each key's waiters
 * in turn (keys sorted: two transactions take key locks in one order). Returns the keys, to be
 * announced (RunPublisher.slots) once the transaction committed.
 */
export async function releaseRunSlots(tx: StoreOps, runId: number, now: number): Promise<string[]> {
  const keys = await tx.deleteSlotsOfRun(runId);
  for (const key of keys) await tx.grantSlots(key, now);
  return keys;
}

interface Waiter {
  wake(): void;
}

export class ConcurrencySystem {
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly publish: RunPublisher,
  ) {
    // This instance's own changes wake at once; other instances' arrive over the feed.
    publish.onSlots((keys) => keys.forEach((k) => this.wake(k)));
    ctx.feed.subscribe((c) => {
      if (c.kind === "concurrency") this.wake(c.key);
    });
    // After a lost LISTEN connection (PostgreSQL) every waiter re-reads its slot.
    ctx.feed.onResync?.(() => this.wakeAll());
  }

  // ---------------------------------------------------------------- worker protocol

  /**
   * A task call's slot: HELD at once when the key has room, else WAITING in line, long-polled
   * up to min(waitMs, longPollMs). Re-sending the same (call, key) continues in the same place.
   * 409 unless the run is RUNNING and this worker's.
   */
  async acquire(clientId: string, runId: number, runIdText: string, req: SlotRequest, signal?: AbortSignal): Promise<SlotResponse> {
    await this.presence.requireWorker(clientId, req.workerId);
    const now = this.ctx.clock.now();
    const waitMs = Math.min(req.waitMs ?? this.ctx.config.longPollMs, this.ctx.config.longPollMs);
    const deadline = Date.now() + waitMs;
    const requested = await this.ctx.store.transaction(async (tx) => {
      // The run's row lock orders this request against the run's ending (which frees its
      // slots under the same lock): a slot is never created for a run that has ended.
      const run = await tx.getRunForUpdate(runId);
      if (!run) throw notFound("run", runIdText);
      if (run.clientId !== clientId || run.workerId !== req.workerId) {
        throw new PerfectError("conflict", `run ${runIdText} is not claimed by worker ${req.workerId}`, { reason: "not_your_run" });
      }
      if (run.state !== "RUNNING") throw new PerfectError("conflict", `run ${runIdText} is ${run.state}, not RUNNING`, { state: run.state });
      return tx.requestSlot({ key: req.key, runId: run.id, call: req.call, taskName: req.task, clientId, workerId: req.workerId }, now);
    });
    // A new slot joined the key's line or its holders (a re-sent request keeps its requestedAt
    // and changes nothing: the dashboards are not told again at every re-poll).
    if (requested.requestedAt === now || requested.acquiredAt === now) this.publish.slots([req.key]);
    let slot = requested;
    for (;;) {
      if (slot.state === "HELD") return { slotId: String(slot.id), state: "HELD" };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) {
        await this.presence.touch(req.workerId, clientId); // a long poll's end is a sign of life
        const position = await this.ctx.store.slotPosition(slot.id);
        return { slotId: String(slot.id), state: "WAITING", ...(position > 0 ? { position } : {}) };
      }
      // Listening before re-reading: a grant committed in between still wakes this waiter.
      const woken = this.listen(req.key, left, signal);
      const cur = await this.ctx.store.getSlot(slot.id);
      if (!cur) {
        woken.cancel();
        const run = await this.ctx.store.getRun(runId);
        throw new PerfectError("conflict", `slot ${slot.id} no longer exists (run ${runIdText} is ${run?.state ?? "gone"})`, { state: run?.state ?? null });
      }
      slot = cur;
      if (slot.state === "HELD") {
        woken.cancel();
        continue;
      }
      await woken.promise;
    }
  }

  /** Gives a slot back (204 whether or not it still existed); the key's next waiter is granted. */
  async release(clientId: string, runId: number, slotIdText: string): Promise<void> {
    if (!/^\d{1,15}$/.test(slotIdText)) return;
    const now = this.ctx.clock.now();
    const key = await this.ctx.store.transaction(async (tx) => {
      const slot = await tx.getSlot(Number(slotIdText));
      if (!slot || slot.runId !== runId || slot.clientId !== clientId) return null;
      await tx.deleteSlot(slot.id);
      await tx.grantSlots(slot.key, now);
      return slot.key;
    });
    if (key !== null) this.publish.slots([key]);
  }

  // ---------------------------------------------------------------- the monitor's sweep

  /**
   * Frees the slots of runs that are no longer RUNNING, were given to another worker, or whose
   * worker has been silent past the heartbeat timeout (the lease expired), and grants any key
   * whose line could move (a missed grant costs a tick, never a slot).
   */
  async sweep(now: number): Promise<void> {
    const slots = await this.ctx.store.listSlots();
    if (!slots.length) return;
    const expired = new Set<number>();
    for (const s of slots) if (this.leaseExpired(s.runState, s.runWorkerId, s.workerId, now)) expired.add(s.runId);
    const changed = new Set<string>();
    for (const runId of expired) {
      const keys = await this.ctx.store.transaction(async (tx) => {
        const run = await tx.getRunForUpdate(runId);
        if (run && !this.leaseExpired(run.state, run.workerId, run.workerId ?? "", now)) return [];
        return releaseRunSlots(tx, runId, now);
      });
      keys.forEach((k) => changed.add(k));
    }
    const held = new Map<string, number>();
    for (const s of slots) if (s.state === "HELD" && !expired.has(s.runId)) held.set(s.key, (held.get(s.key) ?? 0) + 1);
    const limits = new Map((await this.ctx.store.listConcurrencyLimits()).map((l) => [l.key, l.limit]));
    const waitingKeys = new Set(slots.filter((s) => s.state === "WAITING" && !expired.has(s.runId)).map((s) => s.key));
    for (const key of waitingKeys) {
      if (changed.has(key)) continue;
      const limit = limits.get(key);
      if (limit !== undefined && (held.get(key) ?? 0) >= limit) continue;
      const granted = await this.ctx.store.transaction((tx) => tx.grantSlots(key, now));
      if (granted.length) changed.add(key);
    }
    if (changed.size) this.publish.slots([...changed]);
  }

  private leaseExpired(runState: string, runWorkerId: string | null, slotWorkerId: string, now: number): boolean {
    if (runState !== "RUNNING" || runWorkerId !== slotWorkerId) return true;
    return now - this.presence.lastSeen(slotWorkerId) > this.ctx.config.heartbeatTimeoutMs;
  }

  // ---------------------------------------------------------------- dashboard

  async listLimits(): Promise<ConcurrencyLimitList> {
    const [limits, slots] = await Promise.all([this.ctx.store.listConcurrencyLimits(), this.ctx.store.listSlots()]);
    const byKey = new Map<string, { limit?: ConcurrencyLimitRecord; slots: SlotListingRecord[] }>();
    for (const l of limits) byKey.set(l.key, { limit: l, slots: [] });
    for (const s of slots) {
      let e = byKey.get(s.key);
      if (!e) byKey.set(s.key, (e = { slots: [] }));
      e.slots.push(s);
    }
    const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { limits: keys.map((k) => view(k, byKey.get(k)!.limit, byKey.get(k)!.slots)) };
  }

  /** The key's limit and slots; 404 when it has neither. */
  async getLimit(keyText: string): Promise<ConcurrencyLimitView> {
    const key = this.knownKey(keyText);
    const [limit, slots] = await Promise.all([this.ctx.store.getConcurrencyLimit(key), this.ctx.store.listSlots(key)]);
    if (!limit && !slots.length) throw notFound("concurrency limit", keyText);
    return view(key, limit, slots);
  }

  /** Sets (creates or changes) the key's limit; a raised limit grants waiters at once. */
  async setLimit(keyText: string, limit: number): Promise<ConcurrencyLimitView> {
    const parsed = concurrencyKeySchema.safeParse(keyText);
    if (!parsed.success) throw invalid("key", parsed.error.issues[0].message);
    const key = parsed.data;
    const now = this.ctx.clock.now();
    await this.ctx.store.transaction(async (tx) => {
      await tx.upsertConcurrencyLimit(key, limit, now);
      await tx.grantSlots(key, now);
    });
    this.publish.slots([key]);
    return this.getLimit(key);
  }

  /** Removes the key's limit (404 without one): the key becomes unlimited, its waiters are granted. */
  async deleteLimit(keyText: string): Promise<void> {
    const key = this.knownKey(keyText);
    const now = this.ctx.clock.now();
    const deleted = await this.ctx.store.transaction(async (tx) => {
      if (!(await tx.deleteConcurrencyLimit(key))) return false;
      await tx.grantSlots(key, now);
      return true;
    });
    if (!deleted) throw notFound("concurrency limit", keyText);
    this.publish.slots([key]);
  }

  private knownKey(keyText: string): string {
    if (!concurrencyKeySchema.safeParse(keyText).success) throw notFound("concurrency limit", keyText);
    return keyText;
  }

  // ---------------------------------------------------------------- waiting

  private listen(key: string, timeoutMs: number, signal?: AbortSignal): { promise: Promise<void>; cancel(): void } {
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    let waiter!: Waiter;
    const promise = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set!.delete(waiter);
        if (set!.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      waiter = { wake: done };
      set!.add(waiter);
    });
    return { promise, cancel: () => waiter.wake() };
  }

  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (set) for (const w of [...set]) w.wake();
  }

  private wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.wake();
  }
}

function view(key: string, limit: ConcurrencyLimitRecord | undefined, slots: SlotListingRecord[]): ConcurrencyLimitView {
  const holders = slots.filter((s) => s.state === "HELD");
  return {
    key,
    limit: limit?.limit ?? null,
    held: holders.length,
    holders: holders.map((s) => ({
      slotId: String(s.id),
      runId: String(s.runId),
      flowName: s.flowName,
      taskName: s.taskName,
      call: s.call,
      workerId: s.workerId,
      acquiredAt: iso(s.acquiredAt)!,
    })),
    waiting: slots
      .filter((s) => s.state === "WAITING")
      .map((s) => ({ slotId: String(s.id), runId: String(s.runId), flowName: s.flowName, taskName: s.taskName, call: s.call, workerId: s.workerId, requestedAt: iso(s.requestedAt)! })),
    createdAt: iso(limit?.createdAt ?? null),
    updatedAt: iso(limit?.updatedAt ?? null),
  };
}
