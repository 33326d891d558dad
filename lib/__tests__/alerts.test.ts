/**
 * Alerts end to end on a real engine, on SQLite and on PostgreSQL (a cluster of this file's
 * own): events raised by real worker batches and by the monitor, the outbox rows they write,
 * the delivery loop POSTing to a real HTTP receiver (node:http on 127.0.0.1), Standard Webhooks
 * signatures checked by an independent verifier written here from the spec, retries under a
 * controlled clock, throttling, the dashboard routes and the metrics text.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AlertRegistry, parseAlertsFile, readAlertsFile, watchAlertsFile } from "../alerts/alerts-file";
import { setEngine } from "../server";
import { ManualClock } from "../engine/clock";
import type { Engine } from "../engine/engine";
import { openSqliteBackend } from "../store/sqlite";
import { openPostgresBackend } from "../store/postgres";
import { startTestDatabases, type TestDatabases } from "../store/postgres/test-database";
import type { Backend } from "../store/store";
import { engineOn } from "../../test/support/test-engine";
import { startHarness } from "../../test/support/http-harness";
import { apiClient } from "../../test/support/api-client";
import { until } from "../../test/support/wait";
import { startReceiver, type Receiver } from "../../test/support/webhook-receiver.mjs";

const SECRET = `whsec_${Buffer.from("a test secret of 32 bytes, fixed").toString("base64")}`;

/**
 * Standard Webhooks verification, from the spec (not from lib/): the signed content is
 * "id.timestamp.body", the key is the base64 after whsec_, the header lists space-separated
 * "v1,<base64>" signatures, compared in constant time.
 */
function verifyStandardWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const id = String(headers["webhook-id"] ?? "");
  const ts = String(headers["webhook-timestamp"] ?? "");
  const sigs = String(headers["webhook-signature"] ?? "").split(" ");
  if (!id || !/^\d+$/.test(ts)) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto.createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
  return sigs.some((s) => {
    const [version, b64] = s.split(",");
    const given = Buffer.from(b64 ?? "", "base64");
    return version === "v1" && given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

const FLOW = {
  name: "nightly",
  description: "",
  tags: { team: "data" },
  tasks: [{ name: "work", estimatedTime: 1000 }],
  parameters: [],
};
const OTHER_FLOW = { name: "other", description: "", tags: { team: "web" }, tasks: [{ name: "work", estimatedTime: 1000 }], parameters: [] };

let dbs: TestDatabases | undefined;
let url = "";
let closeHarness: () => Promise<void>;
let receiver: Receiver;
const opened: Backend[] = [];
const engines: Engine[] = [];

beforeAll(async () => {
  dbs = await startTestDatabases();
  const h = await startHarness();
  url = h.url;
  closeHarness = h.close;
  receiver = await startReceiver();
});
afterEach(async () => {
  setEngine(undefined);
  for (const e of engines.splice(0)) e.stop();
  for (const b of opened.splice(0)) await b.close();
  receiver.received.length = 0;
  receiver.respondWith(() => 200);
});
afterAll(async () => {
  await closeHarness?.();
  await receiver?.close();
  await dbs?.stop();
});

function alertsOf(rules: unknown[], extraDestinations: unknown[] = []) {
  return new AlertRegistry(
    parseAlertsFile(JSON.stringify({ destinations: [{ id: "hook", type: "webhook", url: receiver.url, secret: SECRET }, ...extraDestinations], rules }), "test alerts.json"),
    "test alerts.json",
  );
}

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`alerts on ${kind}`, () => {
    async function open(file?: string): Promise<Backend> {
      const b = kind === "postgres" ? await openPostgresBackend(file ?? (await dbs!.fresh()), { poolSize: 5 }) : openSqliteBackend(file ?? ":memory:");
      opened.push(b);
      return b;
    }

    async function setup(rules: unknown[], opts: { extraDestinations?: unknown[]; heartbeatTimeoutMs?: number; backend?: Backend; clock?: ManualClock } = {}) {
      const backend = opts.backend ?? (await open());
      const alerts = alertsOf(rules, opts.extraDestinations);
      const { engine, clock } = engineOn(backend, {
        alerts,
        clock: opts.clock,
        heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
        alertOptions: { publicUrl: "https://perfect.example.com", backoffBaseMs: 1000 },
      });
      engines.push(engine);
      await engine.ready;
      setEngine(engine);
      const reg = await engine.register("acme", { worker: { hostname: "box-1" }, flows: [FLOW as never, OTHER_FLOW as never] });
      return { engine, clock: clock as ManualClock, alerts, backend, workerId: reg.workerId, flowId: reg.flows[0].id, otherFlowId: reg.flows[1].id };
    }

    /** One run of the flow through the worker protocol: its task takes `ms`, then it ends as told. */
    async function runOnce(s: Awaited<ReturnType<typeof setup>>, outcome: "COMPLETED" | "FAILED", ms = 1000, flowId = s.flowId) {
      const run = await s.engine.triggerRun(flowId, {}, "api");
      await s.engine.claim("acme", s.workerId, 1);
      await s.engine.applyEvents("acme", run.id, { workerId: s.workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }] });
      s.clock.advance(ms);
      const end =
        outcome === "COMPLETED"
          ? [{ seq: 2, type: "task_completed" as const, call: 0, durationMs: ms }, { seq: 3, type: "run_completed" as const }]
          : [{ seq: 2, type: "task_failed" as const, call: 0, durationMs: ms, error: "ValueError: bad row 7" }, { seq: 3, type: "run_failed" as const, error: "ValueError: bad row 7" }];
      await s.engine.applyEvents("acme", run.id, { workerId: s.workerId, events: end });
      return run.id;
    }

    const bodies = () => receiver.received.map((r) => JSON.parse(r.body));

    it("a failed run is delivered once, signed the Standard Webhooks way, with what a receiver needs", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"] }]);
      for (let i = 0; i < 3; i++) await runOnce(s, "COMPLETED", 1000 + i * 100);
      const runId = await runOnce(s, "FAILED", 400);
      expect(await s.engine.alerts.deliverDue()).toBe(1);
      expect(receiver.received).toHaveLength(1);
      const hit = receiver.received[0];
      expect(hit.method).toBe("POST");
      expect(hit.headers["content-type"]).toBe("application/json");
      expect(verifyStandardWebhook(SECRET, hit.headers, hit.body)).toBe(true);
      // A tampered body or another secret does not verify.
      expect(verifyStandardWebhook(SECRET, hit.headers, hit.body.replace("nightly", "nightlY"))).toBe(false);
      expect(verifyStandardWebhook(`whsec_${Buffer.from("another secret of 32 bytes......").toString("base64")}`, hit.headers, hit.body)).toBe(false);
      const body = JSON.parse(hit.body);
      expect(body).toMatchObject({ type: "run.failed", id: hit.headers["webhook-id"], timestamp: expect.any(String) });
      expect(Number(hit.headers["webhook-timestamp"])).toBe(Math.floor(s.clock.now() / 1000));
      expect(body.data).toMatchObject({
        runId,
        flow: "nightly",
        client: "acme",
        state: "FAILED",
        error: "ValueError: bad row 7",
        durationMs: 400,
        usualDurationMs: 1100,
        tags: { team: "data" },
        link: `https://perfect.example.com/runs/${runId}`,
      });
      // Delivered: nothing more is sent, and the log says so with the attempt's status.
      expect(await s.engine.alerts.deliverDue()).toBe(0);
      const log = await apiClient(url).get("/api/alerts/deliveries");
      expect(log.status).toBe(200);
      expect(log.body.deliveries).toHaveLength(1);
      expect(log.body.deliveries[0]).toMatchObject({ type: "run.failed", state: "DELIVERED", runId, webhookId: hit.headers["webhook-id"], nextAttemptAt: null, lastStatus: 200 });
      expect(log.body.deliveries[0].attempts.map((a: { status: number }) => a.status)).toEqual([200]);
    });

    it("a receiver answering 503 for 10 s then 200 gets the same webhook-id and body each time, and the delivery ends DELIVERED once", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"] }]);
      const failedAt = s.clock.now() + 1000;
      receiver.respondWith(() => (s.clock.now() - failedAt < 10_000 ? 503 : 200));
      await runOnce(s, "FAILED");
      for (let i = 0; i < 20 && !receiver.received.some((r) => r.status === 200); i++) {
        await s.engine.alerts.deliverDue();
        const [d] = (await s.engine.listAlertDeliveries({ limit: 1 })).deliveries;
        if (d.nextAttemptAt) s.clock.advance(Date.parse(d.nextAttemptAt) - s.clock.now());
      }
      const statuses = receiver.received.map((r) => r.status);
      expect(statuses.slice(0, -1).every((c) => c === 503)).toBe(true);
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.length).toBeGreaterThanOrEqual(3); // 1 s, 2 s, 4 s, 8 s of backoff cover the 10 s
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
      // A fresh timestamp and signature on each retry, each one valid.
      expect(new Set(receiver.received.map((r) => r.headers["webhook-timestamp"])).size).toBe(receiver.received.length);
      for (const r of receiver.received) expect(verifyStandardWebhook(SECRET, r.headers, r.body)).toBe(true);
      const [d] = (await s.engine.listAlertDeliveries({ limit: 5 })).deliveries;
      expect(d.state).toBe("DELIVERED");
      expect(d.attempts.map((a) => a.status)).toEqual(statuses);
      // Much later, nothing is sent again.
      s.clock.advance(2 * 3600_000);
      expect(await s.engine.alerts.deliverDue()).toBe(0);
      expect(receiver.received).toHaveLength(statuses.length);
    });

    it("gives up after a day of failures (DEAD), backing off exponentially up to the cap", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"] }]);
      receiver.respondWith(() => 500);
      await runOnce(s, "FAILED");
      const gaps: number[] = [];
      let last = s.clock.now();
      for (let i = 0; i < 60; i++) {
        await s.engine.alerts.deliverDue();
        const [d] = (await s.engine.listAlertDeliveries({ limit: 1 })).deliveries;
        if (d.state !== "PENDING") break;
        const next = Date.parse(d.nextAttemptAt!);
        gaps.push(next - last);
        last = next;
        s.clock.advance(next - s.clock.now());
      }
      const [d] = (await s.engine.listAlertDeliveries({ limit: 1 })).deliveries;
      expect(d.state).toBe("DEAD");
      expect(d.nextAttemptAt).toBeNull();
      expect(gaps.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16000]);
      expect(Math.max(...gaps)).toBe(3600_000);
      expect(Date.parse(d.attempts.at(-1)!.at) - Date.parse(d.createdAt)).toBeLessThanOrEqual(24 * 3600_000);
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
      const overview = (await apiClient(url).get("/api/alerts")).body;
      expect(overview.destinations[0].health).toMatchObject({ dead: 1, delivered: 0, pending: 0, lastSuccessAt: null, lastFailureAt: expect.any(String) });
    });

    it("throttling: a second failure within throttleSeconds is THROTTLED and never sent; past the window the next one is", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"], throttleSeconds: 60 }]);
      await runOnce(s, "FAILED");
      await runOnce(s, "FAILED"); // 1 s later
      await runOnce(s, "FAILED", 1000, s.otherFlowId); // another flow: its own bucket
      await s.engine.alerts.deliverDue();
      expect(bodies().map((b) => b.data.flow).sort()).toEqual(["nightly", "other"]);
      s.clock.advance(60_000);
      const late = await runOnce(s, "FAILED");
      s.clock.advance(10_000);
      await s.engine.alerts.deliverDue();
      expect(bodies().map((b) => b.data.runId)).toContain(late);
      const log = (await s.engine.listAlertDeliveries({ limit: 10 })).deliveries;
      expect(log.map((d) => d.state)).toEqual(["DELIVERED", "DELIVERED", "THROTTLED", "DELIVERED"]);
      expect(log[2].attempts).toEqual([]);
      expect((await s.engine.listAlertDeliveries({ limit: 10, state: "THROTTLED" })).deliveries).toHaveLength(1);
      expect(receiver.received).toHaveLength(3);
    });

    it("rules filter by flow, tags and client; run.completed and run.recovered (completed after a failure) reach their destinations", async () => {
      const s = await setup([
        { on: ["run.completed"], flows: ["other"], to: ["hook"] },
        { on: ["run.recovered"], tags: { team: "data" }, clients: ["acme"], to: ["hook"] },
        { on: ["run.failed"], tags: { team: "nobody" }, to: ["hook"] },
        { on: ["run.failed"], clients: ["other"], to: ["hook"] },
      ]);
      await runOnce(s, "COMPLETED");
      await runOnce(s, "FAILED");
      const recovered = await runOnce(s, "COMPLETED");
      await runOnce(s, "COMPLETED"); // previous finished run COMPLETED: not a recovery
      await runOnce(s, "COMPLETED", 1000, s.otherFlowId);
      await s.engine.alerts.deliverDue();
      expect(bodies().map((b) => [b.type, b.data.flow]).sort()).toEqual([
        ["run.completed", "other"],
        ["run.recovered", "nightly"],
      ]);
      expect(bodies().find((b) => b.type === "run.recovered").data.runId).toBe(recovered);
    });

    it("a scheduled run born FAILED (its schedule's parameters no longer fit) raises run.failed", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"] }]);
      await s.engine.createSchedule(s.flowId, { intervalSeconds: 60 });
      await s.engine.register("acme", { worker: {}, flows: [{ ...FLOW, parameters: [{ name: "day", type: "str", required: true }] } as never] });
      s.clock.advance(60_000);
      expect(await s.engine.fireDueSchedules()).toBe(1);
      await s.engine.alerts.deliverDue();
      expect(bodies()).toHaveLength(1);
      expect(bodies()[0]).toMatchObject({ type: "run.failed", data: { flow: "nightly", state: "FAILED", trigger: "schedule", durationMs: null } });
      expect(bodies()[0].data.error).toMatch(/^the schedule's parameters no longer fit the flow/);
    });

    it("several rules naming one destination send one delivery per occurrence", async () => {
      const s = await setup([
        { on: ["run.failed"], to: ["hook"] },
        { on: ["run.failed", "run.completed"], flows: ["nightly"], to: ["hook"] },
      ]);
      await runOnce(s, "FAILED");
      await s.engine.alerts.deliverDue();
      expect(receiver.received).toHaveLength(1);
    });

    it("worker.lost: the monitor fails the silent worker's runs and raises one alert for the loss, naming them", async () => {
      const s = await setup([{ on: ["worker.lost"], to: ["hook"] }], { heartbeatTimeoutMs: 15_000 });
      const run = await s.engine.triggerRun(s.flowId, {}, "api");
      await s.engine.claim("acme", s.workerId, 1);
      s.clock.advance(16_000);
      await s.engine.tick();
      await s.engine.tick();
      s.clock.advance(1000);
      await s.engine.tick();
      await s.engine.alerts.deliverDue();
      expect(bodies()).toHaveLength(1);
      expect(bodies()[0]).toMatchObject({ type: "worker.lost", data: { workerId: s.workerId, client: "acme", hostname: "box-1", failedRunIds: [run.id], heartbeatTimeoutMs: 15_000 } });
      expect((await s.engine.getRun(run.id)).state).toBe("FAILED");
    });

    it("worker.lost is not raised for a worker that said goodbye; its run still RUNNING is FAILED at once", async () => {
      const s = await setup([{ on: ["worker.lost"], to: ["hook"] }], { heartbeatTimeoutMs: 15_000 });
      const run = await s.engine.triggerRun(s.flowId, {}, "api");
      await s.engine.claim("acme", s.workerId, 1);
      await s.engine.goodbye("acme", { workerId: s.workerId });
      expect(await s.engine.getRun(run.id)).toMatchObject({ state: "FAILED", error: "worker stopped" });
      expect((await s.engine.listClients()).clients.find((c) => c.id === "acme")?.workers).toEqual([]);
      s.clock.advance(16_000);
      await s.engine.tick();
      await s.engine.tick();
      s.clock.advance(1000);
      await s.engine.tick();
      await s.engine.alerts.deliverDue();
      expect(bodies()).toEqual([]);
      // It is no longer a worker of the client: its next request is refused.
      await expect(s.engine.heartbeat("acme", { workerId: s.workerId, runIds: [] })).rejects.toMatchObject({ code: "not_found" });
    });

    it("run.late: a run still PENDING past its due time and the grace is reported once", async () => {
      const s = await setup([{ on: ["run.late"], to: ["hook"] }]);
      const run = await s.engine.triggerRun(s.otherFlowId, {}, "api");
      s.clock.advance(29_000);
      await s.engine.tick();
      expect(await s.engine.alerts.deliverDue()).toBe(0);
      s.clock.advance(2000);
      await s.engine.tick();
      await s.engine.tick();
      await s.engine.alerts.deliverDue();
      expect(bodies()).toHaveLength(1);
      expect(bodies()[0]).toMatchObject({ type: "run.late", data: { runId: run.id, state: "PENDING", flow: "other", lateByMs: 31_000, graceMs: 30_000 } });
    });

    it("task.critical arrives while the run is still RUNNING (live, once per attempt and level)", async () => {
      const s = await setup([{ on: ["task.slow", "task.critical"], to: ["hook"] }]);
      for (let i = 0; i < 5; i++) await runOnce(s, "COMPLETED", 1000);
      const run = await s.engine.triggerRun(s.flowId, {}, "api");
      await s.engine.claim("acme", s.workerId, 1);
      await s.engine.applyEvents("acme", run.id, { workerId: s.workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }] });
      await s.engine.heartbeat("acme", { workerId: s.workerId, runIds: [run.id] });
      // Baseline 1000 ms (σ floored at 50 ms), normal below 20 samples: SLOW at 1250 ms, CRITICAL at 1500 ms.
      s.clock.advance(1300);
      await s.engine.heartbeat("acme", { workerId: s.workerId, runIds: [run.id] });
      await s.engine.tick();
      await s.engine.alerts.deliverDue();
      s.clock.advance(400);
      await s.engine.heartbeat("acme", { workerId: s.workerId, runIds: [run.id] });
      await s.engine.tick();
      await s.engine.tick();
      await s.engine.alerts.deliverDue();
      expect(bodies().map((b) => b.type)).toEqual(["task.slow", "task.critical"]);
      const critical = bodies()[1];
      expect(critical.data).toMatchObject({ runId: run.id, flow: "nightly", task: "work", attempt: 1, warning: "CRITICAL", state: "RUNNING", usualDurationMs: 1000, elapsedMs: 1700 });
      expect(critical.data.zScore).toBeGreaterThanOrEqual(critical.data.threshold * 2);
      expect((await s.engine.getRun(run.id)).state).toBe("RUNNING");
    });

    it("Slack destinations get a readable {text, blocks} message with the flow, error, duration vs usual and a link; unsigned", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["slack"] }], { extraDestinations: [{ id: "slack", type: "slack", url: receiver.url.replace("/hook", "/services/T0/B0/xyz") }] });
      await runOnce(s, "COMPLETED", 2000);
      const runId = await runOnce(s, "FAILED", 500);
      await s.engine.alerts.deliverDue();
      expect(receiver.received).toHaveLength(1);
      const hit = receiver.received[0];
      expect(hit.url).toBe("/services/T0/B0/xyz");
      expect(hit.headers["webhook-signature"]).toBeUndefined();
      const msg = JSON.parse(hit.body);
      expect(msg.text).toContain("Run failed");
      expect(msg.text).toContain("nightly");
      const all = JSON.stringify(msg.blocks);
      expect(all).toContain("ValueError: bad row 7");
      expect(all).toContain("500 ms (usually 2.0 s)");
      expect(all).toContain(`<https://perfect.example.com/runs/${runId}|Open in Perfect>`);
      const overview = (await apiClient(url).get("/api/alerts")).body;
      expect(overview.destinations.find((d: { id: string }) => d.id === "slack").url).toBe(`http://127.0.0.1:${receiver.port}/…`);
    });

    it("two senders on one database send each delivery once (leases)", async () => {
      // PostgreSQL: two instances, each with its own pool. SQLite serves one instance (one
      // writer): two engines share its store, their senders racing for the same rows.
      const clock = new ManualClock();
      const dbUrl = kind === "postgres" ? await dbs!.fresh() : undefined;
      const a = await setup([{ on: ["run.failed"], to: ["hook"] }], { clock, backend: await open(dbUrl) });
      const bBackend = dbUrl ? await open(dbUrl) : a.backend;
      const b = engineOn(bBackend, { alerts: a.alerts, clock, alertOptions: { publicUrl: "https://perfect.example.com" } }).engine;
      engines.push(b);
      for (let i = 0; i < 8; i++) await runOnce(a, "FAILED", 10);
      const sent = await Promise.all([a.engine.alerts.deliverDue(), b.alerts.deliverDue(), a.engine.alerts.deliverDue(), b.alerts.deliverDue()]);
      expect(sent.reduce((x, y) => x + y, 0)).toBe(8);
      expect(receiver.received).toHaveLength(8);
      expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(8);
    });

    it("the routes: GET /api/alerts lists rules and destinations, POST /api/alerts/test queues an alert.test through the outbox (400, 404 otherwise)", async () => {
      const s = await setup([{ on: ["run.failed", "task.critical"], flows: ["nightly"], tags: { team: "data" }, to: ["hook"], throttleSeconds: 300 }]);
      const api = apiClient(url);
      const overview = await api.get("/api/alerts");
      expect(overview.status).toBe(200);
      expect(overview.body).toMatchObject({
        file: "test alerts.json",
        loadError: null,
        rules: [{ index: 0, on: ["run.failed", "task.critical"], flows: ["nightly"], tags: { team: "data" }, clients: null, to: ["hook"], throttleSeconds: 300 }],
        destinations: [{ id: "hook", type: "webhook", url: receiver.url, signed: true, health: { pending: 0, delivered: 0, dead: 0, throttled: 0 } }],
        formerDestinations: [],
      });
      expect(JSON.stringify(overview.body)).not.toContain(SECRET.slice(6));
      const test = await api.post("/api/alerts/test", { destinationId: "hook" });
      expect(test.status).toBe(202);
      expect(test.body).toMatchObject({ type: "alert.test", state: "PENDING", destinationId: "hook", attempts: [] });
      await s.engine.alerts.deliverDue();
      expect(bodies()[0]).toMatchObject({ type: "alert.test", id: test.body.webhookId, data: { destinationId: "hook", link: "https://perfect.example.com/alerts" } });
      expect(verifyStandardWebhook(SECRET, receiver.received[0].headers, receiver.received[0].body)).toBe(true);
      expect((await api.get("/api/alerts")).body.destinations[0].health).toMatchObject({ delivered: 1, lastSuccessAt: expect.any(String) });
      const missing = await api.post("/api/alerts/test", { destinationId: "nope" });
      expect(missing.status).toBe(404);
      const bad = await api.post("/api/alerts/test", { destinationId: 7 });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.field).toBe("destinationId");
      const badQuery = await api.get("/api/alerts/deliveries?state=LOST");
      expect(badQuery.status).toBe(400);
      expect(badQuery.body.error.details.field).toBe("state");
      expect((await api.get("/api/alerts/deliveries?limit=500")).status).toBe(400);
    });

    it("the delivery log pages newest first and filters by state and destination", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook", "second"] }], { extraDestinations: [{ id: "second", type: "webhook", url: receiver.url }] });
      for (let i = 0; i < 3; i++) await runOnce(s, "FAILED", 10);
      const api = apiClient(url);
      const first = await api.get("/api/alerts/deliveries?limit=4");
      expect(first.body.deliveries).toHaveLength(4);
      const ids = first.body.deliveries.map((d: { id: string }) => Number(d.id));
      expect([...ids].sort((x, y) => y - x)).toEqual(ids);
      const rest = await api.get(`/api/alerts/deliveries?limit=4&cursor=${first.body.nextCursor}`);
      expect(rest.body.deliveries).toHaveLength(2);
      expect(rest.body.nextCursor).toBeNull();
      expect((await api.get("/api/alerts/deliveries?destination=second")).body.deliveries).toHaveLength(3);
      expect((await api.get("/api/alerts/deliveries?state=DELIVERED")).body.deliveries).toHaveLength(0);
      expect((await api.get("/api/alerts/deliveries?state=PENDING")).body.deliveries[0].nextAttemptAt).toEqual(expect.any(String));
    });

    it("GET /api/metrics is Prometheus text with every family, counting runs, task durations, dispatch, the queue, workers and deliveries", async () => {
      const s = await setup([{ on: ["run.failed"], to: ["hook"] }]);
      await runOnce(s, "COMPLETED", 1500);
      await runOnce(s, "FAILED", 200);
      await s.engine.triggerRun(s.otherFlowId, {}, "api"); // stays PENDING
      await s.engine.alerts.deliverDue();
      const res = await fetch(`${url}/api/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const samples = parsePrometheus(text);
      for (const family of [
        "perfect_runs_finished_total",
        "perfect_runs_active",
        "perfect_queue_depth",
        "perfect_workers_online",
        "perfect_task_duration_seconds",
        "perfect_dispatch_latency_seconds",
        "perfect_alert_deliveries_total",
        "perfect_alert_attempts_total",
        "perfect_alert_deliveries_pending",
      ]) {
        expect(text).toMatch(new RegExp(`^# TYPE ${family} (counter|gauge|histogram)$`, "m"));
      }
      expect(samples.get('perfect_runs_finished_total{flow="nightly",state="COMPLETED"}')).toBe(1);
      expect(samples.get('perfect_runs_finished_total{flow="nightly",state="FAILED"}')).toBe(1);
      expect(samples.get('perfect_runs_active{flow="other",state="PENDING"}')).toBe(1);
      expect(samples.get("perfect_queue_depth")).toBe(1);
      expect(samples.get('perfect_workers_online{client="acme"}')).toBe(1);
      expect(samples.get('perfect_task_duration_seconds_count{flow="nightly",task="work"}')).toBe(1);
      expect(samples.get('perfect_task_duration_seconds_bucket{le="1",flow="nightly",task="work"}')).toBe(0);
      expect(samples.get('perfect_task_duration_seconds_bucket{le="5",flow="nightly",task="work"}')).toBe(1);
      expect(samples.get("perfect_dispatch_latency_seconds_count")).toBe(2);
      expect(samples.get('perfect_alert_deliveries_total{outcome="queued"}')).toBe(1);
      expect(samples.get('perfect_alert_deliveries_total{outcome="delivered"}')).toBe(1);
      expect(samples.get('perfect_alert_attempts_total{result="success"}')).toBe(1);
      expect(samples.get("perfect_alert_deliveries_pending")).toBe(0);
    });

    it("with no rule listening, a run's end queries nothing for alerts", async () => {
      const s = await setup([{ on: ["worker.lost"], to: ["hook"] }]);
      const store = s.backend.store as unknown as Record<string, (...a: unknown[]) => unknown>;
      const calls: string[] = [];
      const target = kind === "sqlite" ? (s.backend.store as unknown as { sync: Record<string, (...a: unknown[]) => unknown> }).sync : store;
      for (const name of ["queueAlertDeliveries", "recentRunDurations", "previousFinishedRunState"]) {
        const orig = target[name];
        target[name] = function (this: unknown, ...args: unknown[]) {
          calls.push(name);
          return orig.apply(this, args);
        };
      }
      await runOnce(s, "FAILED");
      await runOnce(s, "COMPLETED");
      expect(calls).toEqual([]);
      expect((await s.engine.listAlertDeliveries({ limit: 5 })).deliveries).toEqual([]);
    });
  });
}

