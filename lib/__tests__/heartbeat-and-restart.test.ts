import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../engine/clock";
import { HEARTBEAT_LOST } from "../engine/engine";
import { createTestEngine } from "../../test/support/test-engine";
import { ETL_FLOW, api, fullRunEvents, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine({ heartbeatTimeoutMs: 15_000 });

async function running(env: ReturnType<typeof fresh>) {
  const a = api(env);
  const w = a.worker();
  const reg = (await w.register([ETL_FLOW])).body;
  const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
  const claimed = (await w.poll(reg.workerId)).body.runs[0];
  expect(claimed.id).toBe(run.id);
  return { a, w, workerId: reg.workerId as string, flowId: reg.flows[0].id as string, runId: run.id as string };
}

describe("heartbeat monitor (controlled clock, no real waiting)", () => {
  it("tells the worker its heartbeat interval: a third of the timeout", async () => {
    const env = fresh({ heartbeatTimeoutMs: 9000 });
    const reg = (await api(env).worker().register([])).body;
    expect(reg.heartbeatIntervalMs).toBe(3000);
  });

  it("fails the RUNNING run of a silent worker with 'client heartbeat lost', keeps PENDING runs queued", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const { a, w, workerId, flowId, runId } = await running(env);
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    const queued = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id;
    clock.advance(10_000);
    await w.heartbeat(workerId, [runId]);
    clock.advance(14_000);
    await env.engine.tick();
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("RUNNING");
    clock.advance(1_001);
    await env.engine.tick();
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect(run.state).toBe("FAILED");
    expect(run.error).toBe(HEARTBEAT_LOST);
    expect(run.taskRuns.map((t: any) => t.state)).toEqual(["FAILED", "CANCELLED", "CANCELLED"]);
    const logs = (await a.get(`/api/runs/${runId}/logs`)).body.logs;
    expect(logs.at(-1).level).toBe("ERROR");
    expect(logs.at(-1).message).toContain(HEARTBEAT_LOST);
    expect((await a.get(`/api/runs/${queued}`)).body.state).toBe("PENDING");
    expect((await a.get("/api/clients")).body.clients.find((c: any) => c.id === "acme").online).toBe(false);
    // The worker comes back: told its run is finished (heartbeat) and refused (409) on events.
    const hb = (await w.heartbeat(workerId, [runId, "999999"])).body;
    expect(hb.finishedRunIds).toEqual([runId, "999999"]); // a run it was never given is over too
    const late = await w.events(workerId, runId, [{ seq: 2, type: "task_completed", call: 0 }, { seq: 3, type: "run_completed" }]);
    expect(late.status).toBe(409);
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("FAILED");
  });

  it("publishes a client going offline even when it had no run to fail", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const changes: any[] = [];
    env.engine.feed.subscribe((c) => changes.push(c));
    await api(env).worker().register([]);
    await env.engine.tick();
    clock.advance(15_001);
    await env.engine.tick();
    await env.engine.tick();
    expect(changes.filter((c) => c.kind === "client")).toEqual([
      { kind: "client", clientId: "acme", online: true },
      { kind: "client", clientId: "acme", online: false },
    ]);
  });

  it("judges a claimed run whose worker never heartbeats from its claim time", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    clock.advance(60_000); // long after registration, a run is triggered and claimed
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    clock.advance(15_000);
    await env.engine.tick();
    expect((await a.get(`/api/runs/${run.id}`)).body.state).toBe("RUNNING");
    clock.advance(1);
    await env.engine.tick();
    expect((await a.get(`/api/runs/${run.id}`)).body.state).toBe("FAILED");
  });

  it("every request counts as a sign of life (events keep a worker alive without heartbeats)", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const { a, w, workerId, runId } = await running(env);
    for (let i = 1; i <= 5; i++) {
      clock.advance(10_000);
      await w.events(workerId, runId, [{ seq: i, type: "log", level: "INFO", message: `tick ${i}` }]);
      await env.engine.tick();
    }
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("RUNNING");
  });

  it("a worker clock ten minutes off causes no false failure and records server-corrected times", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const { a, w, workerId, runId } = await running(env);
    const skewed = (ms: number) => new Date(clock.now() - 600_000 + ms).toISOString();
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract", ts: skewed(0) }], { sentAt: skewed(0) });
    clock.advance(5_000);
    await env.engine.tick();
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect(run.state).toBe("RUNNING");
    expect(Math.abs(Date.parse(run.taskRuns[0].startedAt) - (clock.now() - 5_000))).toBeLessThan(5);
  });
});

