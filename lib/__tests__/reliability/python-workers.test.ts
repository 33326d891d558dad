/**
 * Reliability scenarios with real Python workers (the SDK in sdk-python/) against the built
 * server: killed workers, a server outage, a network partition, and a log burst at exit.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, onlineFlow, trigger } from "../../../test/support/api-client";
import { PythonWorkers, kill9 } from "../../../test/support/python-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { TcpProxy } from "../../../test/support/tcp-proxy";
import { sleep, until } from "../../../test/support/wait";

const TIMEOUT_MS = 3000;
const CLIENTS = [
  { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "rel-token" },
  { id: "control", name: "Control", performanceSensitivity: "normal", token: "control-token" },
];
const servers: ServerProcess[] = [];
const workers = new PythonWorkers(path.join(__dirname, "rel_worker.py"), CLIENTS[0]);
const worker = (url: string, env: Record<string, string> = {}, client = CLIENTS[0]) => workers.start(url, env, client);

async function server() {
  const s = new ServerProcess({ clients: CLIENTS, env: { PERFECT_HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS) } });
  servers.push(s);
  await s.start();
  return s;
}

const run = (url: string, id: string) => getJson(`${url}/api/runs/${id}`);

afterEach(() => workers.kill9All());
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

describe("scenario 2: kill -9 ten workers mid-task", () => {
  it("fails each of their runs with 'client heartbeat lost'; control runs untouched", async () => {
    const s = await server();
    // The control runs end when the test opens their gate, never by a timer: they are
    // still RUNNING when the doomed runs fail, however slow this machine is.
    const gate = path.join(s.dir, "control-gate");
    const doomed = Array.from({ length: 10 }, () => worker(s.url, { REL_FLOWS: "Sleepy" }));
    worker(s.url, { REL_FLOWS: "Gated", REL_MAX: "10", REL_GATE: gate }, CLIENTS[1]);
    const sleepy = await onlineFlow(s.url, "Sleepy", { clientId: "perfect_example" });
    const control = await onlineFlow(s.url, "Gated", { clientId: "control" });
    await until("10 doomed workers online", async () => {
      const c = (await getJson(`${s.url}/api/clients`)).clients.find((x: any) => x.id === "perfect_example");
      return c.workers.filter((w: any) => w.online).length >= 10;
    });
    const doomedRuns: string[] = [];
    for (let i = 0; i < 10; i++) doomedRuns.push((await trigger(s.url, sleepy, { seconds: 60 })).id);
    const controlRuns: string[] = [];
    for (let i = 0; i < 10; i++) controlRuns.push((await trigger(s.url, control, {})).id);
    // A waiting bound, not a timing assertion: 20 run processes start on a busy 2-core machine.
    await until("all 20 runs RUNNING with a task started", async () => {
      const views = await Promise.all([...doomedRuns, ...controlRuns].map((id) => run(s.url, id)));
      return views.every((v) => v.state === "RUNNING" && v.taskRuns[0].state === "RUNNING");
    }, 180_000);
    for (const w of doomed) kill9(w);
    // How fast is measured in bench/ (dispatch and failure detection); here: that and how.
    await until(
      "doomed runs FAILED",
      async () => {
        const views = await Promise.all(doomedRuns.map((id) => run(s.url, id)));
        return views.every((v) => v.state === "FAILED");
      },
      TIMEOUT_MS + 30_000,
    );
    for (const id of doomedRuns) {
      const v = await run(s.url, id);
      expect(v.error).toBe("client heartbeat lost");
      expect(v.taskRuns[0].state).toBe("FAILED");
    }
    expect((await Promise.all(controlRuns.map((id) => run(s.url, id)))).map((v) => v.state)).toEqual(Array(10).fill("RUNNING"));
    fs.writeFileSync(gate, "open");
    await until("control runs COMPLETED", async () => {
      const views = await Promise.all(controlRuns.map((id) => run(s.url, id)));
      return views.every((v) => v.state === "COMPLETED");
    });
    const clients = (await getJson(`${s.url}/api/clients`)).clients;
    expect(clients.find((c: any) => c.id === "perfect_example").online).toBe(false);
    expect(clients.find((c: any) => c.id === "control").online).toBe(true);
  }, 300_000);
});

describe("scenario 4: the server is down for twice the heartbeat timeout while workers run", () => {
  it("no healthy run is failed after the restart and every buffered event arrives", async () => {
    const s = await server();
    worker(s.url, { REL_FLOWS: "Sleepy", REL_MAX: "3" });
    const sleepy = await onlineFlow(s.url, "Sleepy", { clientId: "perfect_example" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await trigger(s.url, sleepy, { seconds: 10 })).id);
    await until("runs started", async () => (await Promise.all(ids.map((id) => run(s.url, id)))).every((v) => v.taskRuns[0].state === "RUNNING"));
    await s.kill9();
    await sleep(2 * TIMEOUT_MS);
    await s.start();
    await until("runs COMPLETED", async () => (await Promise.all(ids.map((id) => run(s.url, id)))).every((v) => v.state === "COMPLETED"), 60_000);
    for (const id of ids) {
      const logs = (await getJson(`${s.url}/api/runs/${id}/logs?limit=5000`)).logs as any[];
      const steps = logs.filter((l) => /^nap step \d+\/100$/.test(l.message)).map((l) => Number(/step (\d+)/.exec(l.message)![1]));
      expect(steps).toEqual(Array.from({ length: 100 }, (_, i) => i + 1)); // all of them, once, in order
    }
    expect((await getJson(`${s.url}/api/runs?state=FAILED`)).runs).toEqual([]);
  }, 120_000);
});

describe("scenario 5: a worker cut off past the timeout, then healed", () => {
  it("gets 409 for its late events, stops that run, and the run stays FAILED", async () => {
    const s = await server();
    const proxy = new TcpProxy(s.port);
    await proxy.start();
    try {
      const w = worker(proxy.url, { REL_FLOWS: "Sleepy" });
      const sleepy = await onlineFlow(s.url, "Sleepy", { clientId: "perfect_example" });
      const id = (await trigger(s.url, sleepy, { seconds: 6 })).id;
      await until("run started", async () => (await run(s.url, id)).taskRuns[0].state === "RUNNING");
      proxy.partition();
      await until("run FAILED", async () => (await run(s.url, id)).state === "FAILED", TIMEOUT_MS + 5000);
      const stored = (await getJson(`${s.url}/api/runs/${id}/logs?limit=5000`)).logs.length;
      proxy.heal();
      // The worker reconnects, is told the run is finished, and goes on serving new runs.
      const next = (await trigger(s.url, sleepy, { seconds: 0.3 })).id;
      await until("next run COMPLETED", async () => (await run(s.url, next)).state === "COMPLETED", 30_000);
      await sleep(7000); // past the end of the cut-off run's task, had it continued
      const v = await run(s.url, id);
      expect(v.state).toBe("FAILED");
      expect(v.error).toBe("client heartbeat lost");
      expect((await getJson(`${s.url}/api/runs/${id}/logs?limit=5000`)).logs.length).toBe(stored);
      expect(w.exitCode).toBeNull(); // still serving
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe("scenario 8: a task logs 10,000 lines and the worker exits at once", () => {
  it("stores all 10,000", async () => {
    const s = await server();
    const w = worker(s.url, { REL_FLOWS: "Chatty", REL_EXIT: "1" });
    const chatty = await onlineFlow(s.url, "Chatty", { clientId: "perfect_example" });
    const id = (await trigger(s.url, chatty, { lines: 10000 })).id;
    const code = await new Promise<number | null>((r) => w.on("exit", (c) => r(c)));
    expect(code).toBe(0);
    expect((await run(s.url, id)).state).toBe("COMPLETED");
    // Through the public API, in pages: the same check on either backend.
    const rows: { message: string }[] = [];
    for (let after = "0"; ; ) {
      const page = (await getJson(`${s.url}/api/runs/${id}/logs?after=${after}&limit=5000`)).logs as { id: string; message: string }[];
      if (!page.length) break;
      rows.push(...page.filter((l) => l.message.startsWith("line ")));
      after = page[page.length - 1].id;
    }
    expect(rows).toHaveLength(10000);
    expect(rows[0].message).toBe("line 1");
    expect(rows[9999].message).toBe("line 10000");
  }, 120_000);
});