/** `name{labels} value` lines of the text format → a map (comments skipped). */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

describe("alerts.json", () => {
  const parse = (v: unknown) => parseAlertsFile(JSON.stringify(v), "alerts.json");
  const hook = { id: "hook", type: "webhook", url: "https://example.com/hook", secret: SECRET };

  it("validates with a message naming the field", () => {
    expect(() => parse({ destinations: [hook], rules: [{ on: ["run.failed"], to: ["nope"] }] })).toThrow("alerts.json: invalid field rules.0.to.0: no destination with id nope");
    expect(() => parse({ destinations: [{ ...hook, secret: "plain" }] })).toThrow("invalid field destinations.0.secret");
    expect(() => parse({ destinations: [{ ...hook, type: "email" }] })).toThrow("invalid field destinations.0.type");
    expect(() => parse({ destinations: [{ ...hook, url: "ftp://x" }] })).toThrow("invalid field destinations.0.url");
    expect(() => parse({ destinations: [hook, hook] })).toThrow("invalid field destinations.1.id: duplicate destination id hook");
    expect(() => parse({ destinations: [hook], rules: [{ on: ["run.exploded"], to: ["hook"] }] })).toThrow("invalid field rules.0.on.0");
    expect(() => parse({ destinations: [hook], rules: [{ on: ["run.failed"], to: ["hook"], throttleSeconds: -1 }] })).toThrow("invalid field rules.0.throttleSeconds");
    expect(() => parseAlertsFile("{", "alerts.json")).toThrow("alerts.json: not valid JSON");
  });

  it("is optional: a missing file is no rules; tag keys like __proto__ are plain data", () => {
    expect(readAlertsFile(path.join(os.tmpdir(), "perfect-no-such-alerts.json"))).toEqual({ destinations: [], rules: [] });
    const c = parseAlertsFile(`{"destinations":[${JSON.stringify(hook)}],"rules":[{"on":["run.failed"],"tags":{"__proto__":"x"},"to":["hook"]}]}`, "a");
    expect(Object.keys(c.rules[0].tags!)).toEqual(["__proto__"]);
    expect(c.destinations[0].key).toEqual(Buffer.from("a test secret of 32 bytes, fixed"));
  });

  it("a changed file is re-read; an invalid edit keeps the previous rules and reports the problem", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-alerts-watch-"));
    const file = path.join(dir, "alerts.json");
    fs.writeFileSync(file, JSON.stringify({ destinations: [hook], rules: [{ on: ["run.failed"], to: ["hook"] }] }));
    const registry = new AlertRegistry(readAlertsFile(file), file);
    const stop = watchAlertsFile(file, registry, 50);
    try {
      // Written again on each probe: the watcher's first look at the file may come after a write.
      const write = (v: unknown) => async () => {
        fs.writeFileSync(file, JSON.stringify(v));
        await new Promise((r) => setTimeout(r, 200));
      };
      const valid = write({ destinations: [hook], rules: [{ on: ["run.failed", "run.late"], to: ["hook"] }, { on: ["worker.lost"], to: ["hook"] }] });
      await until("the valid edit", async () => registry.rules.length === 2 || (await valid()), 10_000);
      expect(registry.listens("run.late")).toBe(true);
      const invalid = write({ destinations: [hook], rules: [{ on: ["run.failed"], to: ["missing"] }] });
      await until("the invalid edit", async () => registry.loadError !== null || (await invalid()), 10_000);
      expect(registry.loadError).toContain("invalid field rules.0.to.0");
      expect(registry.rules.length).toBe(2);
      expect(registry.listens("worker.lost")).toBe(true);
      const empty = write({ destinations: [hook], rules: [] });
      await until("the next valid edit", async () => registry.loadError === null || (await empty()), 10_000);
      expect(registry.rules).toEqual([]);
    } finally {
      stop();
    }
  });
});

describe("the Alerts page's live refetch", () => {
  it("an alert change refetches the Alerts page's keys and nothing else; other changes leave them alone", async () => {
    const { matchersFor } = await import("../../hooks/use-live-events");
    const keys = ["/api/alerts", "/api/alerts/deliveries", "/api/alerts/deliveries?state=DEAD&cursor=9", "/api/runs/7", "/api/runs?limit=50", "/api/flows", "/api/clients"];
    const view = { listShows: () => true, lastState: () => undefined };
    const hit = (c: Parameters<typeof matchersFor>[0]) => keys.filter((k) => matchersFor(c, view).some((m) => m(k)));
    expect(hit({ kind: "alert", deliveryId: "3", destinationId: "hook", state: "DELIVERED" })).toEqual(["/api/alerts", "/api/alerts/deliveries", "/api/alerts/deliveries?state=DEAD&cursor=9"]);
    expect(hit({ kind: "run", runId: "7", flowId: "1", state: "FAILED", progress: 0.5 }).filter((k) => k.startsWith("/api/alerts"))).toEqual([]);
  });
});
