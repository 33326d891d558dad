/**
 * Artifacts, variables and direct runs over real HTTP on a real engine (SQLite, or PostgreSQL
 * with PERFECT_TEST_BACKEND=postgres): the worker routes that create a local run and publish or
 * update a run's artifacts, `GET /api/runs/{id}/artifacts`, the variables routes (dashboard and
 * worker), every refusal (400 naming the field, 401, 403, 404, 409) with nothing written — and
 * the run view's artifact rendering, where markdown HTML stays text and only http(s) links
 * become hrefs.
 */
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { ArtifactBody, safeHref } from "../../components/runs/artifacts-panel";
import type { ArtifactView } from "../contracts/artifacts";
import { ETL_FLOW, api, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine({ heartbeatTimeoutMs: 15_000 });

/** A registered worker with a direct (local) run of ETL_FLOW. */
async function localRun() {
  const env = fresh();
  const a = api(env);
  const w = a.worker();
  const reg = await w.register([ETL_FLOW]);
  const workerId = reg.body.workerId as string;
  const started = await w.call("/runs", { workerId, flow: ETL_FLOW.name, parameters: { day: "2026-12-01" } });
  return { env, a, w, workerId, started, runId: started.body.run?.id as string };
}

const md = (markdown: string) => ({ type: "markdown", data: { markdown } });

describe("direct runs: POST /api/worker/{clientId}/runs", () => {
  it("creates a RUNNING run of a flow the worker registered, trigger local, parameters checked", async () => {
    const { a, w, workerId, started, runId } = await localRun();
    expect(started.status).toBe(201);
    expect(started.body.run).toMatchObject({ flowName: ETL_FLOW.name, parameters: { day: "2026-12-01", limit: 100 } });
    const run = (await a.get(`/api/runs/${runId}`)).body;
    expect([run.state, run.trigger, run.workerId, run.triggeredBy]).toEqual(["RUNNING", "local", workerId, `worker ${workerId}`]);
    expect(run.taskRuns.map((t: any) => t.name)).toEqual(["extract", "transform", "load"]);
    // it reports like a dispatched run and heartbeats keep it
    const done = await w.events(workerId, runId, [{ seq: 1, type: "run_completed" }]);
    expect(done.status).toBe(200);
    expect((await a.get(`/api/runs/${runId}`)).body.state).toBe("COMPLETED");

    const bad = await w.call("/runs", { workerId, flow: ETL_FLOW.name, parameters: { limit: "many" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toContain("limit");
    expect((await w.call("/runs", { workerId, flow: "Not Registered" })).status).toBe(404);
    expect((await w.call("/runs", { workerId: "wkr_nobody", flow: ETL_FLOW.name })).status).toBe(404);
    expect((await w.call("/runs", { flow: ETL_FLOW.name })).status).toBe(400);
    expect((await a.worker("acme", "wrong").call("/runs", { workerId, flow: ETL_FLOW.name })).status).toBe(401);
    expect((await a.get("/api/runs")).body.runs).toHaveLength(1); // the refusals wrote nothing
  });
});

describe("artifacts", () => {
  it("publishes each type, updates a keyed progress artifact in place, lists them oldest first", async () => {
    const { a, w, workerId, runId } = await localRun();
    await w.events(workerId, runId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    const created = await w.call(`/runs/${runId}/artifacts`, { workerId, key: "report", description: "d", call: 0, ...md("# Hi <script>x</script>") });
    expect(created.status).toBe(201);
    expect(created.body.artifact).toMatchObject({ runId, key: "report", type: "markdown", description: "d", data: { markdown: "# Hi <script>x</script>" } });
    expect(created.body.artifact.taskRunId).not.toBeNull();
    const table = await w.call(`/runs/${runId}/artifacts`, { workerId, type: "table", data: { columns: ["a", "b"], rows: [[1, "x"], [null, true]] } });
    expect(table.status).toBe(201);
    expect((await w.call(`/runs/${runId}/artifacts`, { workerId, type: "link", data: { url: "https://example.com/x", text: "x" } })).status).toBe(201);
    const p1 = await w.call(`/runs/${runId}/artifacts`, { workerId, type: "progress", key: "load", data: { progress: 10 } });
    const p2 = await w.call(`/runs/${runId}/artifacts`, { workerId, type: "progress", key: "load", data: { progress: 60 } });
    expect(p2.body.artifact.id).toBe(p1.body.artifact.id);
    const patched = await a.call("PATCH", `/api/worker/acme/runs/${runId}/artifacts/${p1.body.artifact.id}`, { workerId, data: { progress: 75 } }, { authorization: "Bearer acme-token" });
    expect(patched.status).toBe(200);
    expect(patched.body.artifact.data).toEqual({ progress: 75 });
    const list = await a.get(`/api/runs/${runId}/artifacts`);
    expect(list.status).toBe(200);
    expect(list.body.artifacts.map((x: any) => [x.type, x.key])).toEqual([["markdown", "report"], ["table", null], ["link", null], ["progress", "load"]]);
    expect(list.body.artifacts[3].data).toEqual({ progress: 75 });
    expect((await a.get("/api/runs/999999/artifacts")).status).toBe(404);
    // the run report shows them too, escaped
    const report = await a.get(`/api/runs/${runId}/report`);
    expect(report.status).toBe(200);
    expect(report.body).toContain("Artifacts (4)");
    expect(report.body).toContain("# Hi &lt;script&gt;x&lt;/script&gt;");
    expect(report.body).not.toContain("<script>");
    expect(report.body).toContain('href="https://example.com/x"');
    expect(report.body).toContain("75 %");
  });

  it("400 naming the field, 403/404/409 for a run that is not this worker's running run; nothing written", async () => {
    const { a, w, workerId, runId } = await localRun();
    const bad = async (body: Record<string, unknown>, field: string) => {
      const r = await w.call(`/runs/${runId}/artifacts`, { workerId, ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.body.error.details.field)).toContain(field);
    };
    await bad({ type: "link", data: { url: "javascript:alert(1)" } }, "url");
    await bad({ type: "link", data: { url: "data:text/html,<b>" } }, "url");
    await bad({ type: "progress", data: { progress: 101 } }, "progress");
    await bad({ type: "markdown", data: { markdown: 5 } }, "markdown");
    await bad({ type: "chart", data: {} }, "type");
    await bad({ ...md("x"), key: "Not A Key" }, "key");
    await bad({ type: "table", data: { columns: ["a"], rows: [[{ nested: 1 }]] } }, "rows");
    const p = await w.call(`/runs/${runId}/artifacts`, { workerId, type: "progress", data: { progress: 1 } });
    const patch = (body: unknown, id = p.body.artifact.id) =>
      a.call("PATCH", `/api/worker/acme/runs/${runId}/artifacts/${id}`, body, { authorization: "Bearer acme-token" });
    expect((await patch({ workerId, data: { progress: "x" } })).body.error.details.field).toBe("data.progress");
    expect((await patch({ workerId, data: { progress: 5 } }, "999999")).status).toBe(404);
    const other = (await a.worker().register([ETL_FLOW])).body.workerId;
    expect((await w.call(`/runs/${runId}/artifacts`, { workerId: other, ...md("x") })).status).toBe(409);
    expect((await w.call(`/runs/999999/artifacts`, { workerId, ...md("x") })).status).toBe(404);
    expect((await a.worker("acme", "nope").call(`/runs/${runId}/artifacts`, { workerId, ...md("x") })).status).toBe(401);
    await w.events(workerId, runId, [{ seq: 1, type: "run_completed" }]);
    const late = await w.call(`/runs/${runId}/artifacts`, { workerId, ...md("late") });
    expect(late.status).toBe(409);
    expect((await a.get(`/api/runs/${runId}/artifacts`)).body.artifacts.map((x: any) => x.data)).toEqual([{ progress: 1 }]);
  });
});

describe("variables", () => {
  it("dashboard GET/PUT/DELETE and the worker's GET/PUT share one store; bad names and values are 400", async () => {
    const { a, w } = await localRun();
    expect((await a.get("/api/variables")).body).toEqual({ variables: [] });
    const put = await a.put("/api/variables/warehouse.dsn", { value: { host: "db", port: 5432 } });
    expect(put.status).toBe(200);
    expect(put.body.variable).toMatchObject({ name: "warehouse.dsn", value: { host: "db", port: 5432 } });
    const seen = await a.call("GET", "/api/worker/acme/variables/warehouse.dsn", undefined, { authorization: "Bearer acme-token" });
    expect([seen.status, seen.body.variable.value]).toEqual([200, { host: "db", port: 5432 }]);
    const set = await a.call("PUT", "/api/worker/acme/variables/__proto__", { value: [1, 2] }, { authorization: "Bearer acme-token" });
    expect(set.status).toBe(200);
    expect((await a.get("/api/variables")).body.variables.map((v: any) => [v.name, v.value])).toEqual([["__proto__", [1, 2]], ["warehouse.dsn", { host: "db", port: 5432 }]]);
    expect((await a.get("/api/variables/__proto__")).body.variable.value).toEqual([1, 2]);
    expect((await a.put("/api/variables/bad%20name", { value: 1 })).body.error.details.field).toBe("name");
    expect((await a.put("/api/variables/ok", {})).body.error.details.field).toBe("value");
    expect((await a.put("/api/variables/ok", { value: "x".repeat(70_000) })).status).toBe(400);
    expect((await a.call("PUT", "/api/variables/ok", { value: 1 }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await a.call("GET", "/api/worker/acme/variables/ok", undefined, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await a.get("/api/variables/ok")).status).toBe(404);
    expect((await a.del("/api/variables/warehouse.dsn")).status).toBe(204);
    expect((await a.del("/api/variables/warehouse.dsn")).status).toBe(404);
    expect((await a.call("GET", "/api/worker/acme/variables/warehouse.dsn", undefined, { authorization: "Bearer acme-token" })).status).toBe(404);
    void w;
  });
});

describe("the run view's artifacts", () => {
  const view = (type: ArtifactView["type"], data: unknown): ArtifactView => ({
    id: "1", runId: "1", taskRunId: null, key: null, type, description: "", data, createdAt: "", updatedAt: "",
  });
  const html = (a: ArtifactView) => renderToStaticMarkup(createElement(ArtifactBody, { artifact: a }));

  it("renders markdown's HTML as text: no script, no img, no event handler reaches the markup", () => {
    const out = html(view("markdown", { markdown: "# Title <script>alert(1)</script>\n\n<img src=x onerror=alert(2)> **bold** [x](javascript:alert(3)) [ok](https://example.com)" }));
    expect(out).not.toMatch(/<script|<img|<[^>]*onerror/i);
    expect(out).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(out).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(out).toContain("<strong>bold</strong>");
    expect(out).not.toContain("javascript:");
    expect(out).toContain('href="https://example.com/"');
  });

  it("links only http(s); tables and progress as text and a bar", () => {
    expect(safeHref("https://a.example/x")).toBe("https://a.example/x");
    for (const bad of ["javascript:alert(1)", "data:text/html,x", "/relative", "vbscript:x", 5]) expect(safeHref(bad)).toBeNull();
    expect(html(view("link", { url: "javascript:alert(1)", text: "click" }))).not.toContain("href");
    const table = html(view("table", { columns: ["<b>c</b>"], rows: [["<i>v</i>"], [null]] }));
    expect(table).toContain("&lt;b&gt;c&lt;/b&gt;");
    expect(table).not.toContain("<i>");
    expect(html(view("progress", { progress: 42 }))).toContain('aria-valuenow="42"');
  });
});
