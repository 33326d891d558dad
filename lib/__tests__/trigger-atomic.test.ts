// A trigger commits whole or not at all: a failure injected after the run's insert (in the
// task-run insert, or while the answer is read back) leaves no run, tag or task run behind.
import { afterEach, describe, expect, it } from "vitest";
import { createTestEngine } from "../../test/support/test-engine";

const FLOW = { name: "Atomic", tags: { team: "sre" }, tasks: [{ name: "a", estimatedTime: 100 }, { name: "b" }], parameters: [] };
let close: (() => void) | null = null;
afterEach(() => close?.());

async function setup() {
  const { engine, db, store: sqlite } = createTestEngine();
  close = () => db.$client.close();
  const reg = await engine.register("acme", { worker: {}, flows: [FLOW as never] });
  const count = (table: string) => (db.$client.prepare(`select count(*) from ${table}`).pluck().get() as number);
  return { engine, sqlite, flowId: reg.flows[0].id, count };
}

describe("triggerRun: no partial write", () => {
  it.each([
    ["inserting the task runs", "insertTaskRuns"],
    ["reading the flow's task definitions, after the run and its tags", "listFlowTasks"],
  ] as const)("a failure while %s stores nothing", async (_what, method) => {
    const { engine, sqlite, flowId, count } = await setup();
    // The SQLite adapter's synchronous twin: both sides of the async contract call it.
    const store = sqlite.sync as unknown as Record<string, (...a: unknown[]) => unknown>;
    const original = store[method];
    let inserted = 0;
    const insertRun = store.insertRun;
    store.insertRun = (...a: unknown[]) => {
      inserted++;
      return insertRun.apply(sqlite.sync, a);
    };
    store[method] = () => {
      throw new Error("injected failure");
    };
    await expect(engine.triggerRun(flowId, {}, "api")).rejects.toThrow("injected failure");
    expect(inserted).toBe(1); // the run row was written before the failure…
    expect([count("runs"), count("run_tags"), count("task_runs")]).toEqual([0, 0, 0]); // …and rolled back
    store[method] = original;
    const run = await engine.triggerRun(flowId, {}, "api");
    expect(run.state).toBe("PENDING");
    expect([count("runs"), count("run_tags"), count("task_runs")]).toEqual([1, 1, 2]);
  });

  it("a removed client's flow is refused with 409 naming the reason, and nothing is stored", async () => {
    const { engine, flowId, count } = await setup();
    engine.clients.replace(engine.clients.all().filter((c) => c.id !== "acme"));
    await expect(engine.triggerRun(flowId, {}, "api")).rejects.toThrow(expect.objectContaining({ code: "conflict", details: { reason: "client_removed", clientId: "acme" } }));
    expect(count("runs")).toBe(0);
    expect((await engine.getFlow(flowId)).clientRemoved).toBe(true);
  });
});
