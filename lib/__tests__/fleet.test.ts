/**
 * Fleet correctness (issue 10): routing by registered flow and version, lost claims, honest
 * progress, attempts judged alone, ordered events, bounded memory. Real engine, real HTTP,
 * controlled clock.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../engine/clock";
import { FORGET_WORKER_MS, RUN_UNREPORTED } from "../engine/engine";
import { ETL_FLOW, api, fullRunEvents, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine({ heartbeatTimeoutMs: 15_000 });

const REPORT_FLOW = { name: "Weekly Report", tasks: [{ name: "render", estimatedTime: 1000 }], parameters: [] };

describe("routing: a run reaches only a worker that registered its flow", () => {
  it("two workers of one client with different flows each claim only their own runs", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const etl = (await w.register([ETL_FLOW])).body;
    const rep = (await w.register([REPORT_FLOW])).body;
    const etlFlow = etl.flows[0].id;
    const repFlow = rep.flows[0].id;
    const r1 = (await a.post(`/api/flows/${repFlow}/runs`, {})).body.id;
    const r2 = (await a.post(`/api/flows/${etlFlow}/runs`, {})).body.id;
    // The ETL worker polls first: it must skip the older report run and take its own.
    expect((await w.poll(etl.workerId, { maxRuns: 5 })).body.runs.map((r: any) => r.id)).toEqual([r2]);
    expect((await w.poll(rep.workerId, { maxRuns: 5 })).body.runs.map((r: any) => r.id)).toEqual([r1]);
  });

  it("a trigger wakes a waiting poll that serves the run, not the longest-waiting one that does not", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const etl = (await w.register([ETL_FLOW])).body;
    const rep = (await w.register([REPORT_FLOW])).body;
    const etlPoll = w.poll(etl.workerId, { waitMs: 3000 }); // waiting first
    await new Promise((r) => setTimeout(r, 50));
    const repPoll = w.poll(rep.workerId, { waitMs: 3000 });
    await new Promise((r) => setTimeout(r, 50));
    const run = (await a.post(`/api/flows/${rep.flows[0].id}/runs`, {})).body.id;
    // Woken by the trigger, not answered empty at the end of its wait.
    expect((await repPoll).body.runs.map((r: any) => r.id)).toEqual([run]);
    expect((await etlPoll).body.runs).toEqual([]);
  });

  it("a run whose flow no online worker serves stays PENDING and says it waits for a worker", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const a = api(env);
    const w = a.worker();
    const etl = (await w.register([ETL_FLOW])).body;
    const rep = (await w.register([REPORT_FLOW])).body;
    const run = (await a.post(`/api/flows/${rep.flows[0].id}/runs`, {})).body;
    expect(run.waitingForWorker).toBe(false);
    // The report worker goes silent; the ETL worker keeps polling and never takes the run.
    clock.advance(16_000);
    await w.heartbeat(etl.workerId, []);
    expect((await w.poll(etl.workerId, { maxRuns: 5 })).body.runs).toEqual([]);
    const now = (await a.get(`/api/runs/${run.id}`)).body;
    expect(now.state).toBe("PENDING");
    expect(now.waitingForWorker).toBe(true);
    expect((await a.get(`/api/runs?state=PENDING`)).body.runs[0].waitingForWorker).toBe(true);
    const flows = (await a.get(`/api/flows`)).body.flows;
    expect(Object.fromEntries(flows.map((f: any) => [f.name, f.online]))).toEqual({ "Daily Sales ETL": true, "Weekly Report": false });
    // A worker serving it comes back: the run is claimed.
    const again = (await w.register([REPORT_FLOW])).body;
    expect((await w.poll(again.workerId)).body.runs.map((r: any) => r.id)).toEqual([run.id]);
  });

  it("v1 and v2 of one flow served side by side: each run goes to the version it was triggered at", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const v1 = (await w.register([{ ...REPORT_FLOW, version: "v1" }])).body;
    const early = (await a.post(`/api/flows/${v1.flows[0].id}/runs`, {})).body.id;
    const v2 = (await w.register([{ ...REPORT_FLOW, version: "v2" }])).body;
    expect(v2.flows[0].id).toBe(v1.flows[0].id);
    const late = (await a.post(`/api/flows/${v2.flows[0].id}/runs`, {})).body.id;
    expect((await w.poll(v1.workerId, { maxRuns: 5 })).body.runs.map((r: any) => r.id)).toEqual([early]);
    expect((await w.poll(v2.workerId, { maxRuns: 5 })).body.runs.map((r: any) => r.id)).toEqual([late]);
  });

  it("without a version the definition is the version: an unchanged definition is served by both", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const one = (await w.register([REPORT_FLOW])).body;
    const two = (await w.register([REPORT_FLOW])).body;
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await a.post(`/api/flows/${one.flows[0].id}/runs`, {})).body.id);
    expect((await w.poll(two.workerId)).body.runs.map((r: any) => r.id)).toEqual([ids[0]]);
    expect((await w.poll(one.workerId)).body.runs.map((r: any) => r.id)).toEqual([ids[1]]);
  });
});

describe("no run stuck RUNNING", () => {
  async function claimed(env: ReturnType<typeof fresh>) {
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    expect((await w.poll(reg.workerId)).body.runs[0].id).toBe(run.id);
    return { a, w, workerId: reg.workerId as string, runId: run.id as string };
  }

  it("a claim the worker never received goes back to PENDING after two heartbeats omit it, and is claimed again", async () => {
    const env = fresh();
    const { a, w, workerId, runId } = await claimed(env);
    await w.heartbeat(workerId, []); // may have been composed before the poll answer arrived
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("RUNNING");
    await w.heartbeat(workerId, []);
    const back = (await a.get(`/api/runs/${runId}`)).body;
    expect(back).toMatchObject({ state: "PENDING", workerId: null });
    const logs = (await a.get(`/api/runs/${runId}/logs`)).body.logs.map((l: any) => l.message);
    expect(logs.join("\n")).toContain("never received this run");
    expect((await w.poll(workerId)).body.runs.map((r: any) => r.id)).toEqual([runId]);
    await w.heartbeat(workerId, [runId]);
    expect((await w.events(workerId, runId, fullRunEvents())).body.state).toBe("COMPLETED");
  });

  it("a heartbeat listing the run between two omissions resets the count", async () => {
    const env = fresh();
    const { a, w, workerId, runId } = await claimed(env);
    await w.heartbeat(workerId, []);
    await w.heartbeat(workerId, [runId]);
    await w.heartbeat(workerId, []);
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("RUNNING");
  });

  it("a started run its live worker stops reporting is FAILED with a reason that says so", async () => {
    const env = fresh();
    const { a, w, workerId, runId } = await claimed(env);
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    await w.heartbeat(workerId, [runId]);
    await w.heartbeat(workerId, []);
    await w.heartbeat(workerId, []);
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect(run.state).toBe("FAILED");
    expect(run.error).toBe(RUN_UNREPORTED);
    expect(run.taskRuns[0].state).toBe("FAILED");
    const late = await w.events(workerId, runId, [{ seq: 2, type: "task_completed", call: 0 }]);
    expect(late.status).toBe(409);
  });
});

describe("honest progress", () => {
  it("a FAILED run keeps the progress it reached, in the list and the detail alike", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    // extract (3000 of 6000 ms of weight) completes, transform (2000) fails — a finished task
    // counts whole (SPEC) — and load (1000) never starts: the run reached 5/6, not 1.
    await w.events(reg.workerId, run.id, [
      { seq: 1, type: "task_started", call: 0, task: "extract" },
      { seq: 2, type: "task_completed", call: 0, durationMs: 30 },
      { seq: 3, type: "task_started", call: 1, task: "transform" },
      { seq: 4, type: "task_failed", call: 1, error: "boom", durationMs: 10 },
      { seq: 5, type: "run_failed", error: "boom" },
    ]);
    const detail = (await a.get(`/api/runs/${run.id}`)).body;
    const listed = (await a.get(`/api/runs`)).body.runs.find((r: any) => r.id === run.id);
    expect(detail.state).toBe("FAILED");
    expect(detail.progress).toBeCloseTo(5 / 6, 3);
    expect(listed.progress).toBe(detail.progress);
  });

  it("a CANCELLED run keeps its progress too", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    await w.events(reg.workerId, run.id, [
      { seq: 1, type: "task_started", call: 0, task: "extract" },
      { seq: 2, type: "task_completed", call: 0, durationMs: 30 },
    ]);
    await a.post(`/api/runs/${run.id}/cancel`);
    await w.events(reg.workerId, run.id, [{ seq: 3, type: "run_cancelled" }]);
    const detail = (await a.get(`/api/runs/${run.id}`)).body;
    expect(detail.state).toBe("CANCELLED");
    expect(detail.progress).toBeCloseTo(0.5, 2);
    expect((await a.get(`/api/runs`)).body.runs[0].progress).toBe(detail.progress);
  });

  it("a task called in a loop: after history, its first call moves the run by one call's share, and the ETA counts the rest", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const LOOP = { name: "Loop", tasks: [{ name: "step", estimatedTime: 100 }], parameters: [] };
    const reg = (await w.register([LOOP])).body;
    const flowId = reg.flows[0].id;
    const calls = 10;
    const runLoop = async (upTo: number, finish: boolean) => {
      const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
      await w.poll(reg.workerId);
      const events: any[] = [];
      let seq = 1;
      for (let c = 0; c < upTo; c++) {
        events.push({ seq: seq++, type: "task_started", call: c, task: "step" });
        events.push({ seq: seq++, type: "task_completed", call: c, durationMs: 100 });
      }
      if (finish) events.push({ seq: seq++, type: "run_completed" });
      await w.events(reg.workerId, run.id, events);
      return run.id as string;
    };
    // Without history a first call is the whole declared task: 100 %.
    const naive = await runLoop(1, false);
    expect((await a.get(`/api/runs/${naive}`)).body.progress).toBe(1);
    await a.post(`/api/runs/${naive}/cancel`);
    for (let i = 0; i < 5; i++) await runLoop(calls, true);
    const run = await runLoop(1, false);
    const view = (await a.get(`/api/runs/${run}`)).body;
    expect(view.progress).toBeCloseTo(1 / calls, 3);
    expect(view.etaMs).toBe((calls - 1) * 100);
  });
});

describe("retries are judged by their current attempt", () => {
  it("a task retried after a long failed attempt is not flagged for the time the failed attempt took", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const flowId = reg.flows[0].id;
    for (let i = 0; i < 20; i++) {
      const r = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id;
      await w.poll(reg.workerId);
      await w.events(reg.workerId, r, fullRunEvents([1000 + (i % 3) * 10, 20, 10]));
    }
    const r = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id;
    await w.poll(reg.workerId);
    await w.events(reg.workerId, r, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    clock.advance(60_000); // the first attempt hangs for a minute, then fails
    await w.heartbeat(reg.workerId, [r]);
    await env.engine.tick();
    expect((await a.get(`/api/runs/${r}`)).body.taskRuns[0].warning).toBe("CRITICAL");
    await w.events(reg.workerId, r, [{ seq: 2, type: "task_retrying", call: 0, attempt: 2, error: "timeout" }]);
    clock.advance(500);
    await w.heartbeat(reg.workerId, [r]);
    await env.engine.tick();
    const live = (await a.get(`/api/runs/${r}`)).body.taskRuns[0];
    expect(live.attempt).toBe(2);
    expect(live.stalled).toBe(false);
    // The second attempt completes in its usual time: its duration is that attempt's.
    await w.events(reg.workerId, r, [{ seq: 3, type: "task_completed", call: 0, durationMs: 1005 }]);
    const done = (await a.get(`/api/runs/${r}`)).body.taskRuns[0];
    expect(done.durationMs).toBe(1005);
    const stats = (await a.get(`/api/stats/tasks?flowId=${flowId}`)).body.stats.find((s: any) => s.taskName === "extract");
    expect(Math.max(...stats.recentMs)).toBeLessThan(2000);
  });

  it("a fresh retry is not CRITICAL while it runs (live z-score uses the attempt's own elapsed time)", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const flowId = reg.flows[0].id;
    for (let i = 0; i < 20; i++) {
      const r = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id;
      await w.poll(reg.workerId);
      await w.events(reg.workerId, r, fullRunEvents([1000 + (i % 3) * 10, 20, 10]));
    }
    const r = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id;
    await w.poll(reg.workerId);
    await w.events(reg.workerId, r, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    clock.advance(900);
    await w.events(reg.workerId, r, [{ seq: 2, type: "task_retrying", call: 0, attempt: 2, error: "flaky" }]);
    clock.advance(900);
    await w.heartbeat(reg.workerId, [r]);
    await env.engine.tick();
    const t = (await a.get(`/api/runs/${r}`)).body.taskRuns[0];
    expect(t.warning).toBe(null); // 1800 ms since the first start would be CRITICAL
  });
});

describe("ordered events", () => {
  it("a batch that skips ahead is refused with 409 naming the expected seq, and nothing is applied", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    const events = fullRunEvents();
    const ahead = await w.events(reg.workerId, run.id, events.slice(3));
    expect(ahead.status).toBe(409);
    expect(ahead.body.error).toMatchObject({ code: "seq_gap", details: { expectedSeq: 1 } });
    expect((await a.get(`/api/runs/${run.id}`)).body.taskRuns.every((t: any) => t.state === "PENDING")).toBe(true);
    // The earlier batch arrives late: applied, then the rest.
    expect((await w.events(reg.workerId, run.id, events.slice(0, 3))).body).toMatchObject({ applied: 3, lastSeq: 3 });
    expect((await w.events(reg.workerId, run.id, events.slice(3))).body).toMatchObject({ applied: 7, state: "COMPLETED" });
  });

  it("a gap inside a batch is refused too", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    const events = fullRunEvents();
    const res = await w.events(reg.workerId, run.id, [events[0], events[2]]);
    expect(res.status).toBe(409);
    expect(res.body.error.details.expectedSeq).toBe(2);
  });

  it("the same seq twice in one batch is stored once", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([ETL_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    const log = { seq: 1, type: "log", level: "INFO", message: "once" };
    const res = await w.events(reg.workerId, run.id, [log, log, { ...log, message: "twice?" }]);
    expect(res.body).toMatchObject({ applied: 1, duplicates: 2, lastSeq: 1 });
    expect((await a.get(`/api/runs/${run.id}/logs`)).body.logs.map((l: any) => l.message)).toEqual(["once"]);
  });
});

describe("the server decides: a cancel during the last task ends CANCELLED", () => {
  it("run_completed after a cancel request is recorded as CANCELLED", async () => {
    const env = fresh();
    const a = api(env);
    const w = a.worker();
    const reg = (await w.register([REPORT_FLOW])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(reg.workerId);
    await w.events(reg.workerId, run.id, [{ seq: 1, type: "task_started", call: 0, task: "render" }]);
    expect((await a.post(`/api/runs/${run.id}/cancel`)).status).toBe(200);
    const res = await w.events(reg.workerId, run.id, [
      { seq: 2, type: "task_completed", call: 0, durationMs: 5 },
      { seq: 3, type: "run_completed" },
    ]);
    expect(res.body.state).toBe("CANCELLED");
    expect((await a.get(`/api/runs/${run.id}`)).body.state).toBe("CANCELLED");
  });
});

describe("bounded memory", () => {
  it("worker processes silent for an hour are forgotten, with their routing rows", async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    const a = api(env);
    const w = a.worker();
    for (let i = 0; i < 5; i++) await w.register([ETL_FLOW]);
    const keep = (await w.register([ETL_FLOW])).body.workerId;
    const flowId = Number((await a.get("/api/flows")).body.flows[0].id);
    const counts = async () => ({
      workers: (await env.store.listWorkers()).length,
      routes: (await env.store.listWorkerFlows([flowId])).length,
      tracked: env.engine.trackedWorkers,
    });
    expect(await counts()).toEqual({ workers: 6, routes: 6, tracked: 6 });
    clock.advance(FORGET_WORKER_MS - 5_000);
    await w.heartbeat(keep, []);
    clock.advance(10_000);
    await env.engine.tick();
    expect(await counts()).toEqual({ workers: 1, routes: 1, tracked: 1 });
    expect((await w.heartbeat(keep, [])).status).toBe(200);
  });
});
