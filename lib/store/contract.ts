/**
 * The store contract: what every Store (SQLite, PostgreSQL) must do, as vitest blocks. An
 * adapter's test file calls describeStoreContract(name, open) where open() gives a fresh, empty,
 * migrated store for each test. Outcomes and orders are asserted, never timings.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NewAlertDelivery, NewRun, NewTaskRun, RunFilter, RunRecord } from "../domain/records";
import type { RunState } from "../domain/states";
import type { Store, StoreOps } from "./store";

export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

const T0 = 1_700_000_000_000;

function newRun(over: Partial<NewRun> & Pick<NewRun, "flowId" | "clientId">): NewRun {
  return {
    flowName: "flow",
    flowVersion: "v1",
    state: "PENDING",
    parameters: {},
    tags: {},
    trigger: "api",
    workerId: null,
    createdAt: T0,
    claimedAt: null,
    startedAt: null,
    endedAt: null,
    error: null,
    progress: 0,
    lastSeq: 0,
    cancelRequestedAt: null,
    unreportedBeats: 0,
    scheduleId: null,
    scheduledFor: null,
    serial: false,
    limited: false,
    retryOf: null,
    parentRunId: null,
    parentCall: null,
    triggeredBy: null,
    cancelledBy: null,
    ...over,
  };
}

function newTaskRun(over: Partial<NewTaskRun> & Pick<NewTaskRun, "runId" | "flowId">): NewTaskRun {
  return {
    position: 0,
    callIndex: null,
    name: "task",
    weight: 1000,
    estimatedTime: null,
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
    ...over,
  };
}

async function addFlow(s: StoreOps, clientId: string, name: string, version = "v1"): Promise<number> {
  return s.upsertFlow({ clientId, name, description: "", tags: {}, parameters: [], version, maxActiveRuns: null, registeredAt: T0, updatedAt: T0 });
}

async function addWorker(s: StoreOps, id: string, clientId: string, lastSeenAt = T0): Promise<void> {
  await s.insertWorker({ id, clientId, hostname: "host", pid: 42, sdkVersion: "1.0", registeredAt: T0, lastSeenAt });
}

/** JSON text with keys sorted at every level (own keys, `__proto__` included). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store contract: ${name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
      await store.upsertClient({ id: "c1", name: "Client one", sensitivity: "normal" });
      await store.upsertClient({ id: "c2", name: "Client two", sensitivity: "aggressive" });
    });
    afterEach(async () => {
      await opened.close();
    });

    describe("alert outbox", () => {
      const delivery = (over: Partial<NewAlertDelivery> = {}): NewAlertDelivery => ({
        webhookId: `msg_${Math.random().toString(36).slice(2)}`,
        destinationId: "hook",
        eventType: "run.failed",
        dedupeKey: null,
        throttleKey: null,
        throttleWindowMs: 0,
        runId: null,
        flowName: "etl",
        payload: '{"type":"run.failed"}',
        createdAt: T0,
        ...over,
      });

      it("queues PENDING rows due at creation, skips a repeated (destination, dedupe key) and a repeated webhook id", async () => {
        const [a] = await store.queueAlertDeliveries([delivery({ webhookId: "msg_a", dedupeKey: "run.failed:1" })]);
        expect(a).toMatchObject({ webhookId: "msg_a", state: "PENDING", attempts: 0, nextAttemptAt: T0, leaseUntil: null, deliveredAt: null, payload: '{"type":"run.failed"}' });
        const again = await store.queueAlertDeliveries([
          delivery({ webhookId: "msg_b", dedupeKey: "run.failed:1" }),
          delivery({ webhookId: "msg_c", dedupeKey: "run.failed:1", destinationId: "slack" }),
          delivery({ webhookId: "msg_a", dedupeKey: "other" }),
        ]);
        expect(again.map((d) => d.webhookId)).toEqual(["msg_c"]);
        expect((await store.listDeliveries({ limit: 10 })).map((d) => d.webhookId)).toEqual(["msg_c", "msg_a"]);
        expect(await store.earliestDeliveryAt()).toBe(T0);
        expect(await store.countPendingDeliveries()).toBe(2);
      });

      it("stores THROTTLED a row whose bucket had a sent row within the window, inside a transaction too", async () => {
        const key = "rule0:hook:etl";
        await store.queueAlertDeliveries([delivery({ throttleKey: key, throttleWindowMs: 60_000 })]);
        const second = await store.transaction((tx) => tx.queueAlertDeliveries([delivery({ throttleKey: key, throttleWindowMs: 60_000, createdAt: T0 + 59_000 })]));
        expect(second[0]).toMatchObject({ state: "THROTTLED", nextAttemptAt: null });
        // A throttled row does not extend the window; past it, the next row is sent.
        const third = await store.queueAlertDeliveries([delivery({ throttleKey: key, throttleWindowMs: 60_000, createdAt: T0 + 61_000 })]);
        expect(third[0].state).toBe("PENDING");
        const other = await store.queueAlertDeliveries([delivery({ throttleKey: "rule0:hook:other", throttleWindowMs: 60_000, createdAt: T0 + 61_500 })]);
        expect(other[0].state).toBe("PENDING");
        expect(await store.countPendingDeliveries()).toBe(3);
      });

      it("leases due rows once, records attempts only under the lease, and retries then delivers", async () => {
        const [d] = await store.queueAlertDeliveries([delivery({ createdAt: T0 })]);
        await store.queueAlertDeliveries([delivery({ createdAt: T0 + 10_000 })]);
        const lease = T0 + 30_000;
        const claimed = await store.claimDueDeliveries(T0 + 1, lease, 10);
        expect(claimed.map((c) => c.id)).toEqual([d.id]);
        expect(claimed[0].leaseUntil).toBe(lease);
        // Leased: nobody else gets it until the lease runs out.
        expect(await store.claimDueDeliveries(T0 + 2, T0 + 40_000, 10)).toEqual([]);
        // A stale lease records nothing.
        expect(await store.recordDeliveryAttempt(d.id, lease + 1, { attempt: { at: T0 + 3, status: 503, error: null, durationMs: 4 }, state: "PENDING", nextAttemptAt: T0 + 1003 })).toBe(false);
        expect(await store.recordDeliveryAttempt(d.id, lease, { attempt: { at: T0 + 3, status: 503, error: null, durationMs: 4 }, state: "PENDING", nextAttemptAt: T0 + 1003 })).toBe(true);
        expect(await store.getDelivery(d.id)).toMatchObject({ state: "PENDING", attempts: 1, lastStatus: 503, nextAttemptAt: T0 + 1003, leaseUntil: null, lastAttemptAt: T0 + 3 });
        expect(await store.claimDueDeliveries(T0 + 1000, T0 + 50_000, 10)).toEqual([]);
        const retry = await store.claimDueDeliveries(T0 + 1003, T0 + 50_000, 10);
        expect(retry.map((c) => c.id)).toEqual([d.id]);
        expect(await store.recordDeliveryAttempt(d.id, T0 + 50_000, { attempt: { at: T0 + 1004, status: 200, error: null, durationMs: 2 }, state: "DELIVERED", nextAttemptAt: null })).toBe(true);
        expect(await store.getDelivery(d.id)).toMatchObject({ state: "DELIVERED", attempts: 2, deliveredAt: T0 + 1004, nextAttemptAt: null });
        // Delivered: never claimed again, and its attempts are listed oldest first.
        expect((await store.claimDueDeliveries(T0 + 1_000_000, T0 + 2_000_000, 10)).map((c) => c.id)).not.toContain(d.id);
        expect((await store.listDeliveryAttempts([d.id])).map((a) => [a.deliveryId, a.status, a.durationMs])).toEqual([
          [d.id, 503, 4],
          [d.id, 200, 2],
        ]);
        expect(await store.listDeliveryAttempts([])).toEqual([]);
      });

      it("an expired lease is claimable again, earliest due first, at most `limit`", async () => {
        const rows = await store.queueAlertDeliveries([delivery({ createdAt: T0 + 2 }), delivery({ createdAt: T0 + 1 }), delivery({ createdAt: T0 + 3 })]);
        expect((await store.claimDueDeliveries(T0 + 5, T0 + 100, 2)).map((c) => c.id)).toEqual([rows[1].id, rows[0].id]);
        expect((await store.claimDueDeliveries(T0 + 100, T0 + 200, 5)).map((c) => c.id)).toEqual([rows[1].id, rows[0].id, rows[2].id]);
        expect(await store.earliestDeliveryAt()).toBe(T0 + 200);
      });

      it("lists deliveries newest first by state, destination and cursor, and sums each destination's health", async () => {
        const rows = await store.queueAlertDeliveries([
          delivery({ destinationId: "a" }),
          delivery({ destinationId: "b" }),
          delivery({ destinationId: "a" }),
          delivery({ destinationId: "a", throttleKey: "k", throttleWindowMs: 1 }),
        ]);
        const [lead] = await store.claimDueDeliveries(T0, T0 + 10, 1);
        await store.recordDeliveryAttempt(lead.id, T0 + 10, { attempt: { at: T0 + 5, status: null, error: "ECONNREFUSED", durationMs: 1 }, state: "DEAD", nextAttemptAt: null });
        const [next] = await store.claimDueDeliveries(T0, T0 + 20, 1);
        await store.recordDeliveryAttempt(next.id, T0 + 20, { attempt: { at: T0 + 7, status: 204, error: null, durationMs: 1 }, state: "DELIVERED", nextAttemptAt: null });
        expect((await store.listDeliveries({ limit: 10, destinationId: "a" })).map((d) => d.id)).toEqual([rows[3].id, rows[2].id, rows[0].id]);
        expect((await store.listDeliveries({ limit: 10, state: "DEAD" })).map((d) => d.id)).toEqual([lead.id]);
        expect((await store.listDeliveries({ limit: 2, before: rows[3].id })).map((d) => d.id)).toEqual([rows[2].id, rows[1].id]);
        expect(await store.destinationHealth()).toEqual([
          { destinationId: "a", pending: 2, delivered: 0, dead: 1, throttled: 0, lastSuccessAt: null, lastFailureAt: T0 + 5 },
          { destinationId: "b", pending: 0, delivered: 1, dead: 0, throttled: 0, lastSuccessAt: T0 + 7, lastFailureAt: null },
        ]);
      });

      it("answers a run's previous finished state, a flow's recent durations and the active runs per flow", async () => {
        const f = await addFlow(store, "c1", "etl");
        const g = await addFlow(store, "c1", "other");
        const ok1 = await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "COMPLETED", startedAt: T0, endedAt: T0 + 100 }));
        const bad = await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "FAILED", startedAt: T0, endedAt: T0 + 5 }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "CANCELLED" }));
        const ok2 = await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "COMPLETED", startedAt: T0 + 10, endedAt: T0 + 310 }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "PENDING" }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "etl", state: "RUNNING", startedAt: T0 }));
        await store.insertRun(newRun({ flowId: g, clientId: "c1", flowName: "other", state: "PENDING" }));
        await store.insertRun(newRun({ flowId: g, clientId: "c1", flowName: "other", state: "PENDING" }));
        expect(await store.previousFinishedRunState(f, ok2)).toBe("FAILED");
        expect(await store.previousFinishedRunState(f, bad)).toBe("COMPLETED");
        expect(await store.previousFinishedRunState(f, ok1)).toBeNull();
        expect(await store.recentRunDurations(f, Number.MAX_SAFE_INTEGER, 10)).toEqual([300, 100]);
        expect(await store.recentRunDurations(f, Number.MAX_SAFE_INTEGER, 1)).toEqual([300]);
        expect(await store.recentRunDurations(f, ok2, 10)).toEqual([100]);
        expect(await store.countActiveRuns()).toEqual([
          { flowName: "etl", state: "PENDING", count: 1 },
          { flowName: "etl", state: "RUNNING", count: 1 },
          { flowName: "other", state: "PENDING", count: 2 },
        ]);
      });
    });

    describe("flow run summary", () => {
      it("counts a flow's runs per state in the window, ranks the COMPLETED durations and lists the newest runs oldest first", async () => {
        const f = await addFlow(store, "c1", "etl");
        const g = await addFlow(store, "c1", "other");
        const run = (state: RunState, createdAt: number, duration: number | null) =>
          store.insertRun(
            newRun({ flowId: f, clientId: "c1", flowName: "etl", state, createdAt, startedAt: duration === null ? null : createdAt, endedAt: duration === null ? null : createdAt + duration }),
          );
        await run("COMPLETED", T0 - 1, 9_999); // before the window
        const a = await run("COMPLETED", T0, 400);
        const b = await run("FAILED", T0 + 1, 50);
        const c = await run("COMPLETED", T0 + 2, 100);
        const d = await run("COMPLETED", T0 + 3, 300);
        const e = await run("RUNNING", T0 + 4, null);
        await store.insertRun(newRun({ flowId: g, clientId: "c1", flowName: "other", state: "FAILED", createdAt: T0 + 5 }));
        expect(await store.flowRunSummary(f, T0, 3)).toEqual({
          counts: { COMPLETED: 3, FAILED: 1, RUNNING: 1 },
          p50Ms: 300,
          p95Ms: 400,
          samples: 3,
          recent: [
            { id: c, state: "COMPLETED", createdAt: T0 + 2, startedAt: T0 + 2, endedAt: T0 + 102 },
            { id: d, state: "COMPLETED", createdAt: T0 + 3, startedAt: T0 + 3, endedAt: T0 + 303 },
            { id: e, state: "RUNNING", createdAt: T0 + 4, startedAt: null, endedAt: null },
          ],
        });
        expect((await store.flowRunSummary(f, T0, 10)).recent.map((r) => r.id)).toEqual([a, b, c, d, e]);
        expect(await store.flowRunSummary(f, T0 + 100, 10)).toEqual({ counts: {}, p50Ms: null, p95Ms: null, samples: 0, recent: [] });
        expect((await store.flowRunSummary(f, T0 + 3, 10)).p50Ms).toBe(300);
      });

      it("runCounts: running and pending now, failed since a time, pending past their due time", async () => {
        const f = await addFlow(store, "c1", "strip");
        const add = (state: NewRun["state"], createdAt: number, scheduledFor: number | null = null) =>
          store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "strip", state, createdAt, scheduledFor }));
        await add("RUNNING", T0);
        await add("RUNNING", T0 + 10);
        await add("FAILED", T0 - 1); // before the window
        await add("FAILED", T0);
        await add("FAILED", T0 + 20);
        await add("COMPLETED", T0 + 20);
        await add("PENDING", T0); // due at creation: late when dueBefore is past it
        await add("PENDING", T0 - 100, T0 + 1000); // scheduled later: not late
        await add("PENDING", T0 + 50);
        expect(await store.runCounts(T0, T0 + 10)).toEqual({ running: 2, pending: 3, failedSince: 2, late: 1 });
        expect(await store.runCounts(T0 + 21, T0)).toEqual({ running: 2, pending: 3, failedSince: 0, late: 0 });
        expect(await store.runCounts(T0 - 1, T0 + 2000)).toEqual({ running: 2, pending: 3, failedSince: 3, late: 3 });
      });
    });

    describe("clients and workers", () => {
      it("upserts clients by id, lists them by id and records their last contact", async () => {
        await store.upsertClient({ id: "c1", name: "Renamed", sensitivity: "conservative" });
        await store.touchClient("c2", T0 + 5);
        expect(await store.listClients()).toEqual([
          { id: "c1", name: "Renamed", sensitivity: "conservative", lastSeenAt: null },
          { id: "c2", name: "Client two", sensitivity: "aggressive", lastSeenAt: T0 + 5 },
        ]);
      });

      it("inserts, reads, touches (forward only) and lists workers newest seen first", async () => {
        await addWorker(store, "w1", "c1", T0);
        await addWorker(store, "w2", "c1", T0 + 10);
        await addWorker(store, "w3", "c2", T0 + 20);
        expect(await store.getWorker("w1")).toEqual({ id: "w1", clientId: "c1", hostname: "host", pid: 42, sdkVersion: "1.0", registeredAt: T0, lastSeenAt: T0 });
        expect(await store.getWorker("nope")).toBeUndefined();
        await store.touchWorker("w1", T0 + 30);
        await store.touchWorker("w1", T0 + 1); // older: ignored
        expect((await store.getWorker("w1"))!.lastSeenAt).toBe(T0 + 30);
        expect((await store.listWorkers()).map((w) => w.id)).toEqual(["w1", "w3", "w2"]);
        expect((await store.listWorkers("c1")).map((w) => w.id)).toEqual(["w1", "w2"]);
      });

      it("deleteWorkersSeenBefore forgets old workers and their routing rows", async () => {
        const f = await addFlow(store, "c1", "f");
        await addWorker(store, "old", "c1", T0);
        await addWorker(store, "new", "c1", T0 + 100);
        await store.replaceWorkerFlows("old", [{ flowId: f, version: "v1" }]);
        await store.replaceWorkerFlows("new", [{ flowId: f, version: "v1" }]);
        expect(await store.deleteWorkersSeenBefore(T0 + 50)).toEqual(["old"]);
        expect(await store.getWorker("old")).toBeUndefined();
        expect(await store.listFlowsOfWorker("old")).toEqual([]);
        expect(await store.listWorkerFlows([f])).toEqual([{ workerId: "new", flowId: f, version: "v1" }]);
      });

      it("deleteWorker removes one worker and its routing rows, and says whether it was there", async () => {
        const f = await addFlow(store, "c1", "f");
        await addWorker(store, "leaving", "c1");
        await addWorker(store, "staying", "c1");
        await store.replaceWorkerFlows("leaving", [{ flowId: f, version: "v1" }]);
        await store.replaceWorkerFlows("staying", [{ flowId: f, version: "v1" }]);
        expect(await store.deleteWorker("leaving")).toBe(true);
        expect(await store.deleteWorker("leaving")).toBe(false);
        expect(await store.getWorker("leaving")).toBeUndefined();
        expect((await store.listWorkers("c1")).map((w) => w.id)).toEqual(["staying"]);
        expect(await store.listWorkerFlows([f])).toEqual([{ workerId: "staying", flowId: f, version: "v1" }]);
      });

      it("replaceWorkerFlows replaces what a worker registered before", async () => {
        const f1 = await addFlow(store, "c1", "f1");
        const f2 = await addFlow(store, "c1", "f2");
        await addWorker(store, "w", "c1");
        await store.replaceWorkerFlows("w", [
          { flowId: f1, version: "a" },
          { flowId: f2, version: "b" },
        ]);
        await store.replaceWorkerFlows("w", [{ flowId: f2, version: "c" }]);
        expect(await store.listFlowsOfWorker("w")).toEqual([{ workerId: "w", flowId: f2, version: "c" }]);
        expect(await store.listWorkerFlows([f1])).toEqual([]);
        expect(await store.listWorkerFlows([])).toEqual([]);
      });
    });

    describe("flows", () => {
      it("upserts by (client, name): same id, fields replaced", async () => {
        const id = await addFlow(store, "c1", "etl");
        const again = await store.upsertFlow({
          clientId: "c1",
          name: "etl",
          description: "d",
          tags: { team: "data" },
          parameters: [{ name: "n", type: "int", required: true }],
          version: "v2",
          maxActiveRuns: 3,
          registeredAt: T0 + 9,
          updatedAt: T0 + 9,
        });
        expect(again).toBe(id);
        const other = await addFlow(store, "c2", "etl");
        expect(other).not.toBe(id);
        expect(await store.getFlow(id)).toEqual({
          id,
          clientId: "c1",
          name: "etl",
          description: "d",
          tags: { team: "data" },
          parameters: [{ name: "n", type: "int", required: true }],
          version: "v2",
          maxActiveRuns: 3,
          registeredAt: T0,
          updatedAt: T0 + 9,
        });
        expect(await store.getFlow(999_999)).toBeUndefined();
        expect(await store.countFlowsByClient()).toEqual(new Map([["c1", 1], ["c2", 1]]));
      });

      it("lists flows by name (substring, case-insensitive) and pages them by (name, id)", async () => {
        const names = ["beta", "Alpha", "alpha", "alphabet", "Gamma", "beta", "zeta", "ALPHA-etl"];
        const ids: { name: string; id: number }[] = [];
        for (const [i, n] of names.entries()) ids.push({ name: n, id: await addFlow(store, i % 2 ? "c1" : "c2", n) });
        // Byte order, like SQLite: upper case before lower case.
        const all = await store.listFlows();
        const sorted = [...all].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
        expect(all.map((f) => f.id)).toEqual(sorted.map((f) => f.id));
        expect(all.map((f) => f.name)).toEqual(["ALPHA-etl", "Alpha", "Gamma", "alpha", "alphabet", "beta", "beta", "zeta"]);
        expect((await store.listFlows("ALPHA")).map((f) => f.name)).toEqual(["ALPHA-etl", "Alpha", "alpha", "alphabet"]);
        const paged: number[] = [];
        let after: { name: string; id: number } | undefined;
        for (;;) {
          const page = await store.listFlowsPage({ limit: 3, after });
          expect(page.length).toBeLessThanOrEqual(3);
          if (!page.length) break;
          paged.push(...page.map((f) => f.id));
          after = { name: page[page.length - 1].name, id: page[page.length - 1].id };
        }
        expect(paged).toEqual(all.map((f) => f.id));
        const named = await store.listFlowsPage({ name: "alp", limit: 2 });
        expect(named.map((f) => f.name)).toEqual(["ALPHA-etl", "Alpha"]);
        const next = await store.listFlowsPage({ name: "alp", limit: 10, after: { name: named[1].name, id: named[1].id } });
        expect(next.map((f) => f.name)).toEqual(["alpha", "alphabet"]);
      });

      it("replaces flow tasks and lists them by flow and position; lastRunsOfFlows gives each flow's newest run", async () => {
        const f1 = await addFlow(store, "c1", "f1");
        const f2 = await addFlow(store, "c1", "f2");
        await store.replaceFlowTasks(f1, [
          { position: 1, name: "b", estimatedTime: 20, description: "" },
          { position: 0, name: "a", estimatedTime: null, description: "first" },
        ]);
        await store.replaceFlowTasks(f2, [{ position: 0, name: "x", estimatedTime: 5, description: "" }]);
        await store.replaceFlowTasks(f2, [{ position: 0, name: "y", estimatedTime: 6, description: "" }]);
        expect((await store.listFlowTasks([f2, f1])).map((t) => [t.flowId, t.position, t.name])).toEqual([
          [f1, 0, "a"],
          [f1, 1, "b"],
          [f2, 0, "y"],
        ]);
        expect(await store.listFlowTasks([f1])).toEqual([
          { flowId: f1, position: 0, name: "a", estimatedTime: null, description: "first" },
          { flowId: f1, position: 1, name: "b", estimatedTime: 20, description: "" },
        ]);
        expect(await store.listFlowTasks([])).toEqual([]);
        await store.insertRun(newRun({ flowId: f1, clientId: "c1" }));
        const newest = await store.insertRun(newRun({ flowId: f1, clientId: "c1" }));
        const f3 = await addFlow(store, "c1", "f3");
        expect((await store.lastRunsOfFlows([f1, f2, f3])).map((r) => r.id)).toEqual([newest]);
      });
    });

    describe("runs and claims", () => {
      it("inserts and reads a run with every field", async () => {
        const f = await addFlow(store, "c1", "f");
        const run = newRun({ flowId: f, clientId: "c1", flowName: "f", parameters: { n: 3, s: "x", l: [1, 2] }, tags: { env: "prod" }, progress: 0.25, lastSeq: 7, error: "e" });
        const id = await store.insertRun(run);
        expect(await store.getRun(id)).toEqual({ id, ...run });
        expect(await store.getRun(id + 1000)).toBeUndefined();
        await store.updateRun(id, { state: "RUNNING", workerId: "w", progress: 0.5, parameters: { n: 4 } });
        expect(await store.getRun(id)).toMatchObject({ state: "RUNNING", workerId: "w", progress: 0.5, parameters: { n: 4 }, lastSeq: 7 });
        expect((await store.listRunsInState("RUNNING")).map((r) => r.id)).toEqual([id]);
      });

      it("claims only runs of flows and versions the worker registered, oldest first, at most max", async () => {
        const f1 = await addFlow(store, "c1", "f1");
        const f2 = await addFlow(store, "c1", "f2");
        const fc2 = await addFlow(store, "c2", "g");
        await addWorker(store, "w", "c1");
        await store.replaceWorkerFlows("w", [{ flowId: f1, version: "v1" }]);
        const a = await store.insertRun(newRun({ flowId: f1, clientId: "c1" }));
        const otherVersion = await store.insertRun(newRun({ flowId: f1, clientId: "c1", flowVersion: "v2" }));
        const otherFlow = await store.insertRun(newRun({ flowId: f2, clientId: "c1" }));
        const b = await store.insertRun(newRun({ flowId: f1, clientId: "c1" }));
        const running = await store.insertRun(newRun({ flowId: f1, clientId: "c1", state: "RUNNING" }));
        await store.insertRun(newRun({ flowId: fc2, clientId: "c2" }));
        const c = await store.insertRun(newRun({ flowId: f1, clientId: "c1" }));

        const first = await store.claimPendingRuns("c1", "w", 2, T0 + 1);
        expect(first.map((r) => r.id)).toEqual([a, b]);
        for (const r of first) expect(r).toMatchObject({ state: "RUNNING", workerId: "w", claimedAt: T0 + 1, startedAt: T0 + 1, unreportedBeats: 0 });
        expect((await store.claimPendingRuns("c1", "w", 5, T0 + 2)).map((r) => r.id)).toEqual([c]);
        expect(await store.claimPendingRuns("c1", "w", 5, T0 + 3)).toEqual([]);
        expect((await store.getRun(otherVersion))!.state).toBe("PENDING");
        expect((await store.getRun(otherFlow))!.state).toBe("PENDING");
        expect((await store.getRun(running))!.workerId).toBeNull();
        expect((await store.listActiveRunsOfWorker("w")).map((r) => r.id)).toEqual([a, b, c]);
        expect((await store.listRunsOfWorker("w", [a, c, otherFlow])).map((r) => r.id).sort((x, y) => x - y)).toEqual([a, c]);
        expect(await store.listRunsOfWorker("w", [])).toEqual([]);
      });

      it("gives each run to one claimer: 20 concurrent claims against 50 runs", async () => {
        const f = await addFlow(store, "c1", "f");
        const workers = Array.from({ length: 20 }, (_, i) => `w${i}`);
        for (const w of workers) {
          await addWorker(store, w, "c1");
          await store.replaceWorkerFlows(w, [{ flowId: f, version: "v1" }]);
        }
        const ids: number[] = [];
        for (let i = 0; i < 50; i++) ids.push(await store.insertRun(newRun({ flowId: f, clientId: "c1", createdAt: T0 + i })));
        const owner = new Map<number, string>();
        // Rounds of concurrent claims until nothing is left: no run twice, none lost.
        for (let round = 0; owner.size < 50 && round < 50; round++) {
          const results = await Promise.all(workers.map((w) => store.claimPendingRuns("c1", w, 3, T0 + 100)));
          results.forEach((runs, i) => {
            for (const r of runs) {
              expect(owner.has(r.id)).toBe(false);
              owner.set(r.id, workers[i]);
              expect(r.workerId).toBe(workers[i]);
            }
            expect(runs.map((r) => r.id)).toEqual([...runs.map((r) => r.id)].sort((x, y) => x - y));
          });
        }
        expect([...owner.keys()].sort((x, y) => x - y)).toEqual(ids);
        for (const id of ids) expect((await store.getRun(id))!.workerId).toBe(owner.get(id));
      });

      it("claims a limited flow's runs only up to its max_active_runs, also under 20 concurrent claimers", async () => {
        const f = await store.upsertFlow({ clientId: "c1", name: "lim", description: "", tags: {}, parameters: [], version: "v1", maxActiveRuns: 2, registeredAt: T0, updatedAt: T0 });
        const free = await addFlow(store, "c1", "free");
        const workers = Array.from({ length: 20 }, (_, i) => `w${i}`);
        for (const w of workers) {
          await addWorker(store, w, "c1");
          await store.replaceWorkerFlows(w, [{ flowId: f, version: "v1" }, { flowId: free, version: "v1" }]);
        }
        const limited: number[] = [];
        for (let i = 0; i < 6; i++) limited.push(await store.insertRun(newRun({ flowId: f, clientId: "c1", limited: true })));
        const unlimited: number[] = [];
        for (let i = 0; i < 4; i++) unlimited.push(await store.insertRun(newRun({ flowId: free, clientId: "c1" })));
        const claimed = (await Promise.all(workers.map((w) => store.claimPendingRuns("c1", w, 5, T0 + 1)))).flat().map((r) => r.id);
        // Two of the limited flow (its oldest), every unlimited one, nothing twice.
        expect(claimed.filter((id) => limited.includes(id)).sort((a, b) => a - b)).toEqual(limited.slice(0, 2));
        expect(claimed.filter((id) => unlimited.includes(id)).sort((a, b) => a - b)).toEqual(unlimited);
        expect(new Set(claimed).size).toBe(claimed.length);
        expect(await store.claimPendingRuns("c1", "w0", 5, T0 + 2)).toEqual([]);
        expect(await store.countRunningRuns(f)).toBe(2);
        // A slot frees when a run ends: the next oldest, one.
        await store.updateRunIf(limited[0], "RUNNING", { state: "COMPLETED", endedAt: T0 + 3 });
        expect((await store.claimPendingRuns("c1", "w1", 5, T0 + 4)).map((r) => r.id)).toEqual([limited[2]]);
      });

      it("claims a serial run only once every earlier run of its schedule has finished", async () => {
        const f = await addFlow(store, "c1", "f");
        await addWorker(store, "w", "c1");
        await store.replaceWorkerFlows("w", [{ flowId: f, version: "v1" }]);
        const one = await store.insertScheduledRun(newRun({ flowId: f, clientId: "c1", scheduleId: 7, scheduledFor: T0, serial: true }));
        const two = await store.insertScheduledRun(newRun({ flowId: f, clientId: "c1", scheduleId: 7, scheduledFor: T0 + 60_000, serial: true }));
        expect(await store.insertScheduledRun(newRun({ flowId: f, clientId: "c1", scheduleId: 7, scheduledFor: T0 + 60_000, serial: true }))).toBeNull();
        expect((await store.claimPendingRuns("c1", "w", 5, T0 + 1)).map((r) => r.id)).toEqual([one]);
        expect(await store.claimPendingRuns("c1", "w", 5, T0 + 2)).toEqual([]);
        await store.updateRunIf(one!, "RUNNING", { state: "FAILED", endedAt: T0 + 3 });
        expect((await store.claimPendingRuns("c1", "w", 5, T0 + 4)).map((r) => r.id)).toEqual([two]);
        expect(await store.listScheduledFor(7, T0, T0 + 60_000)).toEqual([T0, T0 + 60_000]);
        expect((await store.listActiveRunsOfSchedule(7)).map((r) => r.id)).toEqual([two]);
      });

      it("lists the runs that retry a run, oldest first", async () => {
        const f = await addFlow(store, "c1", "f");
        const first = await store.insertRun(newRun({ flowId: f, clientId: "c1", state: "FAILED" }));
        const a = await store.insertRun(newRun({ flowId: f, clientId: "c1", retryOf: first }));
        const b = await store.insertRun(newRun({ flowId: f, clientId: "c1", retryOf: first }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1", retryOf: a }));
        expect(await store.listRetriesOf(first)).toEqual([a, b]);
        expect(await store.listRetriesOf(b)).toEqual([]);
        expect((await store.getRun(a))!.retryOf).toBe(first);
      });

      it("listChildRuns lists a run's subflows oldest first; listRuns filters by parentRunId", async () => {
        const f = await addFlow(store, "c1", "f");
        const parent = await store.insertRun(newRun({ flowId: f, clientId: "c1", state: "RUNNING" }));
        const other = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const a = await store.insertRun(newRun({ flowId: f, clientId: "c1", trigger: "subflow", parentRunId: parent, parentCall: 0 }));
        const b = await store.insertRun(newRun({ flowId: f, clientId: "c1", trigger: "subflow", parentRunId: parent, parentCall: 2 }));
        const grandchild = await store.insertRun(newRun({ flowId: f, clientId: "c1", trigger: "subflow", parentRunId: a, parentCall: 1 }));
        const children = await store.listChildRuns(parent);
        expect(children.map((r) => [r.id, r.parentRunId, r.parentCall, r.trigger])).toEqual([
          [a, parent, 0, "subflow"],
          [b, parent, 2, "subflow"],
        ]);
        expect((await store.listChildRuns(a)).map((r) => r.id)).toEqual([grandchild]);
        expect(await store.listChildRuns(other)).toEqual([]);
        expect((await store.getChildRun(parent, 2))?.id).toBe(b);
        expect((await store.getChildRun(a, 1))?.id).toBe(grandchild);
        expect(await store.getChildRun(parent, 1)).toBeNull();
        expect(await store.getChildRun(other, 0)).toBeNull();
        expect((await store.listRuns({ state: [], tag: [], limit: 10, parentRunId: parent })).runs.map((r) => r.id)).toEqual([b, a]);
        // Combined with another driver (state) and paged by the cursor.
        const page = await store.listRuns({ state: ["PENDING"], tag: [], limit: 1, parentRunId: parent });
        expect(page.runs.map((r) => r.id)).toEqual([b]);
        expect((await store.listRuns({ state: ["PENDING"], tag: [], limit: 1, parentRunId: parent, cursor: page.nextCursor! })).runs.map((r) => r.id)).toEqual([a]);
        expect((await store.listRuns({ state: [], tag: [], limit: 10, parentRunId: other })).runs).toEqual([]);
        expect((await store.getRun(grandchild))!.parentRunId).toBe(a);
      });

      it("updateRunIf applies once, only from the given state", async () => {
        const f = await addFlow(store, "c1", "f");
        const id = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.updateRunIf(id, "PENDING", { state: "FAILED", error: `e${i}` })));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.updateRunIf(id, "PENDING", { state: "CANCELLED" })).toBe(false);
        expect(await store.updateRunIf(id, "FAILED", { endedAt: T0 + 1 })).toBe(true);
        const run = (await store.getRun(id))!;
        expect(run.state).toBe("FAILED");
        expect(run.error).toBe(`e${results.indexOf(true)}`);
        expect(run.endedAt).toBe(T0 + 1);
      });

      it("getRunForUpdate serialises read-modify-write transactions on one run (no lost update)", async () => {
        const f = await addFlow(store, "c1", "f");
        const id = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const bump = () =>
          store.transaction(async (tx) => {
            const run = (await tx.getRunForUpdate(id))!;
            // Other work of the batch between the read and the write.
            await tx.listTaskRuns(id);
            await tx.getRun(id);
            await tx.updateRun(id, { lastSeq: run.lastSeq + 1, progress: (run.lastSeq + 1) / 100 });
            return run.lastSeq;
          });
        const seen = await Promise.all(Array.from({ length: 10 }, bump));
        expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect((await store.getRun(id))!.lastSeq).toBe(10);
      });

      it("rolls a transaction back when its body throws, after several awaited operations", async () => {
        const f = await addFlow(store, "c1", "f");
        const kept = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        let inserted = 0;
        await expect(
          store.transaction(async (tx) => {
            inserted = await tx.insertRun(newRun({ flowId: f, clientId: "c1" }));
            await tx.insertRunTags(inserted, { env: "prod" });
            await tx.insertTaskRuns([newTaskRun({ runId: inserted, flowId: f })]);
            await tx.insertLogs([{ runId: inserted, taskRunId: null, seq: 1, level: "INFO", message: "m", ts: T0 }]);
            await tx.updateRun(kept, { state: "CANCELLED" });
            await tx.recordTaskCalls(f, "c1", [{ taskName: "task", calls: 3 }], 10, T0);
            expect((await tx.getRun(inserted))!.id).toBe(inserted);
            throw new Error("boom");
          }),
        ).rejects.toThrow("boom");
        expect(inserted).toBeGreaterThan(0);
        expect(await store.getRun(inserted)).toBeUndefined();
        expect((await store.getRun(kept))!.state).toBe("PENDING");
        expect(await store.getTaskStat(f, "task")).toBeUndefined();
        expect((await store.listRuns({ state: [], tag: [{ key: "env", value: "prod" }], limit: 10 })).runs).toEqual([]);
        // The store still works after the rollback, and a transaction's result is returned.
        expect(await store.transaction(async (tx) => (await tx.getRun(kept))!.id)).toBe(kept);
      });
    });

    describe("history (listRuns)", () => {
      const STATES: RunState[] = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];
      let runs: RunRecord[];
      let flowNames: Map<number, string>;
      let flowIds: number[];

      beforeEach(async () => {
        flowIds = [await addFlow(store, "c1", "alpha-etl"), await addFlow(store, "c1", "Beta"), await addFlow(store, "c2", "ALPHAbet")];
        flowNames = new Map([
          [flowIds[0], "alpha-etl"],
          [flowIds[1], "Beta"],
          [flowIds[2], "ALPHAbet"],
        ]);
        runs = [];
        for (let i = 0; i < 60; i++) {
          const flowId = flowIds[i % 3];
          const tags: Record<string, string> = {};
          if (i % 2) tags.env = "prod";
          else if (i % 5) tags.env = "dev";
          if (i % 3 === 1) tags.team = "a";
          if (i % 7 === 0) tags.team = "b";
          const run = newRun({ flowId, clientId: flowId === flowIds[2] ? "c2" : "c1", flowName: flowNames.get(flowId)!, state: STATES[(i * 7) % 5], tags, createdAt: T0 + i * 1000 });
          const id = await store.insertRun(run);
          await store.insertRunTags(id, tags);
          runs.push({ id, ...run });
        }
      });

      const brute = (q: Omit<RunFilter, "limit" | "cursor">) =>
        runs
          .filter(
            (r) =>
              (!q.state.length || q.state.includes(r.state)) &&
              (!q.flow || flowNames.get(r.flowId)!.toLowerCase().includes(q.flow.toLowerCase())) &&
              (!q.flowId || String(r.flowId) === q.flowId) &&
              (!q.client || r.clientId === q.client) &&
              q.tag.every((t) => r.tags[t.key] === t.value) &&
              (q.from === undefined || r.createdAt >= q.from) &&
              (q.to === undefined || r.createdAt <= q.to),
          )
          .map((r) => r.id)
          .sort((a, b) => b - a);

      async function pages(q: Omit<RunFilter, "limit" | "cursor">, limit: number): Promise<number[]> {
        const out: number[] = [];
        let cursor: string | undefined;
        for (let n = 0; n < 100; n++) {
          const page = await store.listRuns({ ...q, limit, cursor });
          expect(page.runs.length).toBeLessThanOrEqual(limit);
          out.push(...page.runs.map((r) => r.id));
          if (!page.nextCursor) break;
          expect(page.runs).toHaveLength(limit);
          cursor = page.nextCursor;
        }
        return out;
      }

      const cases: [string, (ids: number[]) => Omit<RunFilter, "limit" | "cursor">][] = [
        ["no filter", () => ({ state: [], tag: [] })],
        ["one state", () => ({ state: ["FAILED"], tag: [] })],
        ["two states", () => ({ state: ["COMPLETED", "PENDING"], tag: [] })],
        ["flow substring, any case", () => ({ state: [], tag: [], flow: "ALPHA" })],
        ["flow substring matching nothing", () => ({ state: [], tag: [], flow: "zzz" })],
        ["flow id", (ids) => ({ state: [], tag: [], flowId: String(ids[1]) })],
        ["flow id and a substring it does not match", (ids) => ({ state: [], tag: [], flowId: String(ids[1]), flow: "alpha" })],
        ["client", () => ({ state: [], tag: [], client: "c2" })],
        ["one tag", () => ({ state: [], tag: [{ key: "env", value: "prod" }] })],
        ["two tags, all must match", () => ({ state: [], tag: [{ key: "env", value: "prod" }, { key: "team", value: "a" }] })],
        ["from and to", () => ({ state: [], tag: [], from: T0 + 10_000, to: T0 + 40_500 })],
        ["from after every run", () => ({ state: [], tag: [], from: T0 + 10_000_000 })],
        ["everything at once", (ids) => ({ state: ["RUNNING", "FAILED", "COMPLETED"], tag: [{ key: "env", value: "prod" }], flow: "a", client: "c1", flowId: String(ids[0]), from: T0 + 3000, to: T0 + 55_000 })],
        ["state, client and tag", () => ({ state: ["COMPLETED", "CANCELLED", "PENDING"], client: "c1", tag: [{ key: "env", value: "dev" }] })],
      ];
      for (const [label, make] of cases) {
        it(`filters like a brute-force scan, newest first, paged without duplicates: ${label}`, async () => {
          const q = make(flowIds);
          const expected = brute(q);
          expect(await pages(q, 7)).toEqual(expected);
          const one = await store.listRuns({ ...q, limit: 100 });
          expect(one.runs.map((r) => r.id)).toEqual(expected);
          expect(one.nextCursor).toBeNull();
        });
      }

      it("returns whole records and honours limit and cursor", async () => {
        const page = await store.listRuns({ state: [], tag: [], limit: 5 });
        expect(page.runs).toEqual([...runs].reverse().slice(0, 5));
        expect(page.nextCursor).toBe(String(page.runs[4].id));
        const next = await store.listRuns({ state: [], tag: [], limit: 5, cursor: page.nextCursor! });
        expect(next.runs.map((r) => r.id)).toEqual([...runs].reverse().slice(5, 10).map((r) => r.id));
        const exact = await store.listRuns({ state: [], tag: [], limit: 60 });
        expect(exact.runs).toHaveLength(60);
        expect(exact.nextCursor).toBeNull();
      });
    });

    describe("task runs, logs and statistics", () => {
      it("inserts, lists (by position), updates task runs; lists running ones; counts warnings per run", async () => {
        const f = await addFlow(store, "c1", "f");
        const r1 = await store.insertRun(newRun({ flowId: f, clientId: "c1", workerId: "w" }));
        const r2 = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const ids = await store.insertTaskRuns([newTaskRun({ runId: r1, flowId: f, position: 1, name: "b" }), newTaskRun({ runId: r1, flowId: f, position: 0, name: "a", estimatedTime: 300 })]);
        expect(await store.insertTaskRuns([])).toEqual([]);
        const t = await store.insertTaskRun(newTaskRun({ runId: r2, flowId: f, position: 0, name: "c", state: "RUNNING", stalled: true }));
        const list = await store.listTaskRuns(r1);
        expect(list.map((x) => [x.position, x.name, x.estimatedTime])).toEqual([
          [0, "a", 300],
          [1, "b", null],
        ]);
        // The ids come back in the order the rows were given.
        expect(ids).toEqual([list[1].id, list[0].id]);
        expect(list[0]).toEqual({ id: list[0].id, ...newTaskRun({ runId: r1, flowId: f, position: 0, name: "a", estimatedTime: 300 }) });
        await store.updateTaskRun(list[1].id, { state: "RUNNING", warning: "SLOW", zScore: 2.5, threshold: 2, startedAt: T0, reportedProgress: 0.5 });
        await store.updateTaskRun(list[0].id, { warning: "CRITICAL" });
        expect((await store.listTaskRuns(r1))[1]).toMatchObject({ state: "RUNNING", warning: "SLOW", zScore: 2.5, threshold: 2, startedAt: T0, reportedProgress: 0.5, stalled: false });
        const running = await store.listRunningTaskRuns();
        expect(running.map((x) => [x.taskRun.id, x.clientId, x.workerId]).sort()).toEqual(
          [
            [list[1].id, "c1", "w"],
            [t, "c1", null],
          ].sort(),
        );
        expect(await store.countWarnings([r1, r2, 999])).toEqual(
          new Map([
            [r1, { warning: "CRITICAL", stalled: false }],
            [r2, { warning: null, stalled: true }],
          ]),
        );
        expect(await store.countWarnings([])).toEqual(new Map());
      });

      it("updateTaskRuns writes a batch's changes to several task runs at once, and only those fields", async () => {
        const f = await addFlow(store, "c1", "f");
        const r = await store.insertRun(newRun({ flowId: f, clientId: "c1", workerId: "w" }));
        await store.insertTaskRuns([0, 1, 2].map((i) => newTaskRun({ runId: r, flowId: f, position: i, name: `t${i}`, estimatedTime: 100 })));
        const [a, b, c] = await store.listTaskRuns(r);
        const a2 = { ...a, callIndex: 0, state: "COMPLETED" as const, startedAt: T0, attemptStartedAt: T0, endedAt: T0 + 40, durationMs: 40, reportedProgress: 1, progressChangedAt: T0 + 1, warning: "SLOW" as const, zScore: 3.25, threshold: 2.5, attempt: 2 };
        const b2 = { ...b, callIndex: 1, state: "FAILED" as const, startedAt: T0 + 41, endedAt: T0 + 50, durationMs: 9, error: "boom", stalled: true, name: "renamed", weight: 7 };
        await store.updateTaskRuns([b2, a2]);
        const after = await store.listTaskRuns(r);
        expect(after[0]).toEqual(a2);
        // Identity and weight are not a batch's to change.
        expect(after[1]).toEqual({ ...b2, name: "t1", weight: b.weight });
        expect(after[2]).toEqual(c);
        await store.updateTaskRuns([{ ...c, state: "RUNNING", startedAt: T0 + 60 }]);
        expect((await store.listTaskRuns(r))[2]).toMatchObject({ state: "RUNNING", startedAt: T0 + 60 });
        await store.updateTaskRuns([]);
      });

      it("insertLogs returns the last id; listLogs filters by after, level and task run", async () => {
        const f = await addFlow(store, "c1", "f");
        const run = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        expect(await store.insertLogs([])).toBe(0);
        const levels = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;
        const rows = Array.from({ length: 12 }, (_, i) => ({ runId: run, taskRunId: i % 3 === 0 ? null : 7, seq: i + 1, level: levels[i % 4], message: `line ${i} ✓`, ts: T0 + i }));
        const last = await store.insertLogs(rows.slice(0, 5));
        const last2 = await store.insertLogs(rows.slice(5));
        const all = await store.listLogs(run, { after: 0, levels: [], limit: 100 });
        expect(all.map((l) => l.message)).toEqual(rows.map((r) => r.message));
        expect(all[4].id).toBe(last);
        expect(all[11].id).toBe(last2);
        expect(all[0]).toEqual({ id: all[0].id, ...rows[0] });
        expect((await store.listLogs(run, { after: last, levels: [], limit: 3 })).map((l) => l.seq)).toEqual([6, 7, 8]);
        expect((await store.listLogs(run, { after: 0, levels: ["ERROR", "WARNING"], limit: 100 })).map((l) => l.seq)).toEqual([3, 4, 7, 8, 11, 12]);
        expect((await store.listLogs(run, { after: 0, taskRunId: 7, levels: ["INFO"], limit: 100 })).map((l) => l.seq)).toEqual([2, 6]);
        expect(await store.listLogs(run + 1, { after: 0, levels: [], limit: 100 })).toEqual([]);
      });

      it("listLogs q: case-insensitive substring, literal (no wildcards), combined with level, task and after", async () => {
        const f = await addFlow(store, "c1", "f");
        const run = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const msgs = ["Fetching Page 1", "fetching page 2", "PAGE done", "100% of_rows", "100 of rows", "nothing"];
        await store.insertLogs(msgs.map((message, i) => ({ runId: run, taskRunId: i % 2 ? 7 : null, seq: i + 1, level: i < 3 ? "INFO" : "ERROR", message, ts: T0 + i })));
        const seqs = async (o: { q: string; levels?: string[]; taskRunId?: number; after?: number }) =>
          (await store.listLogs(run, { after: o.after ?? 0, levels: o.levels ?? [], taskRunId: o.taskRunId, limit: 100, q: o.q })).map((l) => l.seq);
        expect(await seqs({ q: "page" })).toEqual([1, 2, 3]);
        expect(await seqs({ q: "FETCHING PAGE" })).toEqual([1, 2]);
        expect(await seqs({ q: "%" })).toEqual([4]);
        expect(await seqs({ q: "_" })).toEqual([4]);
        expect(await seqs({ q: "page", taskRunId: 7 })).toEqual([2]);
        expect(await seqs({ q: "of", levels: ["ERROR"] })).toEqual([4, 5]);
        const all = await store.listLogs(run, { after: 0, levels: [], limit: 100 });
        expect(await seqs({ q: "page", after: all[0].id })).toEqual([2, 3]);
        expect(await seqs({ q: "absent" })).toEqual([]);
      });

      it("recentDurations: completed durations of one task, newest first, limited", async () => {
        const f = await addFlow(store, "c1", "f");
        const g = await addFlow(store, "c1", "g");
        const run = await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        const rows: NewTaskRun[] = [];
        for (let i = 0; i < 6; i++) rows.push(newTaskRun({ runId: run, flowId: f, position: i, name: "t", state: "COMPLETED", endedAt: T0 + [5, 1, 4, 2, 6, 3][i] * 10, durationMs: 100 + i }));
        rows.push(newTaskRun({ runId: run, flowId: f, position: 6, name: "t", state: "FAILED", endedAt: T0 + 999, durationMs: 1 }));
        rows.push(newTaskRun({ runId: run, flowId: f, position: 7, name: "t", state: "COMPLETED", endedAt: T0 + 998, durationMs: null }));
        rows.push(newTaskRun({ runId: run, flowId: f, position: 8, name: "other", state: "COMPLETED", endedAt: T0 + 997, durationMs: 2 }));
        rows.push(newTaskRun({ runId: run, flowId: g, position: 9, name: "t", state: "COMPLETED", endedAt: T0 + 996, durationMs: 3 }));
        await store.insertTaskRuns(rows);
        expect(await store.recentDurations(f, ["t"], 4)).toEqual(new Map([["t", [104, 100, 102, 105]]]));
        expect(await store.recentDurations(f, ["none", "t", "other"], 100)).toEqual(
          new Map([
            ["none", []],
            ["t", [104, 100, 102, 105, 103, 101]],
            ["other", [2]],
          ]),
        );
        expect(await store.recentDurations(g, ["t"], 100)).toEqual(new Map([["t", [3]]]));
        expect(await store.recentDurations(f, [], 100)).toEqual(new Map());
      });

      it("upsertTaskStats keeps the calls window and a newer window; recordTaskCalls creates rows and keeps `window` values", async () => {
        const f = await addFlow(store, "c1", "f");
        await store.recordTaskCalls(f, "c1", [{ taskName: "t", calls: 2 }], 3, T0);
        expect(await store.getTaskStat(f, "t")).toEqual({ flowId: f, taskName: "t", clientId: "c1", mean: 0, stddev: 0, samples: 0, updatedAt: T0, recent: [], callsRecent: [2], callsMean: 2 });
        for (const n of [4, 6, 8]) await store.recordTaskCalls(f, "c1", [{ taskName: "t", calls: n }], 3, T0 + n);
        expect(await store.getTaskStat(f, "t")).toMatchObject({ callsRecent: [4, 6, 8], callsMean: 6, updatedAt: T0 });
        await store.upsertTaskStats([{ flowId: f, taskName: "t", clientId: "c1", mean: 150.5, stddev: 12.25, samples: 3, updatedAt: T0 + 50, recent: [140, 150, 161.5], callsRecent: [], callsMean: 1 }]);
        expect(await store.getTaskStat(f, "t")).toEqual({ flowId: f, taskName: "t", clientId: "c1", mean: 150.5, stddev: 12.25, samples: 3, updatedAt: T0 + 50, recent: [140, 150, 161.5], callsRecent: [4, 6, 8], callsMean: 6 });
        // A window computed earlier (two refreshes racing) never replaces a newer one.
        // … in the same statement as a new row for another task, which is stored.
        await store.upsertTaskStats([
          { flowId: f, taskName: "t", clientId: "c1", mean: 9, stddev: 0, samples: 1, updatedAt: T0 + 49, recent: [9], callsRecent: [], callsMean: 1 },
          { flowId: f, taskName: "a", clientId: "c1", mean: 1, stddev: 0, samples: 1, updatedAt: T0, recent: [1], callsRecent: [5], callsMean: 5 },
        ]);
        expect(await store.getTaskStat(f, "t")).toMatchObject({ mean: 150.5, samples: 3, updatedAt: T0 + 50 });
        expect((await store.getTaskStat(f, "a"))!.callsRecent).toEqual([5]);
        expect((await store.getTaskStats(f)).map((s) => s.taskName).sort()).toEqual(["a", "t"]);
        expect((await store.listTaskStats([f])).map((s) => s.taskName)).toEqual(["a", "t"]);
        expect(await store.listTaskStats([])).toEqual([]);
        expect(await store.listTaskStats()).toHaveLength(2);
        expect(await store.getTaskStat(f, "missing")).toBeUndefined();
      });

      it("concurrent recordTaskCalls on one task all land", async () => {
        const f = await addFlow(store, "c1", "f");
        // Each call records two tasks, in opposite orders: rows are locked in one order, no deadlock.
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.recordTaskCalls(f, "c1", i % 2 ? [{ taskName: "t", calls: i + 1 }, { taskName: "u", calls: 10 + i }] : [{ taskName: "u", calls: 10 + i }, { taskName: "t", calls: i + 1 }], 100, T0),
          ),
        );
        expect([...(await store.getTaskStat(f, "t"))!.callsRecent].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect([...(await store.getTaskStat(f, "u"))!.callsRecent].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
      });
    });

    describe("artifacts and variables", () => {
      it("inserts, finds by key, updates in place and lists a run's artifacts oldest first", async () => {
        const f = await addFlow(store, "c1", "arts");
        const run = await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "arts", state: "RUNNING", workerId: "w1" }));
        const other = await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "arts" }));
        const md = await store.insertArtifact({ runId: run, taskRunId: null, key: null, type: "markdown", description: "", data: { markdown: "# hi <script>" }, createdAt: T0, updatedAt: T0 });
        const p1 = await store.insertArtifact({ runId: run, taskRunId: 7, key: "load", type: "progress", description: "loading", data: { progress: 10 }, createdAt: T0 + 1, updatedAt: T0 + 1 });
        await store.insertArtifact({ runId: other, taskRunId: null, key: "load", type: "progress", description: "", data: { progress: 99 }, createdAt: T0, updatedAt: T0 });
        expect((await store.findArtifactByKey(run, "load"))!.id).toBe(p1);
        expect(await store.findArtifactByKey(run, "missing")).toBeUndefined();
        expect(await store.updateArtifact(p1, { data: { progress: 55.5 }, updatedAt: T0 + 9 })).toBe(true);
        expect(await store.updateArtifact(999999, { data: {}, updatedAt: T0 })).toBe(false);
        expect(await store.getArtifact(p1)).toEqual({ id: p1, runId: run, taskRunId: 7, key: "load", type: "progress", description: "loading", data: { progress: 55.5 }, createdAt: T0 + 1, updatedAt: T0 + 9 });
        await store.updateArtifact(p1, { data: { progress: 60 }, description: "still loading", updatedAt: T0 + 10 });
        const list = await store.listArtifacts(run);
        expect(list.map((a) => [a.id, a.type, a.description])).toEqual([[md, "markdown", ""], [p1, "progress", "still loading"]]);
        expect(list[0].data).toEqual({ markdown: "# hi <script>" });
        expect(await store.getArtifact(999999)).toBeUndefined();
      });

      it("upserts variables (createdAt kept), lists them by name, deletes them", async () => {
        expect(await store.getVariable("a")).toBeUndefined();
        expect(await store.upsertVariable("b", { nested: [1, "x", null] }, T0)).toEqual({ name: "b", value: { nested: [1, "x", null] }, createdAt: T0, updatedAt: T0 });
        await store.upsertVariable("__proto__", 3, T0);
        expect(await store.upsertVariable("b", "replaced", T0 + 5)).toEqual({ name: "b", value: "replaced", createdAt: T0, updatedAt: T0 + 5 });
        expect((await store.listVariables()).map((v) => [v.name, v.value])).toEqual([["__proto__", 3], ["b", "replaced"]]);
        expect(await store.deleteVariable("b")).toBe(true);
        expect(await store.deleteVariable("b")).toBe(false);
        expect((await store.listVariables()).map((v) => v.name)).toEqual(["__proto__"]);
      });
    });

    describe("concurrency limits and slots", () => {
      async function runs(n: number): Promise<number[]> {
        const f = await addFlow(store, "c1", "slots");
        const ids: number[] = [];
        for (let i = 0; i < n; i++) ids.push(await store.insertRun(newRun({ flowId: f, clientId: "c1", flowName: "slots", state: "RUNNING", workerId: "w1" })));
        return ids;
      }
      const req = (runId: number, call = 0, key = "warehouse") => ({ key, runId, call, taskName: "load", clientId: "c1", workerId: "w1" });

      it("limits: upsert, get, list by key, delete", async () => {
        expect(await store.getConcurrencyLimit("b")).toBeUndefined();
        expect(await store.upsertConcurrencyLimit("b", 2, T0)).toEqual({ key: "b", limit: 2, createdAt: T0, updatedAt: T0 });
        await store.upsertConcurrencyLimit("B", 0, T0 + 1);
        expect(await store.upsertConcurrencyLimit("b", 5, T0 + 2)).toEqual({ key: "b", limit: 5, createdAt: T0, updatedAt: T0 + 2 });
        expect((await store.listConcurrencyLimits()).map((l) => [l.key, l.limit])).toEqual([["B", 0], ["b", 5]]);
        expect(await store.deleteConcurrencyLimit("b")).toBe(true);
        expect(await store.deleteConcurrencyLimit("b")).toBe(false);
        expect((await store.listConcurrencyLimits()).map((l) => l.key)).toEqual(["B"]);
      });

      it("grants FIFO while HELD < limit; a re-sent request returns the same slot", async () => {
        const ids = await runs(4);
        await store.upsertConcurrencyLimit("warehouse", 2, T0);
        const a = await store.requestSlot(req(ids[0]), T0 + 1);
        const b = await store.requestSlot(req(ids[1]), T0 + 2);
        const c = await store.requestSlot(req(ids[2]), T0 + 3);
        const d = await store.requestSlot(req(ids[3]), T0 + 4);
        expect([a.state, b.state, c.state, d.state]).toEqual(["HELD", "HELD", "WAITING", "WAITING"]);
        expect(a).toMatchObject({ key: "warehouse", runId: ids[0], call: 0, taskName: "load", clientId: "c1", workerId: "w1", requestedAt: T0 + 1, acquiredAt: T0 + 1 });
        expect(c.acquiredAt).toBeNull();
        expect(await store.requestSlot(req(ids[2]), T0 + 9)).toEqual(c);
        expect([await store.slotPosition(c.id), await store.slotPosition(d.id), await store.slotPosition(a.id)]).toEqual([1, 2, 0]);
        expect(await store.grantSlots("warehouse", T0 + 5)).toEqual([]);
        expect(await store.deleteSlot(a.id)).toMatchObject({ id: a.id, state: "HELD" });
        expect(await store.deleteSlot(a.id)).toBeUndefined();
        const granted = await store.grantSlots("warehouse", T0 + 6);
        expect(granted.map((g) => [g.id, g.state, g.acquiredAt])).toEqual([[c.id, "HELD", T0 + 6]]);
        expect(await store.slotPosition(d.id)).toBe(1);
        expect((await store.countHeldSlots()).get("warehouse")).toBe(2);
        // A raised limit grants the rest; calls and keys are separate slots.
        await store.upsertConcurrencyLimit("warehouse", 10, T0 + 7);
        expect((await store.grantSlots("warehouse", T0 + 7)).map((g) => g.id)).toEqual([d.id]);
        const other = await store.requestSlot(req(ids[0], 1), T0 + 8);
        expect(other.id).not.toBe(a.id);
        expect(other.state).toBe("HELD");
      });

      it("a key without a limit row is unlimited; a limit of 0 grants nothing", async () => {
        const ids = await runs(3);
        expect((await store.requestSlot(req(ids[0], 0, "free"), T0)).state).toBe("HELD");
        expect((await store.requestSlot(req(ids[1], 0, "free"), T0)).state).toBe("HELD");
        await store.upsertConcurrencyLimit("zero", 0, T0);
        const z = await store.requestSlot(req(ids[2], 0, "zero"), T0);
        expect(z.state).toBe("WAITING");
        expect(await store.grantSlots("zero", T0 + 1)).toEqual([]);
        await store.deleteConcurrencyLimit("zero");
        expect((await store.grantSlots("zero", T0 + 2)).map((g) => g.id)).toEqual([z.id]);
        expect(Object.fromEntries(await store.countHeldSlots())).toEqual({ free: 2, zero: 1 });
      });

      it("lists slots with their run; deletes a run's slots (and with the run)", async () => {
        const ids = await runs(2);
        await store.upsertConcurrencyLimit("k", 1, T0);
        await store.requestSlot(req(ids[0], 0, "k"), T0);
        await store.requestSlot(req(ids[0], 1, "a"), T0);
        await store.requestSlot(req(ids[1], 0, "k"), T0);
        const all = await store.listSlots();
        expect(all.map((s) => [s.key, s.runId, s.state])).toEqual([["a", ids[0], "HELD"], ["k", ids[0], "HELD"], ["k", ids[1], "WAITING"]]);
        expect(all[0]).toMatchObject({ flowName: "slots", runState: "RUNNING", runWorkerId: "w1" });
        expect((await store.listSlots("k")).map((s) => s.runId)).toEqual([ids[0], ids[1]]);
        expect(await store.deleteSlotsOfRun(ids[0])).toEqual(["a", "k"]);
        expect(await store.deleteSlotsOfRun(ids[0])).toEqual([]);
        expect((await store.listSlots()).map((s) => [s.runId, s.state])).toEqual([[ids[1], "WAITING"]]);
      });

      it("two concurrent transactions never over-grant a key", async () => {
        const ids = await runs(12);
        await store.upsertConcurrencyLimit("k", 3, T0);
        await Promise.all(ids.map((id) => store.transaction(async (tx) => tx.requestSlot(req(id, 0, "k"), T0))));
        expect((await store.countHeldSlots()).get("k")).toBe(3);
        const held = (await store.listSlots("k")).filter((s) => s.state === "HELD");
        await Promise.all(held.map((h) => store.transaction(async (tx) => {
          await tx.deleteSlot(h.id);
          await tx.grantSlots("k", T0 + 1);
        })));
        expect((await store.countHeldSlots()).get("k")).toBe(3);
        expect((await store.listSlots("k")).filter((s) => s.state === "WAITING")).toHaveLength(6);
      });

      it("run endings, releases and requests on two keys at once never deadlock nor over-grant", async () => {
        const ids = await runs(16);
        await store.upsertConcurrencyLimit("k1", 2, T0);
        await store.upsertConcurrencyLimit("k2", 2, T0);
        // Every run waits on both keys (two calls), in a different order for odd and even runs.
        for (const [i, id] of ids.entries()) {
          const keys = i % 2 ? ["k1", "k2"] : ["k2", "k1"];
          for (const [call, key] of keys.entries()) await store.requestSlot(req(id, call, key), T0);
        }
        const ops: Promise<unknown>[] = [];
        for (const [i, id] of ids.entries()) {
          if (i % 3 === 0) {
            // A run ends: its row lock, then its slots (held and waiting) go, then each key's line moves.
            ops.push(store.transaction(async (tx) => {
              await tx.getRunForUpdate(id);
              for (const key of await tx.deleteSlotsOfRun(id)) await tx.grantSlots(key, T0 + 1);
            }));
          } else {
            // A release: one slot per transaction (as the engine does).
            for (const s of (await store.listSlots()).filter((x) => x.runId === id)) {
              ops.push(store.transaction(async (tx) => {
                await tx.deleteSlot(s.id);
                await tx.grantSlots(s.key, T0 + 1);
              }));
            }
          }
          ops.push(store.transaction((tx) => tx.requestSlot(req(id, 5, i % 2 ? "k2" : "k1"), T0 + 2)));
        }
        await Promise.all(ops);
        const held = await store.countHeldSlots();
        expect(held.get("k1") ?? 0).toBeLessThanOrEqual(2);
        expect(held.get("k2") ?? 0).toBeLessThanOrEqual(2);
        // Whatever is left in line waits only because its key is full.
        for (const key of ["k1", "k2"]) {
          const left = await store.listSlots(key);
          if (left.some((x) => x.state === "WAITING")) expect(left.filter((x) => x.state === "HELD")).toHaveLength(2);
        }
      });
    });

    describe("access control", () => {
      const user = (username: string, role: "viewer" | "operator" | "admin" = "viewer") => ({ username, passwordHash: `h-${username}`, role, createdAt: T0, updatedAt: T0, lastLoginAt: null });

      it("users: unique names (a taken one inserts nothing), byte order, update, delete with their sessions", async () => {
        expect(await store.countUsers()).toBe(0);
        const b = (await store.insertUser(user("bob", "admin")))!;
        const a = (await store.insertUser(user("Alice")))!;
        expect(await store.insertUser({ ...user("bob"), passwordHash: "other" })).toBeNull();
        expect(await store.countUsers()).toBe(2);
        expect((await store.listUsers()).map((u) => u.username)).toEqual(["Alice", "bob"]);
        expect(await store.getUserByName("bob")).toEqual({ ...user("bob", "admin"), id: b.id });
        expect(await store.getUserByName("BOB")).toBeUndefined();
        await store.updateUser(a.id, { role: "operator", passwordHash: "new", updatedAt: T0 + 5, lastLoginAt: T0 + 6 });
        expect(await store.getUser(a.id)).toMatchObject({ role: "operator", passwordHash: "new", updatedAt: T0 + 5, lastLoginAt: T0 + 6 });
        await store.insertSession({ idHash: "s1", userId: a.id, createdAt: T0, expiresAt: T0 + 100, lastSeenAt: T0 });
        expect(await store.deleteUser(a.id)).toBe(true);
        expect(await store.deleteUser(a.id)).toBe(false);
        expect(await store.getSession("s1")).toBeUndefined();
        expect(await store.transaction((tx) => tx.lockUsers())).toEqual([b.id]);
      });

      it("sessions: one lookup gives the session and its user; touch, delete, sweep expired", async () => {
        const u = (await store.insertUser(user("carol", "operator")))!;
        await store.insertSession({ idHash: "live", userId: u.id, createdAt: T0, expiresAt: T0 + 1000, lastSeenAt: T0 });
        await store.insertSession({ idHash: "old", userId: u.id, createdAt: T0, expiresAt: T0 + 10, lastSeenAt: T0 });
        const found = (await store.getSession("live"))!;
        expect(found.session).toEqual({ idHash: "live", userId: u.id, createdAt: T0, expiresAt: T0 + 1000, lastSeenAt: T0 });
        expect(found.user).toMatchObject({ id: u.id, username: "carol", role: "operator" });
        await store.touchSession("live", T0 + 50, T0 + 2000);
        expect((await store.getSession("live"))!.session).toMatchObject({ lastSeenAt: T0 + 50, expiresAt: T0 + 2000 });
        expect(await store.deleteExpiredSessions(T0 + 100)).toBe(1);
        expect(await store.getSession("old")).toBeUndefined();
        await store.deleteSession("live");
        expect(await store.getSession("live")).toBeUndefined();
      });

      it("API tokens: newest first, revoked once, last use recorded", async () => {
        const t = (id: string, at: number) => ({ id, name: `n-${id}`, role: "viewer" as const, tokenHash: `h-${id}`, createdBy: "root", createdAt: at, lastUsedAt: null, revokedAt: null });
        await store.insertApiToken(t("aaa", T0));
        await store.insertApiToken(t("bbb", T0 + 1));
        expect((await store.listApiTokens()).map((x) => x.id)).toEqual(["bbb", "aaa"]);
        expect(await store.revokeApiToken("aaa", T0 + 5)).toBe(true);
        expect(await store.revokeApiToken("aaa", T0 + 9)).toBe(false);
        expect(await store.revokeApiToken("nope", T0 + 9)).toBe(false);
        await store.touchApiToken("bbb", T0 + 7);
        expect(await store.getApiToken("aaa")).toEqual({ ...t("aaa", T0), revokedAt: T0 + 5 });
        expect((await store.getApiToken("bbb"))!.lastUsedAt).toBe(T0 + 7);
      });

      it("login failures: counted per key in a window, locked at the limit, restarted after the window, cleared", async () => {
        const W = 1000;
        expect(await store.recordLoginFailure("user:x", T0, W, 3, W)).toEqual({ key: "user:x", failures: 1, windowStartedAt: T0, lockedUntil: null });
        expect((await store.recordLoginFailure("user:x", T0 + 10, W, 3, W)).failures).toBe(2);
        expect(await store.recordLoginFailure("user:x", T0 + 20, W, 3, W)).toEqual({ key: "user:x", failures: 3, windowStartedAt: T0, lockedUntil: T0 + 20 + W });
        await store.recordLoginFailure("addr:1", T0, W, 3, W);
        expect((await store.getLoginFailures(["user:x", "addr:1", "none"])).map((f) => [f.key, f.failures])).toEqual([
          ["addr:1", 1],
          ["user:x", 3],
        ]);
        // The window has passed: counting starts again; the lock, still in the future, stays.
        expect(await store.recordLoginFailure("user:x", T0 + W + 1, W, 3, W)).toEqual({ key: "user:x", failures: 1, windowStartedAt: T0 + W + 1, lockedUntil: T0 + 20 + W });
        expect(await store.recordLoginFailure("user:x", T0 + 5 * W, W, 3, W)).toEqual({ key: "user:x", failures: 1, windowStartedAt: T0 + 5 * W, lockedUntil: null });
        await store.clearLoginFailures("user:x");
        expect(await store.getLoginFailures(["user:x"])).toEqual([]);
      });

      it("history filters by triggeredBy through its index", async () => {
        const f = await store.upsertFlow({ clientId: "c1", name: "f", description: "", tags: {}, parameters: [], version: "v", maxActiveRuns: null, registeredAt: T0, updatedAt: T0 });
        const mine = await store.insertRun(newRun({ flowId: f, clientId: "c1", triggeredBy: "alice" }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1", triggeredBy: "schedule" }));
        await store.insertRun(newRun({ flowId: f, clientId: "c1" }));
        await store.updateRun(mine, { cancelledBy: "bob" });
        const page = await store.listRuns({ state: [], tag: [], limit: 10, triggeredBy: "alice" });
        expect(page.runs.map((r) => [r.id, r.triggeredBy, r.cancelledBy])).toEqual([[mine, "alice", "bob"]]);
        expect((await store.listRuns({ state: ["PENDING"], tag: [], limit: 10, triggeredBy: "schedule", flowId: String(f) })).runs).toHaveLength(1);
      });
    });

    describe("JSON fields", () => {
      it("round-trip as objects, including __proto__, constructor, unicode and nested values", async () => {
        const tricky = JSON.parse(
          '{"__proto__": {"polluted": true}, "constructor": "c", "prototype": 1, "ünï": "日本語 🚀", "nested": {"a": [1, {"b": null}, "x"], "t": true, "f": 1.5, "neg": -0.25}, "empty": {}, "list": []}',
        ) as Record<string, unknown>;
        const f = await store.upsertFlow({
          clientId: "c1",
          name: "json ✓",
          description: "ü",
          tags: JSON.parse('{"__proto__": "p", "team": "données"}'),
          parameters: [{ name: "x", type: "Literal['a', 'b']", default: { nested: [1, "two"] }, required: false, choices: ["a", "b", null, 3, true] }],
          version: "v",
          maxActiveRuns: null,
          registeredAt: T0,
          updatedAt: T0,
        });
        const id = await store.insertRun(newRun({ flowId: f, clientId: "c1", parameters: tricky, tags: JSON.parse('{"constructor": "k", "__proto__": "v"}') }));
        const run = (await store.getRun(id))!;
        // Same value; key order is not part of the contract (PostgreSQL's jsonb normalises it).
        expect(canonical(run.parameters)).toBe(canonical(tricky));
        expect(Object.hasOwn(run.parameters, "__proto__")).toBe(true);
        expect(Object.getPrototypeOf(run.parameters)).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.hasOwn(run.tags, "__proto__")).toBe(true);
        expect(run.tags.constructor).toBe("k");
        const flow = (await store.getFlow(f))!;
        expect(flow.name).toBe("json ✓");
        expect(canonical(flow.tags)).toBe('{"__proto__":"p","team":"données"}');
        expect(flow.parameters).toEqual([{ name: "x", type: "Literal['a', 'b']", default: { nested: [1, "two"] }, required: false, choices: ["a", "b", null, 3, true] }]);
        await store.updateRun(id, { parameters: { later: ["ok", { deep: { deeper: "✓" } }] } });
        expect((await store.getRun(id))!.parameters).toEqual({ later: ["ok", { deep: { deeper: "✓" } }] });
      });
    });
  });
}
