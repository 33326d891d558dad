/**
 * Subflows over the worker protocol (real HTTP, real engine): the child-run route, cancel
 * propagation, heartbeats that cover children, and the child's progress moving its parent's
 * task call. On SQLite by default; PERFECT_TEST_BACKEND=postgres runs it on a real PostgreSQL
 * (a fresh database per test).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { setEngine } from "../server";
import { ManualClock } from "../engine/clock";
import { openSqliteBackend } from "../store/sqlite";
import { openPostgresBackend } from "../store/postgres";
import { startTestDatabases, type TestDatabases } from "../store/postgres/test-database";
import type { Backend } from "../store/store";
import { engineOn } from "../../test/support/test-engine";
import { startHarness } from "../../test/support/http-harness";
import { apiClient } from "../../test/support/api-client";

const onPostgres = process.env.PERFECT_TEST_BACKEND === "postgres";
let url = "";
let closeHarness: () => Promise<void>;
let dbs: TestDatabases | undefined;
let backend: Backend | undefined;

beforeAll(async () => {
  const h = await startHarness();
  url = h.url;
  closeHarness = h.close;
  if (onPostgres) dbs = await startTestDatabases();
});
afterEach(async () => {
  setEngine(undefined);
  await backend?.close();
  backend = undefined;
});
afterAll(async () => {
  await closeHarness();
  await dbs?.stop();
});

const PARENT = {
  name: "report",
  tasks: [
    { name: "prepare", estimatedTime: 1000 },
    { name: "etl", estimatedTime: 3000 },
  ],
  parameters: [],
};
const CHILD = {
  name: "etl",
  tags: { team: "data" },
  tasks: [
    { name: "extract", estimatedTime: 1000 },
    { name: "load", estimatedTime: 2000 },
  ],
  parameters: [{ name: "day", type: "str", required: true }, { name: "limit", type: "int", default: 5, required: false }],
};
const OTHER = { name: "unrelated", tasks: [], parameters: [] };

async function setup() {
  backend = onPostgres ? await openPostgresBackend(await dbs!.fresh(), { poolSize: 5 }) : openSqliteBackend(":memory:");
  const { engine, clock } = engineOn(backend);
  setEngine(engine);
  const a = apiClient(url);
  const w = a.worker("acme", "acme-token");
  // The worker registers the parent flow and another one, not the child's.
  const reg = await w.register([PARENT, OTHER]);
  expect(reg.status).toBe(200);
  const workerId = reg.body.workerId as string;
  const flowId = reg.body.flows[0].id as string;
  const trig = await a.post(`/api/flows/${flowId}/runs`, {});
  expect(trig.status).toBe(201);
  const polled = await w.poll(workerId);
  const parentId = polled.body.runs[0].id as string;
  const subflow = (body: Record<string, unknown>, runId = parentId) => w.call(`/runs/${runId}/subflows`, { workerId, ...body });
  return { engine, clock: clock as ManualClock, a, w, workerId, flowId, parentId, subflow };
}

describe("subflows over the worker protocol", () => {
  it("creates the child RUNNING for the same worker, with its task runs, and a re-sent request finds the same child", async () => {
    const { a, w, workerId, parentId, subflow } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 0, task: "prepare" }, { seq: 2, type: "task_completed", call: 0, durationMs: 5 }, { seq: 3, type: "task_started", call: 1, task: "etl" }]);
    const first = await subflow({ call: 1, flow: CHILD, parameters: { day: "2026-12-01" } });
    expect(first.status).toBe(201);
    expect(first.body.run).toMatchObject({ flowName: "etl", parameters: { day: "2026-12-01", limit: 5 } });
    const childId = first.body.run.id as string;
    const again = await subflow({ call: 1, flow: CHILD, parameters: { day: "2026-12-01" } });
    expect(again.status).toBe(201);
    expect(again.body.run.id).toBe(childId);

    const child = (await a.get(`/api/runs/${childId}`)).body;
    expect(child).toMatchObject({ state: "RUNNING", workerId, parentRunId: parentId, trigger: "subflow", tags: { team: "data" }, childRuns: [] });
    expect(child.taskRuns.map((t: any) => [t.name, t.state])).toEqual([["extract", "PENDING"], ["load", "PENDING"]]);
    const parent = (await a.get(`/api/runs/${parentId}`)).body;
    expect(parent.parentRunId).toBeNull();
    expect(parent.childRuns).toEqual([{ id: childId, flowName: "etl", state: "RUNNING", progress: 0 }]);

    // The child's flow is now the client's, served by this worker beside the ones it registered.
    const flows = (await a.get(`/api/flows`)).body.flows.map((f: any) => [f.name, f.online]);
    expect(flows).toEqual([["etl", true], ["report", true], ["unrelated", true]]);
    // The history lists the parent's children by parentRunId, and by trigger.
    expect((await a.get(`/api/runs?parentRunId=${parentId}`)).body.runs.map((r: any) => [r.id, r.parentRunId])).toEqual([[childId, parentId]]);
    expect((await a.get(`/api/runs?trigger=subflow`)).body.runs.map((r: any) => r.id)).toEqual([childId]);
    expect((await a.get(`/api/runs?parentRunId=abc`)).status).toBe(400);

    // A second call of the parent starts a second child.
    const second = await subflow({ call: 2, flow: CHILD, parameters: { day: "2026-12-02" } });
    expect(second.body.run.id).not.toBe(childId);
    expect((await a.get(`/api/runs/${parentId}`)).body.childRuns.map((c: any) => c.id)).toEqual([childId, second.body.run.id]);
  });

  it("refuses a parent that is not RUNNING or not this worker's (409), an unknown one (404), bad parameters (400)", async () => {
    const { a, w, workerId, parentId, subflow, flowId } = await setup();
    const bad = await subflow({ call: 0, flow: CHILD, parameters: { limit: "many" } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("parameters.");
    expect((await subflow({ call: 0, flow: { ...CHILD, name: "" }, parameters: {} })).status).toBe(400);
    expect((await subflow({ call: 0, flow: CHILD, parameters: { day: "d" } }, "999999")).status).toBe(404);
    // Nothing was written by the refused requests.
    expect((await a.get(`/api/runs/${parentId}`)).body.childRuns).toEqual([]);

    const other = (await w.register([PARENT])).body.workerId as string;
    const notMine = await w.call(`/runs/${parentId}/subflows`, { workerId: other, call: 0, flow: CHILD, parameters: { day: "d" } });
    expect(notMine.status).toBe(409);

    const pending = (await a.post(`/api/flows/${flowId}/runs`, {})).body.id as string;
    expect((await subflow({ call: 0, flow: CHILD, parameters: { day: "d" } }, pending)).status).toBe(409);

    await w.events(workerId, parentId, [{ seq: 1, type: "run_completed" }]);
    const ended = await subflow({ call: 0, flow: CHILD, parameters: { day: "d" } });
    expect(ended.status).toBe(409);
    expect(ended.body.error.code).toBe("conflict");
  });

  it("the child's progress moves the parent's task call, and the child's end completes it", async () => {
    const { a, w, workerId, parentId, subflow } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 0, task: "prepare" }, { seq: 2, type: "task_completed", call: 0, durationMs: 5 }, { seq: 3, type: "task_started", call: 1, task: "etl" }]);
    const childId = (await subflow({ call: 1, flow: CHILD, parameters: { day: "d" } })).body.run.id as string;
    const etlTask = () => a.get(`/api/runs/${parentId}`).then((r) => r.body.taskRuns.find((t: any) => t.name === "etl"));
    await w.events(workerId, childId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }, { seq: 2, type: "task_completed", call: 0, durationMs: 10 }]);
    const childProgress = (await a.get(`/api/runs/${childId}`)).body.progress as number;
    expect(childProgress).toBeCloseTo(1 / 3, 5);
    expect((await etlTask()).progress).toBeCloseTo(1 / 3, 5);
    const parentMid = (await a.get(`/api/runs/${parentId}`)).body.progress as number;
    expect(parentMid).toBeCloseTo(0.25 + 0.75 / 3, 5);

    await w.events(workerId, childId, [{ seq: 3, type: "task_started", call: 1, task: "load" }, { seq: 4, type: "task_completed", call: 1, durationMs: 10 }, { seq: 5, type: "run_completed" }]);
    expect((await etlTask()).progress).toBe(1);
    expect((await a.get(`/api/runs/${parentId}`)).body.childRuns).toEqual([{ id: childId, flowName: "etl", state: "COMPLETED", progress: 1 }]);
    await w.events(workerId, parentId, [{ seq: 4, type: "task_completed", call: 1, durationMs: 30 }, { seq: 5, type: "run_completed" }]);
    const parent = (await a.get(`/api/runs/${parentId}`)).body;
    expect(parent).toMatchObject({ state: "COMPLETED", progress: 1 });
    // The subflow's real duration is learnt as the parent's task "etl".
    const stats = (await a.get(`/api/stats/tasks?flow=report`)).body.stats.map((s: any) => [s.taskName, s.samples]);
    expect(stats).toContainEqual(["etl", 1]);
  });

  it("between the child's batches the monitor carries the child's live progress to the parent's task call", async () => {
    const { a, w, workerId, parentId, subflow, clock, engine } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 1, task: "etl" }]);
    const childId = (await subflow({ call: 1, flow: CHILD, parameters: { day: "d" } })).body.run.id as string;
    await w.events(workerId, childId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    const etlTask = () => a.get(`/api/runs/${parentId}`).then((r) => r.body.taskRuns.find((t: any) => t.name === "etl"));
    expect((await etlTask()).progress).toBe(0);
    // Half of extract's 1000 ms estimate: the child is about 1/6 done, with no event sent.
    clock.advance(500);
    await w.heartbeat(workerId, [parentId]);
    await engine.tick();
    const child = (await a.get(`/api/runs/${childId}`)).body;
    expect(child.progress).toBeCloseTo(1 / 6, 3);
    const etl = await etlTask();
    expect(etl.progress).toBeCloseTo(child.progress, 3);
    expect(etl.stalled).toBe(false);
  });

  it("cancelling the parent cancels its running children and grandchildren; the heartbeat tells the worker", async () => {
    const { a, w, workerId, parentId, subflow } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 1, task: "etl" }]);
    const childId = (await subflow({ call: 1, flow: CHILD, parameters: { day: "d" } })).body.run.id as string;
    await w.events(workerId, childId, [{ seq: 1, type: "task_started", call: 0, task: "grand" }]);
    const grandId = (await w.call(`/runs/${childId}/subflows`, { workerId, call: 0, flow: { ...OTHER, name: "grand" }, parameters: {} })).body.run.id as string;
    expect((await a.get(`/api/runs/${grandId}`)).body.parentRunId).toBe(childId);

    const cancel = await a.post(`/api/runs/${parentId}/cancel`, {});
    expect(cancel.status).toBe(200);
    for (const id of [parentId, childId, grandId]) expect((await a.get(`/api/runs/${id}`)).body).toMatchObject({ state: "RUNNING", cancelRequested: true });
    // The worker lists only the parent: the cancelled descendants are named too.
    const hb = (await w.heartbeat(workerId, [parentId])).body;
    expect([...hb.cancelledRunIds].sort()).toEqual([parentId, childId, grandId].sort());
    // A child's own batch answer says so as well.
    const ev = await w.events(workerId, grandId, [{ seq: 1, type: "run_cancelled" }]);
    expect(ev.body).toMatchObject({ state: "CANCELLED", cancelRequested: true });
    await w.events(workerId, childId, [{ seq: 2, type: "run_cancelled" }]);
    await w.events(workerId, parentId, [{ seq: 2, type: "run_cancelled" }]);
    for (const id of [parentId, childId, grandId]) expect((await a.get(`/api/runs/${id}`)).body.state).toBe("CANCELLED");
    expect((await a.get(`/api/runs/${parentId}`)).body.taskRuns.find((t: any) => t.name === "etl").state).toBe("CANCELLED");
  });

  it("children of a listed parent count as reported; a parent failed on the server fails its children", async () => {
    const { a, w, workerId, parentId, subflow, clock, engine } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 1, task: "etl" }]);
    const childId = (await subflow({ call: 1, flow: CHILD, parameters: { day: "d" } })).body.run.id as string;
    await w.events(workerId, childId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    for (let i = 0; i < 4; i++) await w.heartbeat(workerId, [parentId]);
    expect((await a.get(`/api/runs/${childId}`)).body.state).toBe("RUNNING");
    // The worker falls silent: the monitor fails the parent, and with it the child.
    clock.advance(16_000);
    await engine.tick();
    const parent = (await a.get(`/api/runs/${parentId}`)).body;
    const child = (await a.get(`/api/runs/${childId}`)).body;
    expect(parent).toMatchObject({ state: "FAILED", error: "client heartbeat lost" });
    expect(child).toMatchObject({ state: "FAILED", error: "client heartbeat lost" });
    expect(child.taskRuns.map((t: any) => [t.name, t.state])).toEqual([["extract", "FAILED"], ["load", "CANCELLED"]]);
  });

  it("a child whose parent is no longer listed is unreported like any run", async () => {
    const { a, w, workerId, parentId, subflow } = await setup();
    await w.events(workerId, parentId, [{ seq: 1, type: "task_started", call: 1, task: "etl" }]);
    const childId = (await subflow({ call: 1, flow: CHILD, parameters: { day: "d" } })).body.run.id as string;
    await w.events(workerId, childId, [{ seq: 1, type: "task_started", call: 0, task: "extract" }]);
    await w.events(workerId, parentId, [{ seq: 2, type: "run_failed", error: "boom" }]);
    // Neither is listed any more: the child, no longer covered, is failed after two beats.
    await w.heartbeat(workerId, []);
    await w.heartbeat(workerId, []);
    expect((await a.get(`/api/runs/${childId}`)).body.state).toBe("FAILED");
  });
});
