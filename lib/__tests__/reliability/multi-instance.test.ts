/**
 * Several server instances on one PostgreSQL database (issue 14), with real Python workers:
 * any instance answers any request, a trigger through one wakes a worker polling another, an
 * SSE stream on either sees every change, and workers fail over when an instance dies.
 * Runs in npm test's "reliability:postgres" step (PERFECT_TEST_BACKEND=postgres).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, trigger } from "../../../test/support/protocol-worker";
import { ServerProcess } from "../../../test/support/server-process";

const PG_PORT = process.env.PERFECT_TEST_PG_PORT;
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "multi-token" };
const WORKER = path.join(__dirname, "rel_worker.py");
const servers: ServerProcess[] = [];
let workers: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two instances sharing one fresh database. */
async function twoInstances(): Promise<[ServerProcess, ServerProcess]> {
  const name = `perfect_multi_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  execFileSync("/usr/lib/postgresql/15/bin/createdb", ["-h", "127.0.0.1", "-p", PG_PORT!, "-U", "perfect", name]);
  const env = {
    PERFECT_DATABASE_URL: `postgres://perfect@127.0.0.1:${PG_PORT}/${name}`,
    PERFECT_HEARTBEAT_TIMEOUT_MS: "3000",
    PERFECT_RATE_MUTATIONS_PER_SEC: "10000",
    PERFECT_RATE_MUTATIONS_BURST: "10000",
  };
  const a = new ServerProcess({ clients: [CLIENT], env });
  const b = new ServerProcess({ clients: [CLIENT], env });
  servers.push(a, b);
  await a.start();
  await b.start();
  return [a, b];
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

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function servedFlow(url: string, name: string): Promise<string> {
  return until(`flow ${name} served`, async () => {
    const flows = (await getJson(`${url}/api/flows?name=${encodeURIComponent(name)}`)).flows as any[];
    return flows.find((f) => f.name === name && f.online)?.id;
  });
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

describe.skipIf(!PG_PORT)("two instances on one PostgreSQL database", () => {
  it("a trigger through B reaches a worker polling A, and an SSE stream on B sees the run to its end", async () => {
    const [a, b] = await twoInstances();
    worker(a.url, { REL_FLOWS: "Alpha", REL_NAME: "A" });
    const alpha = await servedFlow(b.url, "Alpha"); // B sees what A's worker registered (and that it is online)
    const controller = new AbortController();
    const res = await fetch(`${b.url}/api/events`, { signal: controller.signal });
    const reader = res.body!.getReader();
    // Every run change, filtered once the id is known: the stream may announce the run before
    // the trigger's own answer reaches this test.
    const changes: { runId: string; state: string }[] = [];
    let runId = "";
    const pump = (async () => {
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buf += new TextDecoder().decode(value);
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (!block.includes("event: change") || !data) continue;
          const c = JSON.parse(data.slice(6));
          if (c.kind === "run") changes.push({ runId: c.runId, state: c.state });
        }
      }
    })();
    await until("the stream open", async () => res.ok);
    runId = (await trigger(b.url, alpha, {})).id;
    await until("run COMPLETED on A", async () => (await getJson(`${a.url}/api/runs/${runId}`)).state === "COMPLETED");
    const states = () => changes.filter((c) => c.runId === runId).map((c) => c.state);
    await until("B's stream saw COMPLETED", async () => states().includes("COMPLETED"));
    controller.abort();
    await pump;
    expect(states().at(-1)).toBe("COMPLETED");
    expect(states()).toContain("RUNNING");
    const logs = ((await getJson(`${b.url}/api/runs/${runId}/logs`)).logs as any[]).map((l) => l.message);
    expect(logs).toEqual(["executed Alpha by A"]);
  }, 180_000);

  it("kill -9 of A under load: workers fail over to B; every run completes once, every step logged once in order", async () => {
    const [a, b] = await twoInstances();
    for (let i = 0; i < 4; i++) worker(`${a.url},${b.url}`, { REL_FLOWS: "Sleepy", REL_MAX: "4" });
    const sleepy = await servedFlow(b.url, "Sleepy");
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await trigger(i % 2 ? b.url : a.url, sleepy, { seconds: 1.5 })).id);
    await until("some runs RUNNING", async () => ((await getJson(`${b.url}/api/runs?state=RUNNING&limit=200`)).runs as any[]).length >= 4);
    await a.kill9();
    await until("all runs finished", async () => {
      const page = await getJson(`${b.url}/api/runs?limit=200`);
      return page.runs.length === 40 && page.runs.every((r: any) => r.state === "COMPLETED" || r.state === "FAILED" || r.state === "CANCELLED");
    }, 240_000);
    const page = await getJson(`${b.url}/api/runs?limit=200`);
    expect(page.runs.filter((r: any) => r.state !== "COMPLETED").map((r: any) => [r.id, r.state, r.error])).toEqual([]);
    for (const id of ids) {
      const steps = ((await getJson(`${b.url}/api/runs/${id}/logs?limit=5000`)).logs as any[])
        .filter((l) => /^nap step \d+\/15$/.test(l.message))
        .map((l) => Number(/step (\d+)/.exec(l.message)![1]));
      expect(steps, `run ${id}`).toEqual(Array.from({ length: 15 }, (_, i) => i + 1)); // each once, in order
    }
  }, 300_000);
});
