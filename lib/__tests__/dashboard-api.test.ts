import { describe, expect, it } from "vitest";
import { openStream } from "../../test/support/sse";
import { ETL_FLOW, api, fullRunEvents, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine();

async function setup() {
  const env = fresh();
  const a = api(env);
  const w = a.worker();
  const reg = (await w.register([ETL_FLOW])).body;
  return { env, a, w, workerId: reg.workerId as string, flowId: reg.flows[0].id as string };
}

describe("dashboard API", () => {
  it("a trigger answers with the run as created (PENDING), also when a waiting poll claims it at once", async () => {
    const { a, w, workerId, flowId } = await setup();
    for (let i = 0; i < 5; i++) {
      const polled = w.poll(workerId, { waitMs: 10_000 });
      // Whether the poll is already parked or arrives after the trigger, it takes this run.
      const triggered = await a.post(`/api/flows/${flowId}/runs`, {});
      expect(triggered.status).toBe(201);
      expect(triggered.body.state).toBe("PENDING");
      const claimed = (await polled).body.runs.map((r: { id: string }) => r.id);
      expect(claimed).toEqual([triggered.body.id]);
      expect((await a.get(`/api/runs/${triggered.body.id}`)).body.state).toBe("RUNNING");
    }
  });

  it("retry: a new run of the same flow and parameters, linked both ways; 409 while the run is not finished", async () => {
    const { a, w, workerId, flowId } = await setup();
    const first = (await a.post(`/api/flows/${flowId}/runs`, { parameters: { day: "2026-11-30", limit: 7 } })).body;
    const early = await a.post(`/api/runs/${first.id}/retry`);
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/still PENDING/);
    await w.poll(workerId);
    await w.events(workerId, first.id, [{ seq: 1, type: "run_failed", error: "boom" }]);
    const retried = await a.post(`/api/runs/${first.id}/retry`, undefined, { "x-perfect-ui": "1" });
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ state: "PENDING", retryOf: first.id, trigger: "ui", flowId, parameters: { day: "2026-11-30", limit: 7 }, retries: [] });
    expect(retried.body.id).not.toBe(first.id);
    expect((await a.get(`/api/runs/${first.id}`)).body).toMatchObject({ retryOf: null, retries: [retried.body.id] });
    expect((await a.post(`/api/runs/999999/retry`)).status).toBe(404);
    expect((await a.post(`/api/runs/${first.id}/retry`, undefined, { origin: "https://evil.example", "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await a.get(`/api/runs/${first.id}`)).body.retries).toEqual([retried.body.id]);
  });

  it("health answers once the database is open", async () => {
    const { a } = await setup();
    expect((await a.get("/api/health")).body).toEqual({ ok: true });
  });

  it("lists flows with tags, tasks, parameters, client, online state and last run", async () => {
    const { a, flowId } = await setup();
    const run = (await a.post(`/api/flows/${flowId}/runs`, {}, { "x-perfect-ui": "1" })).body;
    expect(run.trigger).toBe("ui");
    const flows = (await a.get("/api/flows?name=sales")).body.flows;
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      id: flowId,
      name: "Daily Sales ETL",
      tags: { team: "data-eng", priority: "high" },
      clientId: "acme",
      online: true,
      tasks: [
        { name: "extract", estimatedTime: 3000 },
        { name: "transform", estimatedTime: 2000 },
        { name: "load", estimatedTime: 1000 },
      ],
      parameters: [
        { name: "day", type: "str", default: "today", required: false },
        { name: "limit", type: "int", default: 100, required: false },
      ],
      lastRun: { id: run.id, state: "PENDING" },
    });
    expect((await a.get("/api/flows?name=zzz")).body.flows).toEqual([]);
    expect((await a.get(`/api/flows/${flowId}`)).body.name).toBe("Daily Sales ETL");
  });

  it("re-registering replaces the definition and keeps history", async () => {
    const { a, w, flowId } = await setup();
    const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    const again = (await w.register([{ ...ETL_FLOW, description: "v2", tasks: [{ name: "only" }] }])).body;
    expect(again.flows[0].id).toBe(flowId);
    const flow = (await a.get(`/api/flows/${flowId}`)).body;
    expect(flow.description).toBe("v2");
    expect(flow.tasks.map((t: any) => t.name)).toEqual(["only"]);
    expect((await a.get(`/api/runs/${run.id}`)).body.taskRuns).toHaveLength(3);
  });

  it("cancel: PENDING → CANCELLED at once; RUNNING → at the worker's next task boundary", async () => {
    const { a, w, workerId, flowId } = await setup();
    const pending = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    const cancelled = await a.post(`/api/runs/${pending.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe("CANCELLED");
    expect(cancelled.body.taskRuns.every((t: any) => t.state === "CANCELLED")).toBe(true);
    expect((await w.poll(workerId)).body.runs).toEqual([]); // never dispatched
    expect((await a.post(`/api/runs/${pending.id}/cancel`, {})).status).toBe(409);

    const live = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    await w.poll(workerId);
    const ev1 = await w.events(workerId, live.id, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    expect(ev1.body.cancelRequested).toBe(false);
    const req = (await a.post(`/api/runs/${live.id}/cancel`, {})).body;
    expect(req.state).toBe("RUNNING");
    expect(req.cancelRequested).toBe(true);
    expect((await w.heartbeat(workerId, [live.id])).body.cancelledRunIds).toEqual([live.id]);
    const ev2 = await w.events(workerId, live.id, [{ seq: 2, type: "task_completed", call: 0 }]);
    expect(ev2.body.cancelRequested).toBe(true);
    await w.events(workerId, live.id, [{ seq: 3, type: "run_cancelled" }]);
    const done = (await a.get(`/api/runs/${live.id}`)).body;
    expect(done.state).toBe("CANCELLED");
    expect(done.taskRuns.map((t: any) => t.state)).toEqual(["COMPLETED", "CANCELLED", "CANCELLED"]);
  });

  it("mutating routes accept only JSON from the same origin", async () => {
    const { env, a, flowId } = await setup();
    const form = await fetch(`${env.url}/api/flows/${flowId}/runs`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"parameters":{}}',
    });
    expect(form.status).toBe(415);
    const foreign = await a.post(`/api/flows/${flowId}/runs`, {}, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    const crossSite = await a.post(`/api/flows/${flowId}/runs`, {}, { "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);
    const same = await a.post(`/api/flows/${flowId}/runs`, {}, { origin: env.url });
    expect(same.status).toBe(201);
    const runs = (await a.get("/api/runs")).body.runs;
    expect(runs).toHaveLength(1);
  });

  it("streams changes over SSE", async () => {
    const { env, a, w, workerId, flowId } = await setup();
    const stream = await openStream(env.url);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.headers.get("cache-control")).toContain("no-transform");
    const seen = stream.changes;
    await new Promise((r) => setTimeout(r, 50));
    const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    await w.poll(workerId);
    await w.events(workerId, run.id, fullRunEvents());
    await new Promise((r) => setTimeout(r, 100));
    await stream.close();
    const logIds = (await a.get(`/api/runs/${run.id}/logs`)).body.logs.map((l: any) => l.id);
    expect(seen.filter((c) => c.kind === "log").map((c) => c.lastLogId)).toEqual([logIds.at(-1)]);
    expect(seen.filter((c) => c.kind === "taskRun").every((c) => c.state === "COMPLETED")).toBe(true);
    const kinds = new Set(seen.map((c) => c.kind));
    expect(kinds).toEqual(new Set(["run", "taskRun", "log", "stats"]));
    expect(seen.filter((c) => c.kind === "run").map((c) => c.state)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
  });

  it("serves a self-contained HTML report with every user string escaped", async () => {
    const { a, w, workerId } = await setup();
    const evil = "<script>alert(1)</script><img src=x onerror=alert(1)>";
    const reg = (await w.register([{ name: `Flow ${evil}`, tags: { team: evil }, tasks: [{ name: "t" }] }])).body;
    const run = (await a.post(`/api/flows/${reg.flows[0].id}/runs`, {})).body;
    await w.poll(workerId);
    await w.poll(reg.workerId);
    const owner = (await a.get(`/api/runs/${run.id}`)).body.workerId;
    await w.events(owner, run.id, [
      { seq: 1, type: "task_started", call: 0, task: "t" },
      { seq: 2, type: "log", call: 0, level: "ERROR", message: evil },
      { seq: 3, type: "task_failed", call: 0, error: evil },
      { seq: 4, type: "run_failed", error: evil },
    ]);
    const res = await a.get(`/api/runs/${run.id}/report`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-disposition")).toContain("attachment");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html: string = res.body;
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).toContain("Tasks");
  });

  it("truncates a log line over 16 KiB with a marker", async () => {
    const { a, w, workerId, flowId } = await setup();
    const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    await w.poll(workerId);
    await w.events(workerId, run.id, [{ seq: 1, type: "log", level: "INFO", message: "é".repeat(20_000) }]);
    const log = (await a.get(`/api/runs/${run.id}/logs`)).body.logs[0];
    expect(Buffer.byteLength(log.message)).toBeLessThan(16 * 1024 + 100);
    expect(log.message).toMatch(/… \[truncated \d+ bytes\]$/);
  });
  it("logs ?q= filters by case-insensitive substring with level kept; an over-long q is a 400 naming the field", async () => {
    const { a, w, workerId, flowId } = await setup();
    const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
    await w.poll(workerId);
    await w.events(workerId, run.id, [
      { seq: 1, type: "log", level: "INFO", message: "Loading <b>Rows</b>" },
      { seq: 2, type: "log", level: "ERROR", message: "rows failed" },
      { seq: 3, type: "log", level: "INFO", message: "other" },
    ]);
    const messages = async (qs: string) => (await a.get(`/api/runs/${run.id}/logs?${qs}`)).body.logs.map((l: any) => l.message);
    expect(await messages("q=ROWS")).toEqual(["Loading <b>Rows</b>", "rows failed"]);
    expect(await messages("q=rows&level=ERROR")).toEqual(["rows failed"]);
    expect(await messages(`q=${encodeURIComponent("<b>")}`)).toEqual(["Loading <b>Rows</b>"]);
    expect(await messages("q=")).toEqual(["Loading <b>Rows</b>", "rows failed", "other"]);
    const bad = await a.get(`/api/runs/${run.id}/logs?q=${"x".repeat(201)}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("q");
  });
});
