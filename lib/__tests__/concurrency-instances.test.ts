/**
 * Concurrency slots across two server instances (two engines, two PostgreSQL backends with
 * their own LISTEN connections) on one database of a throw-away cluster of this file's own: a
 * release through one instance wakes the waiter parked on the other (NOTIFY), and requests sent
 * to both at once never over-grant the key (the key's advisory lock).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresBackend, type PostgresBackend } from "../store/postgres";
import { startTestDatabases, type TestDatabases } from "../store/postgres/test-database";
import { engineOn } from "../../test/support/test-engine";
import { ETL_FLOW } from "./helpers";
import type { Engine } from "../engine/engine";

let dbs: TestDatabases;
let a: PostgresBackend;
let b: PostgresBackend;
let engA: Engine;
let engB: Engine;
beforeAll(async () => {
  dbs = await startTestDatabases();
  const url = await dbs.fresh();
  a = await openPostgresBackend(url, { poolSize: 8 });
  b = await openPostgresBackend(url, { poolSize: 8 });
  engA = engineOn(a).engine;
  engB = engineOn(b).engine;
}, 120_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await dbs?.stop();
});

async function runningRuns(n: number): Promise<{ workerId: string; runIds: string[] }> {
  const reg = await engA.register("acme", { worker: {}, flows: [{ ...ETL_FLOW, tags: {}, parameters: [] }] });
  const runIds: string[] = [];
  for (let i = 0; i < n; i++) {
    await engA.triggerRun(reg.flows[0].id, {}, "api");
    const polled = await engA.poll("acme", { workerId: reg.workerId, maxRuns: 1, waitMs: 0 });
    runIds.push(polled.runs[0].id);
  }
  return { workerId: reg.workerId, runIds };
}

const req = (workerId: string, key: string, waitMs = 0) => ({ workerId, key, call: 0, task: "load", waitMs });

describe("concurrency slots across instances (PostgreSQL)", () => {
  it("a release through instance B wakes the waiter parked on instance A", async () => {
    const { workerId, runIds } = await runningRuns(2);
    await engB.setConcurrencyLimit("handover", 1);
    const held = await engA.acquireSlot("acme", runIds[0], req(workerId, "handover"));
    expect(held.state).toBe("HELD");
    let answered = false;
    const waiting = engA.acquireSlot("acme", runIds[1], req(workerId, "handover", 20_000)).then((r) => {
      answered = true;
      return r;
    });
    await expect.poll(async () => (await engB.getConcurrencyLimit("handover")).waiting.length).toBe(1);
    expect(answered).toBe(false);
    await engB.releaseSlot("acme", runIds[0], held.slotId);
    const got = await waiting;
    expect(got.state).toBe("HELD");
    expect((await engA.getConcurrencyLimit("handover")).holders.map((h) => h.runId)).toEqual([runIds[1]]);
  });

  it("requests through both instances at once never grant more than the limit, and a raised limit on B grants A's waiters", async () => {
    const { workerId, runIds } = await runningRuns(12);
    await engA.setConcurrencyLimit("shared", 3);
    const answers = await Promise.all(runIds.map((id, i) => (i % 2 ? engA : engB).acquireSlot("acme", id, req(workerId, "shared"))));
    expect(answers.filter((x) => x.state === "HELD")).toHaveLength(3);
    expect(answers.filter((x) => x.state === "WAITING")).toHaveLength(9);
    const view = await engB.getConcurrencyLimit("shared");
    expect(view.held).toBe(3);
    // The first two in line are the ones a limit of 5 lets in.
    const parked = view.waiting.slice(0, 2).map((w) => w.runId);
    const woken = parked.map((id) => engA.acquireSlot("acme", id, req(workerId, "shared", 20_000)));
    await engB.setConcurrencyLimit("shared", 5);
    expect((await Promise.all(woken)).map((x) => x.state)).toEqual(["HELD", "HELD"]);
    expect((await engA.getConcurrencyLimit("shared")).held).toBe(5);
  });
});
