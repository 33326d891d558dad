/**
 * Global concurrency limits over real HTTP on a real engine: the dashboard routes
 * (/api/concurrency-limits) and the worker's slot routes, every status code, FIFO grants, the
 * long poll answered by a release, and every way a run's slots come back (its end, a requeue,
 * the heartbeat monitor, the sweep of a run ended behind the engine's back).
 */
import { describe, expect, it } from "vitest";
import type { ManualClock } from "../engine/clock";
import { ETL_FLOW, api, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine({ heartbeatTimeoutMs: 15_000 });

/** `n` RUNNING runs of ETL_FLOW claimed by one worker (or several, round-robin). */
async function setup(n: number, workers = 1) {
  const env = fresh();
  const a = api(env);
  const w = a.worker();
  const ids: string[] = [];
  const reg = await w.register([ETL_FLOW]);
  const flowId = reg.body.flows[0].id as string;
  ids.push(reg.body.workerId);
  for (let i = 1; i < workers; i++) ids.push((await w.register([ETL_FLOW])).body.workerId);
  const runs: { runId: string; workerId: string }[] = [];
  for (let i = 0; i < n; i++) {
    await a.post(`/api/flows/${flowId}/runs`, {});
    const workerId = ids[i % ids.length];
    const polled = await w.poll(workerId);
    runs.push({ runId: polled.body.runs[0].id, workerId });
  }
  return { env, a, w, flowId, runs, workerIds: ids };
}

const slot = (key: string, call = 0, task = "load") => ({ key, call, task });

describe("concurrency limits: dashboard API", () => {
  it("PUT creates and changes a limit, GET lists and reads it, DELETE removes it (204, then 404)", async () => {
    const { a } = await setup(0);
    const put = await a.put("/api/concurrency-limits/warehouse", { limit: 2 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      key: "warehouse",
      limit: 2,
      held: 0,
      holders: [],
      waiting: [],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect((await a.put("/api/concurrency-limits/a.b:c-d_e", { limit: 0 })).status).toBe(200);
    expect((await a.put("/api/concurrency-limits/warehouse", { limit: 5 })).body.limit).toBe(5);
    const list = await a.get("/api/concurrency-limits");
    expect(list.status).toBe(200);
    expect(list.body.limits.map((l: any) => [l.key, l.limit])).toEqual([["a.b:c-d_e", 0], ["warehouse", 5]]);
    expect((await a.get("/api/concurrency-limits/warehouse")).body.limit).toBe(5);
    const gone = await a.del("/api/concurrency-limits/warehouse");
    expect(gone.status).toBe(204);
    expect(gone.body).toBe("");
    expect((await a.get("/api/concurrency-limits/warehouse")).status).toBe(404);
    expect((await a.del("/api/concurrency-limits/warehouse")).status).toBe(404);
    expect((await a.get("/api/concurrency-limits/never")).status).toBe(404);
    expect((await a.get("/api/concurrency-limits/bad%20key")).status).toBe(404);
  });

  it("400 naming the field on a bad key or limit, nothing written", async () => {
    const { a } = await setup(0);
    const bad = async (path: string, body: unknown, field: string) => {
      const r = await a.put(path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.details.field).toBe(field);
    };
    await bad("/api/concurrency-limits/bad%20key", { limit: 1 }, "key");
    await bad(`/api/concurrency-limits/${"k".repeat(201)}`, { limit: 1 }, "key");
    await bad("/api/concurrency-limits/ok", { limit: -1 }, "limit");
    await bad("/api/concurrency-limits/ok", { limit: 1.5 }, "limit");
    await bad("/api/concurrency-limits/ok", { limit: 100_001 }, "limit");
    await bad("/api/concurrency-limits/ok", { limit: "2" }, "limit");
    await bad("/api/concurrency-limits/ok", {}, "limit");
    expect((await a.put(`/api/concurrency-limits/${"k".repeat(200)}`, { limit: 100_000 })).status).toBe(200);
    expect((await a.get("/api/concurrency-limits")).body.limits.map((l: any) => l.key)).toEqual(["k".repeat(200)]);
  });
});

describe("concurrency limits: slots (worker protocol)", () => {
  it("grants FIFO up to the limit; a re-sent request keeps its place; the dashboard lists holders and the line", async () => {
    const { a, w, runs } = await setup(3);
    await a.put("/api/concurrency-limits/warehouse", { limit: 1 });
    const [r1, r2, r3] = runs;
    const s1 = await w.slot(r1.workerId, r1.runId, slot("warehouse"));
    expect(s1.status).toBe(200);
    expect(s1.body).toEqual({ slotId: expect.stringMatching(/^\d+$/), state: "HELD" });
    const s2 = await w.slot(r2.workerId, r2.runId, slot("warehouse", 1, "transform"));
    expect(s2.body).toEqual({ slotId: expect.any(String), state: "WAITING", position: 1 });
    const s3 = await w.slot(r3.workerId, r3.runId, slot("warehouse"));
    expect(s3.body).toMatchObject({ state: "WAITING", position: 2 });
    expect((await w.slot(r2.workerId, r2.runId, slot("warehouse", 1, "transform"))).body).toEqual(s2.body);
    expect((await w.slot(r1.workerId, r1.runId, slot("warehouse"))).body).toEqual(s1.body);
    const view = (await a.get("/api/concurrency-limits")).body.limits[0];
    expect(view).toMatchObject({ key: "warehouse", limit: 1, held: 1 });
    expect(view.holders).toEqual([
      { slotId: s1.body.slotId, runId: r1.runId, flowName: ETL_FLOW.name, taskName: "load", call: 0, workerId: r1.workerId, acquiredAt: expect.any(String) },
    ]);
    expect(view.waiting.map((x: any) => [x.slotId, x.runId, x.taskName, x.call])).toEqual([
      [s2.body.slotId, r2.runId, "transform", 1],
      [s3.body.slotId, r3.runId, "load", 0],
    ]);
  });

  it("a waiting long poll is answered HELD when the holder releases (DELETE 204, idempotent)", async () => {
    const { a, w, runs } = await setup(2);
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    const held = (await w.slot(runs[0].workerId, runs[0].runId, slot("k"))).body;
    let answered = false;
    const waiting = w.slot(runs[1].workerId, runs[1].runId, { ...slot("k"), waitMs: 20_000 }).then((r) => {
      answered = true;
      return r;
    });
    // The waiter is in line (and not answered) before the release.
    await expect.poll(async () => (await a.get("/api/concurrency-limits/k")).body.waiting.length).toBe(1);
    expect(answered).toBe(false);
    const del = await w.releaseSlot(runs[0].runId, held.slotId);
    expect(del.status).toBe(204);
    const got = await waiting;
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ state: "HELD" });
    expect((await w.releaseSlot(runs[0].runId, held.slotId)).status).toBe(204);
    expect((await w.releaseSlot(runs[0].runId, "999999")).status).toBe(204);
    // Another run's slot is not released through this run's path.
    expect((await w.releaseSlot(runs[0].runId, got.body.slotId)).status).toBe(204);
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[1].runId]);
  });

  it("refuses: 409 when the run is not RUNNING or not this worker's, 404 unknown run/worker, 400 bad body, 401 bad token", async () => {
    const { env, a, w, runs, workerIds } = await setup(2, 2);
    const [r1, r2] = runs;
    const wrong = await w.slot(r2.workerId, r1.runId, slot("k"));
    expect(wrong.status).toBe(409);
    expect((await w.slot(r1.workerId, "999999", slot("k"))).status).toBe(404);
    expect((await w.slot("wkr_nobody", r1.runId, slot("k"))).status).toBe(404);
    const badKey = await w.slot(r1.workerId, r1.runId, slot("not a key"));
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.details.field).toBe("key");
    const badCall = await w.slot(r1.workerId, r1.runId, { key: "k", call: -1, task: "t" });
    expect(badCall.body.error.details.field).toBe("call");
    expect((await api(env).worker("acme", "wrong-token").slot(r1.workerId, r1.runId, slot("k"))).status).toBe(401);
    expect((await api(env).worker("acme", "wrong-token").releaseSlot(r1.runId, "1")).status).toBe(401);
    await w.events(r1.workerId, r1.runId, [{ seq: 1, type: "run_completed" }]);
    const finished = await w.slot(r1.workerId, r1.runId, slot("k"));
    expect(finished.status).toBe(409);
    expect(finished.body.error.details.state).toBe("COMPLETED");
    expect(workerIds).toHaveLength(2);
    expect((await a.get("/api/concurrency-limits")).body.limits).toEqual([]);
  });

  it("a key without a limit is unlimited but listed; a limit of 0 holds everyone; raising it grants in order; deleting it grants the rest", async () => {
    const { a, w, runs } = await setup(3);
    expect((await w.slot(runs[0].workerId, runs[0].runId, slot("free"))).body.state).toBe("HELD");
    expect((await w.slot(runs[1].workerId, runs[1].runId, slot("free"))).body.state).toBe("HELD");
    const free = (await a.get("/api/concurrency-limits/free")).body;
    expect(free).toMatchObject({ key: "free", limit: null, held: 2 });
    await a.put("/api/concurrency-limits/z", { limit: 0 });
    for (const r of runs) expect((await w.slot(r.workerId, r.runId, slot("z"))).body.state).toBe("WAITING");
    await a.put("/api/concurrency-limits/z", { limit: 1 });
    const after = (await a.get("/api/concurrency-limits/z")).body;
    expect(after.holders.map((h: any) => h.runId)).toEqual([runs[0].runId]);
    expect(after.waiting.map((h: any) => h.runId)).toEqual([runs[1].runId, runs[2].runId]);
    expect((await a.del("/api/concurrency-limits/z")).status).toBe(204);
    const unlimited = (await a.get("/api/concurrency-limits/z")).body;
    expect(unlimited).toMatchObject({ limit: null, held: 3, waiting: [] });
  });

  it("a run's end frees its slots in the same transaction and grants the next in line", async () => {
    const { env, a, w, runs } = await setup(3);
    const changes: any[] = [];
    env.engine.feed.subscribe((c) => changes.push(c));
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    await w.slot(runs[0].workerId, runs[0].runId, slot("k"));
    await w.slot(runs[1].workerId, runs[1].runId, slot("k"));
    await w.slot(runs[2].workerId, runs[2].runId, slot("k"));
    await w.events(runs[0].workerId, runs[0].runId, [{ seq: 1, type: "run_failed", error: "boom" }]);
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[1].runId]);
    // A cancel of a RUNNING run is only a request; the worker's run_cancelled ends it.
    await a.post(`/api/runs/${runs[1].runId}/cancel`, {});
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[1].runId]);
    await w.events(runs[1].workerId, runs[1].runId, [{ seq: 1, type: "run_cancelled" }]);
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[2].runId]);
    await w.events(runs[2].workerId, runs[2].runId, [{ seq: 1, type: "run_completed" }]);
    expect((await a.get("/api/concurrency-limits/k")).body).toMatchObject({ held: 0, holders: [], waiting: [] });
    expect(changes.filter((c) => c.kind === "concurrency").every((c) => c.key === "k")).toBe(true);
    expect(changes.some((c) => c.kind === "concurrency")).toBe(true);
  });

  it("a requeued claim (never reported in two heartbeats) gives its slot back", async () => {
    const { a, w, runs } = await setup(2);
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    await w.slot(runs[0].workerId, runs[0].runId, slot("k"));
    await w.slot(runs[1].workerId, runs[1].runId, slot("k"));
    await w.events(runs[1].workerId, runs[1].runId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    await w.heartbeat(runs[0].workerId, [runs[1].runId]);
    await w.heartbeat(runs[0].workerId, [runs[1].runId]);
    expect((await a.get(`/api/runs/${runs[0].runId}`)).body.state).toBe("PENDING");
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[1].runId]);
  });

  it("the heartbeat monitor fails a silent worker's run and its slot goes to the waiter of a live worker", async () => {
    const { env, a, w, runs } = await setup(2, 2);
    const clock = env.clock as ManualClock;
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    const [dead, alive] = runs;
    expect((await w.slot(dead.workerId, dead.runId, slot("k"))).body.state).toBe("HELD");
    expect((await w.slot(alive.workerId, alive.runId, slot("k"))).body.state).toBe("WAITING");
    clock.advance(10_000);
    await w.heartbeat(alive.workerId, [alive.runId]);
    clock.advance(6_000);
    await w.heartbeat(alive.workerId, [alive.runId]);
    await env.engine.tick();
    expect((await a.get(`/api/runs/${dead.runId}`)).body.state).toBe("FAILED");
    expect((await a.get(`/api/runs/${alive.runId}`)).body.state).toBe("RUNNING");
    const k = (await a.get("/api/concurrency-limits/k")).body;
    expect(k.holders.map((h: any) => h.runId)).toEqual([alive.runId]);
    expect(k.waiting).toEqual([]);
    expect((await w.slot(alive.workerId, alive.runId, slot("k"))).body.state).toBe("HELD");
  });

  it("the monitor's sweep frees slots of a run that ended without freeing them, and grants the line", async () => {
    const { env, a, w, runs } = await setup(2);
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    await w.slot(runs[0].workerId, runs[0].runId, slot("k"));
    await w.slot(runs[1].workerId, runs[1].runId, slot("k"));
    // Ended behind the engine's back (a path that forgot the slots): only the sweep can help.
    await env.store.updateRun(Number(runs[0].runId), { state: "FAILED", endedAt: env.clock.now() });
    expect((await a.get("/api/concurrency-limits/k")).body.holders.map((h: any) => h.runId)).toEqual([runs[0].runId]);
    await env.engine.tick();
    const k = (await a.get("/api/concurrency-limits/k")).body;
    expect(k.holders.map((h: any) => h.runId)).toEqual([runs[1].runId]);
    expect(k.waiting).toEqual([]);
  });

  it("a waiter whose run ends while it waits is answered 409", async () => {
    const { a, w, runs } = await setup(2);
    await a.put("/api/concurrency-limits/k", { limit: 1 });
    await w.slot(runs[0].workerId, runs[0].runId, slot("k"));
    const waiting = w.slot(runs[1].workerId, runs[1].runId, { ...slot("k"), waitMs: 20_000 });
    await expect.poll(async () => (await a.get("/api/concurrency-limits/k")).body.waiting.length).toBe(1);
    await w.events(runs[1].workerId, runs[1].runId, [{ seq: 1, type: "run_failed", error: "gave up" }]);
    const r = await waiting;
    expect(r.status).toBe(409);
    expect(r.body.error.details.state).toBe("FAILED");
  });
});
