/**
 * GET /api/flows/{id}/summary over real HTTP: the window's counts, success rate, p50/p95 and
 * chart points from runs a worker really ran; the window selector; 400 naming the field; 404.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../engine/clock";
import { ETL_FLOW, api, fullRunEvents, serveTestEngine } from "./helpers";

const T0 = Date.parse("2026-06-01T10:00:00Z");
const HOUR = 3_600_000;
const { fresh } = serveTestEngine();

describe("flow summary route", () => {
  it("summarises the window's runs, narrows with the window and names the field of a bad window", async () => {
    const clock = new ManualClock(T0);
    const env = fresh({ clock });
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const flowId = reg.flows[0].id as string;
    const workerId = reg.workerId as string;

    const runOnce = async (outcome: "ok" | "fail", durationMs: number) => {
      const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
      await w.poll(workerId);
      clock.advance(durationMs);
      const events = outcome === "ok" ? fullRunEvents() : [{ seq: 1, type: "run_failed", error: "boom" }];
      expect((await w.events(workerId, run.id, events)).status).toBe(200);
      return run.id as string;
    };
    const old = await runOnce("ok", 4_000); // becomes older than 24 h below
    clock.advance(48 * HOUR);
    const r1 = await runOnce("ok", 1_000);
    const r2 = await runOnce("fail", 500);
    const r3 = await runOnce("ok", 3_000);
    const r4 = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id as string;

    const day = await a.get(`/api/flows/${flowId}/summary?window=24h`);
    expect(day.status).toBe(200);
    expect(day.body).toMatchObject({
      flowId,
      window: "24h",
      since: new Date(clock.now() - 24 * HOUR).toISOString(),
      total: 4,
      counts: { COMPLETED: 2, FAILED: 1, PENDING: 1 },
      successRate: 2 / 3,
      p50Ms: 1_000,
      p95Ms: 3_000,
      samples: 2,
    });
    expect(day.body.runs.map((r: { id: string }) => r.id)).toEqual([r1, r2, r3, r4]);
    expect(day.body.runs.map((r: { state: string }) => r.state)).toEqual(["COMPLETED", "FAILED", "COMPLETED", "PENDING"]);
    expect(day.body.runs.map((r: { durationMs: number | null }) => r.durationMs)).toEqual([1_000, 500, 3_000, null]);

    const week = (await a.get(`/api/flows/${flowId}/summary?window=7d`)).body;
    expect(week).toMatchObject({ window: "7d", total: 5, counts: { COMPLETED: 3, FAILED: 1, PENDING: 1 }, successRate: 3 / 4, p50Ms: 3_000, p95Ms: 4_000, samples: 3 });
    expect(week.runs[0].id).toBe(old);
    expect((await a.get(`/api/flows/${flowId}/summary`)).body.window).toBe("24h");

    const bad = await a.get(`/api/flows/${flowId}/summary?window=1y`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^window: /);
    expect((await a.get(`/api/flows/999999/summary`)).status).toBe(404);
    expect((await a.get(`/api/flows/nope/summary?window=7d`)).status).toBe(404);
  });
});

describe("summary strip route", () => {
  it("GET /api/summary counts running, pending, failed in 24 h and late runs, and the workers online", async () => {
    const clock = new ManualClock(T0);
    const env = fresh({ clock });
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const flowId = reg.flows[0].id as string;
    const workerId = reg.workerId as string;
    const trigger = async () => (await a.post(`/api/flows/${flowId}/runs`, {})).body.id as string;

    const early = await trigger();
    await w.poll(workerId);
    expect((await w.events(workerId, early, [{ seq: 1, type: "run_failed", error: "old" }])).status).toBe(200);
    clock.advance(25 * HOUR); // that failure leaves the 24 h window
    const failing = await trigger();
    await w.poll(workerId);
    expect((await w.events(workerId, failing, [{ seq: 1, type: "run_failed", error: "boom" }])).status).toBe(200);
    const running = await trigger();
    await w.poll(workerId);
    await trigger(); // waits: the worker polls no more
    expect((await a.get("/api/summary")).body).toMatchObject({ runningNow: 1, pendingNow: 1, failed24h: 1, late: 0, workersOnline: 1, clientsOnline: 1 });
    expect((await w.heartbeat(workerId, [running])).status).toBe(200);
    clock.advance(env.engine.config.scheduleGraceMs + 1000); // the PENDING run is now late
    expect((await w.heartbeat(workerId, [running])).status).toBe(200);
    const s = (await a.get("/api/summary")).body;
    expect(s).toMatchObject({ runningNow: 1, pendingNow: 1, failed24h: 1, late: 1, workersOnline: 1 });
    expect(s.failedSince).toBe(new Date(clock.now() - 24 * HOUR).toISOString());
  });
});