describe("event times", () => {
  it("a slow first request is not mistaken for clock skew; a finished task's span equals its duration", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const { a, w, workerId, runId } = await running(env);
    const iso = (t: number) => new Date(t).toISOString();
    // Sent at t0, handled 1.2 s later (a busy server): the event happened at t0, not t0 + 1.2 s.
    const t0 = clock.now();
    clock.advance(1200);
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract", ts: iso(t0) }], { sentAt: iso(t0) });
    clock.advance(300);
    await w.events(workerId, runId, [{ seq: 2, type: "task_completed", call: 0, durationMs: 1490, ts: iso(clock.now() - 5) }], { sentAt: iso(clock.now() - 5) });
    const t = (await a.get(`/api/runs/${runId}`)).body.taskRuns[0];
    expect(Date.parse(t.endedAt) - Date.parse(t.startedAt)).toBe(1490);
    expect(Math.abs(Date.parse(t.startedAt) - t0)).toBeLessThan(20);
  });

  it("sequential tasks never overlap when a later batch's clock estimate is lower", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const { a, w, workerId, runId } = await running(env);
    const iso = (t: number) => new Date(t).toISOString();
    // Batch 1 takes 30 ms to arrive (read as 30 ms of clock offset): extract runs 50 ms, transform starts.
    const t1 = clock.now();
    clock.advance(30);
    await w.events(
      workerId,
      runId,
      [
        { seq: 1, type: "task_started", call: 0, task: "extract", ts: iso(t1 - 50) },
        { seq: 2, type: "task_completed", call: 0, durationMs: 50, ts: iso(t1) },
        { seq: 3, type: "task_started", call: 1, task: "transform", ts: iso(t1) },
      ],
      { sentAt: iso(t1) },
    );
    // Batch 2 arrives at once (the offset estimate drops to 0): transform ran 40 ms.
    clock.advance(10);
    await w.events(workerId, runId, [{ seq: 4, type: "task_completed", call: 1, durationMs: 40, ts: iso(clock.now()) }], { sentAt: iso(clock.now()) });
    const [extract, transform] = (await a.get(`/api/runs/${runId}`)).body.taskRuns;
    expect(Date.parse(extract.endedAt) - Date.parse(extract.startedAt)).toBe(50);
    expect(Date.parse(transform.startedAt)).toBeGreaterThanOrEqual(Date.parse(extract.endedAt));
    expect(Date.parse(transform.endedAt)).toBeGreaterThanOrEqual(Date.parse(transform.startedAt));
    expect(transform.durationMs).toBe(40);
  });
});

describe("restart on the same file", () => {
  it("keeps every run, task run and log; clients count as seen at boot", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-restart-"));
    const file = path.join(dir, "p.db");
    const clock = new ManualClock();
    const first = createTestEngine({ file, clock });
    const reg = await first.engine.register("acme", { worker: {}, flows: [ETL_FLOW as any] });
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) runIds.push((await first.engine.triggerRun(reg.flows[0].id, {}, "api")).id);
    const [r1, r2, r3] = await first.engine.claim("acme", reg.workerId, 3);
    await first.engine.applyEvents("acme", r1.id, { workerId: reg.workerId, events: fullRunEvents() as any });
    await first.engine.applyEvents("acme", r2.id, { workerId: reg.workerId, events: fullRunEvents().slice(0, 4) as any });
    await first.engine.applyEvents("acme", r3.id, { workerId: reg.workerId, events: fullRunEvents().slice(0, 1) as any });
    first.db.$client.close();

    clock.advance(60_000); // the server was down for a minute: longer than the heartbeat timeout
    const second = createTestEngine({ file, clock });
    await second.engine.tick();
    expect((await second.engine.getRun(r1.id)).state).toBe("COMPLETED");
    expect((await second.engine.getRun(r2.id)).state).toBe("RUNNING"); // not mass-failed at boot
    expect((await second.engine.getRun(r3.id)).state).toBe("RUNNING");
    expect((await second.engine.getRun(runIds[3])).state).toBe("PENDING");
    expect((await second.engine.listLogs(r1.id, { after: 0, level: [], limit: 100 })).logs).toHaveLength(3);
    expect((await second.engine.listLogs(r2.id, { after: 0, level: [], limit: 100 })).logs).toHaveLength(1);
    // The worker resumes where it stopped: duplicates skipped, the rest applied.
    const res = await second.engine.applyEvents("acme", r2.id, { workerId: reg.workerId, events: fullRunEvents() as any });
    expect(res).toMatchObject({ applied: 6, duplicates: 4, state: "COMPLETED" });
    // r3's worker stays silent: just inside the timeout counted from boot it still runs,
    // past it the run fails; the completed and the queued runs are untouched.
    clock.advance(15_000 - 1);
    await second.engine.tick();
    expect((await second.engine.getRun(r3.id)).state).toBe("RUNNING");
    clock.advance(2);
    await second.engine.tick();
    expect(await second.engine.getRun(r3.id)).toMatchObject({ state: "FAILED", error: HEARTBEAT_LOST });
    expect((await second.engine.getRun(r2.id)).state).toBe("COMPLETED");
    expect((await second.engine.getRun(runIds[3])).state).toBe("PENDING");
    second.db.$client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
