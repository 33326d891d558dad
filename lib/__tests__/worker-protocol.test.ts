import { describe, expect, it } from "vitest";
import type { ManualClock } from "../engine/clock";
import { ETL_FLOW, api, fullRunEvents, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine();

async function setup() {
  const env = fresh();
  const a = api(env);
  const w = a.worker();
  const reg = await w.register([ETL_FLOW], { worker: { hostname: "h", pid: 1 } });
  expect(reg.status).toBe(200);
  return { env, a, w, workerId: reg.body.workerId as string, flowId: reg.body.flows[0].id as string };
}

describe("worker protocol", () => {
  it("register → trigger → poll → events → COMPLETED", async () => {
    const { a, w, workerId, flowId } = await setup();
    const trig = await a.post(`/api/flows/${flowId}/runs`, { parameters: { day: "2026-11-24" } });
    expect(trig.status).toBe(201);
    expect(trig.body.state).toBe("PENDING");
    expect(trig.body.parameters).toEqual({ day: "2026-11-24", limit: 100 });
    expect(trig.body.tags).toEqual({ team: "data-eng", priority: "high" });
    expect(trig.body.trigger).toBe("api");
    const poll = await w.poll(workerId);
    expect(poll.status).toBe(200);
    expect(poll.body.runs).toHaveLength(1);
    const runId = poll.body.runs[0].id;
    expect(poll.body.runs[0].parameters).toEqual({ day: "2026-11-24", limit: 100 });
    const ev = await w.events(workerId, runId, fullRunEvents());
    expect(ev.status).toBe(200);
    expect(ev.body).toMatchObject({ applied: 10, duplicates: 0, lastSeq: 10, state: "COMPLETED" });
    const run = await a.get(`/api/runs/${runId}`);
    expect(run.body.state).toBe("COMPLETED");
    expect(run.body.progress).toBe(1);
    expect(run.body.taskRuns.map((t: any) => [t.name, t.state, t.durationMs])).toEqual([
      ["extract", "COMPLETED", 30],
      ["transform", "COMPLETED", 20],
      ["load", "COMPLETED", 10],
    ]);
    const logs = await a.get(`/api/runs/${runId}/logs`);
    expect(logs.body.logs.map((l: any) => l.message)).toEqual(["extract running", "transform running", "load running"]);
    expect(logs.body.logs[0].taskRunId).toBe(run.body.taskRuns[0].id);
  });

  it("answers a waiting poll when a run is triggered, and not before", async () => {
    const { a, w, workerId, flowId } = await setup();
    let answered = false;
    const pending = w.poll(workerId, { waitMs: 5000 }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(answered).toBe(false);
    const trig = await a.post(`/api/flows/${flowId}/runs`, {});
    const res = await pending;
    expect(res.body.runs.map((r: any) => r.id)).toEqual([trig.body.id]);
  });

  it("an idle poll answers an empty list after waitMs", async () => {
    const { w, workerId } = await setup();
    const res = await w.poll(workerId, { waitMs: 50 });
    expect(res.status).toBe(200);
    expect(res.body.runs).toEqual([]);
  });

  it("two concurrent pollers never receive the same run", async () => {
    const { a, w, flowId } = await setup();
    const w2 = (await w.register([ETL_FLOW])).body.workerId;
    const w1 = (await w.register([ETL_FLOW])).body.workerId;
    const polls = [w.poll(w1, { waitMs: 3000, maxRuns: 5 }), w.poll(w2, { waitMs: 3000, maxRuns: 5 })];
    await new Promise((r) => setTimeout(r, 50));
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await a.post(`/api/flows/${flowId}/runs`, {})).body.id);
    const got: string[] = [];
    for (const p of polls) got.push(...(await p).body.runs.map((r: any) => r.id));
    // Keep polling until every run is claimed by someone.
    for (let i = 0; i < 20 && got.length < ids.length; i++) {
      const [r1, r2] = await Promise.all([w.poll(w1, { maxRuns: 3 }), w.poll(w2, { maxRuns: 3 })]);
      got.push(...r1.body.runs.map((r: any) => r.id), ...r2.body.runs.map((r: any) => r.id));
    }
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual([...ids].sort());
  });

  it("the same event batch sent twice stores each event once", async () => {
    const { env, a, w, workerId, flowId } = await setup();
    await a.post(`/api/flows/${flowId}/runs`, {});
    const runId = (await w.poll(workerId)).body.runs[0].id;
    const batch = fullRunEvents().slice(0, 5);
    expect((await w.events(workerId, runId, batch)).body).toMatchObject({ applied: 5, duplicates: 0 });
    expect((await w.events(workerId, runId, batch)).body).toMatchObject({ applied: 0, duplicates: 5 });
    const rest = fullRunEvents();
    expect((await w.events(workerId, runId, rest)).body).toMatchObject({ applied: 5, duplicates: 5, state: "COMPLETED" });
    // The final batch's answer was lost: re-sending it is still a 200, not a 409.
    expect((await w.events(workerId, runId, rest)).status).toBe(200);
    const count = env.db.$client.prepare("select count(*) c from logs where run_id = ?").get(Number(runId)) as { c: number };
    expect(count.c).toBe(3);
  });

  it("events after a terminal state get 409 and change nothing", async () => {
    const { env, a, w, workerId, flowId } = await setup();
    await a.post(`/api/flows/${flowId}/runs`, {});
    const runId = (await w.poll(workerId)).body.runs[0].id;
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }, { seq: 2, type: "run_failed", error: "boom" }]);
    const late = await w.events(workerId, runId, [
      { seq: 3, type: "log", level: "INFO", message: "late" },
      { seq: 4, type: "run_completed" },
    ]);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("run_finished");
    expect(late.body.error.details.state).toBe("FAILED");
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect(run.state).toBe("FAILED");
    expect(run.error).toBe("boom");
    const logs = env.db.$client.prepare("select count(*) c from logs where run_id = ?").get(Number(runId)) as { c: number };
    expect(logs.c).toBe(0);
  });

  it("a missing or wrong token is 401 and registers nothing", async () => {
    const env = fresh();
    const a = api(env);
    for (const w of [a.worker("acme", "nope"), a.worker("acme", ""), a.worker("ghost", "acme-token"), a.worker("other", "acme-token")]) {
      const r = await w.register([ETL_FLOW]);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("unauthorized");
    }
    const noHeader = await a.call("POST", "/api/worker/acme/register", { flows: [ETL_FLOW] });
    expect(noHeader.status).toBe(401);
    expect((await a.get("/api/flows")).body.flows).toEqual([]);
  });

  it("a client cannot act on another client's run (403)", async () => {
    const { a, w, workerId, flowId } = await setup();
    await a.post(`/api/flows/${flowId}/runs`, {});
    const runId = (await w.poll(workerId)).body.runs[0].id;
    const other = a.worker("other", "other-token");
    const otherId = (await other.register([])).body.workerId;
    const r = await other.events(otherId, runId, [{ seq: 1, type: "run_completed" }]);
    expect(r.status).toBe(403);
    // A worker id of another client is refused too.
    expect((await w.poll(otherId)).status).toBe(403);
  });

  it("malformed JSON, wrong types, unknown ids and oversized bodies are refused with the error shape", async () => {
    const { env, a, w, workerId, flowId } = await setup();
    const auth = { authorization: "Bearer acme-token" };
    const bad = await a.call("POST", "/api/worker/acme/poll", "{not json", auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_json");
    const wrongType = await a.call("POST", "/api/worker/acme/poll", { workerId, maxRuns: "three" }, auth);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toContain("maxRuns");
    expect(wrongType.body.error.details.field).toBe("maxRuns");
    const badEvent = await w.events(workerId, "1", [{ seq: 1, type: "task_progress", call: 0, progress: 7 }]);
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.details.field).toBe("events.0.progress");
    expect((await a.get("/api/runs/999999")).status).toBe(404);
    expect((await a.get("/api/runs/abc")).status).toBe(404);
    expect((await a.get("/api/flows/424242")).status).toBe(404);
    expect((await a.post("/api/flows/424242/runs", {})).status).toBe(404);
    expect((await w.events(workerId, "999", [{ seq: 1, type: "run_completed" }])).status).toBe(404);
    expect((await w.poll("wkr_unknown")).status).toBe(404);
    const badParam = await a.post(`/api/flows/${flowId}/runs`, { parameters: { limit: "lots" } });
    expect(badParam.status).toBe(400);
    expect(badParam.body.error.details.field).toBe("parameters.limit");
    const unknownParam = await a.post(`/api/flows/${flowId}/runs`, { parameters: { nope: 1 } });
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.body.error.message).toContain("parameters.nope");
    const huge = "x".repeat(1024 * 1024 + 10);
    const big = await a.call("POST", "/api/worker/acme/register", JSON.stringify({ flows: [], pad: huge }), { ...auth, "content-type": "application/json" });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("payload_too_large");
    for (const r of [bad, wrongType, badEvent, badParam, big]) expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/);
    const runs = env.db.$client.prepare("select count(*) c from runs").get() as { c: number };
    expect(runs.c).toBe(0);
  });

  it("accepts the SDK's maxParallelTasks and timeoutSeconds, and refuses bad ones naming the field", async () => {
    const { a, w } = await setup();
    const ok = await w.register([{ ...ETL_FLOW, maxParallelTasks: 8, timeoutSeconds: 2.5 }]);
    expect(ok.status).toBe(200);
    const flow = await a.get(`/api/flows/${ok.body.flows[0].id}`);
    expect(flow.status).toBe(200);
    expect(flow.body).not.toHaveProperty("maxParallelTasks"); // informational: the SDK enforces both
    for (const [field, value] of [["maxParallelTasks", 0], ["maxParallelTasks", 1001], ["maxParallelTasks", 2.5], ["timeoutSeconds", 0], ["timeoutSeconds", "1"]] as const) {
      const bad = await w.register([{ ...ETL_FLOW, [field]: value }]);
      expect(bad.status, `${field}=${value}`).toBe(400);
      expect(bad.body.error.details.field).toBe(`flows.0.${field}`);
    }
  });

  it("task runs for undeclared tasks are added when they start; a repeated task gets its own row", async () => {
    const { a, w, workerId, flowId } = await setup();
    await a.post(`/api/flows/${flowId}/runs`, {});
    const runId = (await w.poll(workerId)).body.runs[0].id;
    await w.events(workerId, runId, [
      { seq: 1, type: "task_started", call: 0, task: "extract" },
      { seq: 2, type: "task_completed", call: 0 },
      { seq: 3, type: "task_started", call: 1, task: "audit" },
      { seq: 4, type: "task_progress", call: 1, progress: 0.5 },
    ]);
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect(run.taskRuns.map((t: any) => [t.name, t.state])).toEqual([
      ["extract", "COMPLETED"],
      ["transform", "PENDING"],
      ["load", "PENDING"],
      ["audit", "RUNNING"],
    ]);
    expect(run.taskRuns[3].weight).toBe(2000);
    expect(run.taskRuns[3].progress).toBe(0.5);
    // (3000·1 + 2000·0.5) / (3000 + 2000 + 1000 + 2000)
    expect(run.progress).toBeCloseTo(4000 / 8000, 5);
  });

  it("a run's progress read between batches never goes backwards when a mapped call adds weight", async () => {
    const { env, a, w } = await setup();
    const reg = await w.register([{ name: "Fan Out", tasks: [{ name: "fan", estimatedTime: 1000 }], parameters: [] }]);
    const workerId = reg.body.workerId as string;
    await a.post(`/api/flows/${reg.body.flows[0].id}/runs`, {});
    const runId = (await w.poll(workerId)).body.runs[0].id;
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "fan" }]);
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      (env.clock as ManualClock).advance(300); // the first call runs on, by time alone, towards its estimate
      seen.push((await a.get(`/api/runs/${runId}`)).body.progress);
    }
    // The map's next call starts: the run's total weight doubles.
    await w.events(workerId, runId, [{ seq: 2, type: "task_started", call: 1, task: "fan" }]);
    seen.push((await a.get(`/api/runs/${runId}`)).body.progress);
    await env.engine.tick();
    seen.push((await a.get(`/api/runs/${runId}`)).body.progress);
    for (let i = 1; i < seen.length; i++) expect(seen[i], `read ${i}: ${seen.join(", ")}`).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(seen[seen.length - 1]).toBeGreaterThan(0);
  });
});
