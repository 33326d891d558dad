/**
 * Fleet correctness with real Python workers against the built server (issue 10): runs reach
 * only workers that serve their flow, and a claim whose answer was lost is run again, once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, trigger } from "../../../test/support/protocol-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { TcpProxy } from "../../../test/support/tcp-proxy";

const TIMEOUT_MS = 3000;
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "fleet-token" };
const WORKER = path.join(__dirname, "rel_worker.py");
const servers: ServerProcess[] = [];
let workers: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

function worker(url: string, env: Record<string, string>) {
  const child = spawn("python3", [WORKER], {
    env: { ...process.env, PERFECT_URL: url, PERFECT_CLIENT_ID: CLIENT.id, PERFECT_TOKEN: CLIENT.token, PYTHONUNBUFFERED: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  Object.defineProperty(child, "log", { get: () => out });
  workers.push(child);
  return child as ChildProcess & { log: string };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function onlineFlow(url: string, name: string): Promise<string> {
  return until(`flow ${name} served`, async () => {
    const flows = (await getJson(`${url}/api/flows?name=${encodeURIComponent(name)}`)).flows as any[];
    return flows.find((f) => f.name === name && f.online)?.id;
  });
}

async function allLogs(url: string, runId: string): Promise<string[]> {
  return ((await getJson(`${url}/api/runs/${runId}/logs?limit=1000`)).logs as any[]).map((l) => l.message);
}

afterEach(() => {
  for (const w of workers) {
    try {
      process.kill(-w.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  workers = [];
});
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
    const alpha = await onlineFlow(s.url, "Alpha");
    const beta = await onlineFlow(s.url, "Beta");
    await until("three workers online", async () => {
      const c = (await getJson(`${s.url}/api/clients`)).clients.find((x: any) => x.id === CLIENT.id);
      return c.workers.filter((w: any) => w.online).length === 3;
    });
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
      const alpha = await onlineFlow(s.url, "Alpha");
      const dropped = proxy.dropNextAnswerContaining('"runs":[{');
      const id = (await trigger(s.url, alpha, {})).id;
      await dropped; // the server committed the claim; the worker never saw the answer
      await until("run COMPLETED", async () => (await getJson(`${s.url}/api/runs/${id}`)).state === "COMPLETED");
      const logs = await allLogs(s.url, id);
      expect(logs.filter((m) => m.includes("never received this run"))).toHaveLength(1);
      expect(logs.filter((m) => m.startsWith("executed "))).toEqual(["executed Alpha by A"]);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
