/**
 * Global concurrency limits with real Python workers (sdk-python, process isolation) against the
 * built server: a key limited to 2 is never exceeded across two workers, and the slot of a
 * worker killed with kill -9 comes back through the heartbeat monitor to the waiter. Runs on
 * SQLite and, in npm test's "reliability:postgres" step, on PostgreSQL.
 *
 * The holders' tasks wait for a gate file the test writes, so "2 hold, the rest wait" is a
 * state the test observes, not a race it hopes to win.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { apiClient, getJson, onlineFlow, trigger } from "../../../test/support/api-client";
import { PythonWorkers, kill9 } from "../../../test/support/python-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { until } from "../../../test/support/wait";

const TIMEOUT_MS = 3000;
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "conc-token" };
const servers: ServerProcess[] = [];
const workers = new PythonWorkers(path.join(__dirname, "concurrency_worker.py"), CLIENT);

async function server() {
  const s = new ServerProcess({ clients: [CLIENT], env: { PERFECT_HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS) } });
  servers.push(s);
  await s.start();
  return s;
}

const run = (url: string, id: string) => getJson(`${url}/api/runs/${id}`);
const limitOf = async (url: string, key: string) => (await getJson(`${url}/api/concurrency-limits`)).limits.find((l: any) => l.key === key);

/** The task's own body interval, from the wall-clock times it logged on entering and leaving. */
async function bodyInterval(url: string, runId: string): Promise<[number, number]> {
  const logs = (await getJson(`${url}/api/runs/${runId}/logs?limit=1000`)).logs.map((l: any) => l.message as string);
  const enter = logs.find((m: string) => m.startsWith("enter "));
  const exit = logs.find((m: string) => m.startsWith("exit "));
  expect(enter, `run ${runId} logs: ${logs.join(" | ")}`).toBeDefined();
  expect(exit, `run ${runId} logs: ${logs.join(" | ")}`).toBeDefined();
  return [Number(enter!.split(" ")[1]), Number(exit!.split(" ")[1])];
}

/** Most intervals open at any instant (an end at the same instant as a start does not overlap). */
function maxOverlap(intervals: [number, number][]): number {
  const points = intervals.flatMap(([a, b]) => [[a, 1], [b, -1]] as [number, number][]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of points) most = Math.max(most, (open += d));
  return most;
}

afterEach(() => workers.kill9All());
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

