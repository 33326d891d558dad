/**
 * Fleet correctness with real Python workers against the built server (issue 10): runs reach
 * only workers that serve their flow, and a claim whose answer was lost is run again, once.
 */
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, onlineFlow, trigger } from "../../../test/support/api-client";
import { PythonWorkers } from "../../../test/support/python-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { TcpProxy } from "../../../test/support/tcp-proxy";
import { until } from "../../../test/support/wait";

const TIMEOUT_MS = 3000;
/** This file's bound on a wait that names none. */
const WAIT_MS = 60_000;
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "fleet-token" };
const servers: ServerProcess[] = [];
const workers = new PythonWorkers(path.join(__dirname, "rel_worker.py"), CLIENT);
const worker = (url: string, env: Record<string, string>) => workers.start(url, env);

async function server() {
  // The test scripts 200 triggers from one address: a budget such a script would configure.
  const s = new ServerProcess({
    clients: [CLIENT],
    env: { PERFECT_HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS), PERFECT_RATE_MUTATIONS_PER_SEC: "10000", PERFECT_RATE_MUTATIONS_BURST: "10000" },
  });
  servers.push(s);
  await s.start();
  return s;
}

async function allLogs(url: string, runId: string): Promise<string[]> {
  return ((await getJson(`${url}/api/runs/${runId}/logs?limit=1000`)).logs as any[]).map((l) => l.message);
}

afterEach(() => workers.kill9All());
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

describe("routing with real workers", () => {
  it("two workers with different flows and one serving both: 200 triggers → 0 misrouted, 0 failed, each run once", async () => {
    const s = await server();
    worker(s.url, { REL_FLOWS: "Alpha", REL_NAME: "A", REL_MAX: "4" });
    worker(s.url, { REL_FLOWS: "Beta", REL_NAME: "B", REL_MAX: "4" });
    worker(s.url, { REL_FLOWS: "Alpha,Beta", REL_NAME: "AB", REL_MAX: "4" });
    const alpha = await onlineFlow(s.url, "Alpha", { timeoutMs: WAIT_MS });
    const beta = await onlineFlow(s.url, "Beta", { timeoutMs: WAIT_MS });
    await until("three workers online", async () => {
      const c = (await getJson(`${s.url}/api/clients`)).clients.find((x: any) => x.id === CLIENT.id);
      return c.workers.filter((w: any) => w.online).length === 3;
    }, WAIT_MS);
    const runs: { id: string; flow: "Alpha" | "Beta" }[] = [];
    for (let i = 0; i < 200; i++) {
      const flow = i % 2 ? "Beta" : "Alpha";
      runs.push({ id: (await trigger(s.url, flow === "Alpha" ? alpha : beta, {})).id, flow });
    }
    await until("200 runs finished", async () => {
      const page = await getJson(`${s.url}/api/runs?limit=200`);
      return page.runs.length === 200 && page.runs.every((r: any) => r.state === "COMPLETED" || r.state === "FAILED");
    }, 180_000);
    const page = await getJson(`${s.url}/api/runs?limit=200`);
    expect(page.runs.filter((r: any) => r.state !== "COMPLETED").map((r: any) => [r.id, r.state, r.error])).toEqual([]);
    const serves: Record<string, string[]> = { A: ["Alpha"], B: ["Beta"], AB: ["Alpha", "Beta"] };
    const byWorker: Record<string, number> = {};
    for (const r of runs) {
      const executions = (await allLogs(s.url, r.id)).filter((m) => m.startsWith("executed "));
      expect(executions, `run ${r.id}`).toHaveLength(1);
      const m = /^executed (\w+) by (\w+)$/.exec(executions[0])!;
      expect(m[1]).toBe(r.flow);
      expect(serves[m[2]]).toContain(r.flow); // never a worker that does not serve it
      byWorker[m[2]] = (byWorker[m[2]] ?? 0) + 1;
    }
    expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(200);
  }, 300_000);
});

describe("a claim whose poll answer is lost", () => {
  it("goes back to the queue and is executed exactly once", async () => {
    const s = await server();
    const proxy = new TcpProxy(s.port);
    await proxy.start();
    try {
      worker(proxy.url, { REL_FLOWS: "Alpha", REL_NAME: "A" });
      const alpha = await onlineFlow(s.url, "Alpha", { timeoutMs: WAIT_MS });
      const dropped = proxy.dropNextAnswerContaining('"runs":[{');
      const id = (await trigger(s.url, alpha, {})).id;
      await dropped; // the server committed the claim; the worker never saw the answer
      await until("run COMPLETED", async () => (await getJson(`${s.url}/api/runs/${id}`)).state === "COMPLETED", WAIT_MS);
      const logs = await allLogs(s.url, id);
      expect(logs.filter((m) => m.includes("never received this run"))).toHaveLength(1);
      expect(logs.filter((m) => m.startsWith("executed "))).toEqual(["executed Alpha by A"]);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