describe("global concurrency limits (real workers)", () => {
  it("a key limited to 2: never more than 2 holders across two workers, the rest wait in line, all complete", async () => {
    const s = await server();
    const gate = path.join(s.dir, "warehouse-gate");
    const a = apiClient(s.url);
    expect((await a.put("/api/concurrency-limits/warehouse", { limit: 2 })).status).toBe(200);
    workers.start(s.url, { CONC_GATE: gate, CONC_NAME: "one", CONC_MAX: "4" });
    workers.start(s.url, { CONC_GATE: gate, CONC_NAME: "two", CONC_MAX: "4" });
    const flowId = await onlineFlow(s.url, "Warehouse");
    await until("both workers online", async () => {
      const c = (await getJson(`${s.url}/api/clients`)).clients.find((x: any) => x.id === CLIENT.id);
      return c.workers.filter((w: any) => w.online).length >= 2;
    });
    // Sampled throughout, from before the first run to after the last.
    let sampling = true;
    const samples: { held: number; holders: number; waiting: number }[] = [];
    const sampler = (async () => {
      while (sampling) {
        const l = await limitOf(s.url, "warehouse");
        if (l) samples.push({ held: l.held, holders: l.holders.length, waiting: l.waiting.length });
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const runIds: string[] = [];
    for (let i = 0; i < 8; i++) runIds.push((await trigger(s.url, flowId, { seconds: 0.2 })).id);
    // Every call asked (8 runs on 2 × 4 run slots): 2 hold the key, 6 wait in line.
    const full = await until("2 holders and 6 waiters", async () => {
      const l = await limitOf(s.url, "warehouse");
      return l && l.holders.length === 2 && l.waiting.length === 6 ? l : null;
    }, 180_000);
    expect(new Set(full.holders.map((h: any) => h.workerId)).size).toBeGreaterThanOrEqual(1);
    expect([...full.holders, ...full.waiting].map((x: any) => x.runId).sort()).toEqual([...runIds].sort());
    // The waiters' task runs have not started: a call starts once it holds its slot.
    for (const w of full.waiting) expect((await run(s.url, w.runId)).taskRuns[0].state).toBe("PENDING");
    fs.writeFileSync(gate, "open");
    await until("all 8 runs COMPLETED", async () => {
      const views = await Promise.all(runIds.map((id) => run(s.url, id)));
      return views.every((v) => v.state === "COMPLETED");
    }, 120_000);
    sampling = false;
    await sampler;
    // Exactly 2 held while all 8 asked (above); at no sample, before or after, more than 2.
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.filter((x) => x.holders > 2 || x.held > 2)).toEqual([]);
    const intervals = await Promise.all(runIds.map((id) => bodyInterval(s.url, id)));
    expect(maxOverlap(intervals)).toBeLessThanOrEqual(2);
    // The waiters said so once, on their task run.
    const waitedLogs = await Promise.all(full.waiting.map(async (w: any) => (await getJson(`${s.url}/api/runs/${w.runId}/logs?limit=1000`)).logs));
    for (const logs of waitedLogs) {
      expect(logs.filter((l: any) => l.message.includes("waiting for a 'warehouse' slot"))).toHaveLength(1);
      expect(logs.filter((l: any) => /^waited [\d.]+ s for a 'warehouse' slot$/.test(l.message) && l.taskRunId !== null)).toHaveLength(1);
    }
    const after = await limitOf(s.url, "warehouse");
    expect(after).toMatchObject({ key: "warehouse", limit: 2, held: 0, holders: [], waiting: [] });
  }, 300_000);

  it("kill -9 of the worker holding the slot: its run FAILED by the heartbeat monitor, the waiter holds the slot and completes", async () => {
    const s = await server();
    const gateA = path.join(s.dir, "gate-a-never");
    const gateB = path.join(s.dir, "gate-b");
    const a = apiClient(s.url);
    expect((await a.put("/api/concurrency-limits/dock", { limit: 1 })).status).toBe(200);
    const doomed = workers.start(s.url, { CONC_GATE: gateA, CONC_NAME: "doomed", CONC_MAX: "1" });
    const flowId = await onlineFlow(s.url, "Dock");
    const first = (await trigger(s.url, flowId, {})).id;
    const held = await until("the doomed worker holds the dock slot", async () => {
      const l = await limitOf(s.url, "dock");
      return l?.holders[0]?.runId === first ? l.holders[0] : null;
    }, 120_000);
    // The second worker starts after the first is full (max_concurrent_runs=1): it gets the next run.
    workers.start(s.url, { CONC_GATE: gateB, CONC_NAME: "survivor", CONC_MAX: "1" });
    await until("both workers online", async () => {
      const c = (await getJson(`${s.url}/api/clients`)).clients.find((x: any) => x.id === CLIENT.id);
      return c.workers.filter((w: any) => w.online).length >= 2;
    });
    const second = (await trigger(s.url, flowId, {})).id;
    const waiting = await until("the second run waits for the slot", async () => {
      const l = await limitOf(s.url, "dock");
      return l?.waiting[0]?.runId === second ? l : null;
    }, 120_000);
    expect(waiting.holders.map((h: any) => h.runId)).toEqual([first]);
    expect(waiting.waiting[0].workerId).not.toBe(held.workerId);
    kill9(doomed);
    const taken = await until("the waiter holds the slot", async () => {
      const l = await limitOf(s.url, "dock");
      return l?.holders[0]?.runId === second ? l : null;
    }, TIMEOUT_MS + 60_000);
    expect(taken.holders).toHaveLength(1);
    expect(taken.waiting).toEqual([]);
    const lost = await run(s.url, first);
    expect(lost.state).toBe("FAILED");
    expect(lost.error).toBe("client heartbeat lost");
    fs.writeFileSync(gateB, "open");
    await until("the waiter's run COMPLETED", async () => (await run(s.url, second)).state === "COMPLETED", 60_000);
    expect(await limitOf(s.url, "dock")).toMatchObject({ held: 0, holders: [], waiting: [] });
  }, 300_000);
});
