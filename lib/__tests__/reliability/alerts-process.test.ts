/**
 * Alerts against the built server as a real process (and, with PERFECT_TEST_BACKEND=postgres,
 * on PostgreSQL): a bad alerts.json stops it at start naming the field; a failure stored while
 * the receiver is down survives kill -9 and is delivered after the restart, once, signed; a bad
 * edit keeps the rules in force; task.critical reaches the receiver while a real Python
 * worker's run is still RUNNING.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, onlineFlow, trigger } from "../../../test/support/api-client";
import { freePort } from "../../../test/support/postgres";
import { ProtocolWorker } from "../../../test/support/protocol-worker";
import { PythonWorkers } from "../../../test/support/python-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { until } from "../../../test/support/wait";
import { startReceiver, type Receiver } from "../../../test/support/webhook-receiver.mjs";

const SECRET = `whsec_${crypto.randomBytes(24).toString("base64")}`;
const CLIENTS = [{ id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "rel-token" }];
const FLOW = { name: "Nightly", tags: { team: "sre" }, tasks: [{ name: "step", estimatedTime: 100 }], parameters: [] };

const servers: ServerProcess[] = [];
const receivers: Receiver[] = [];
const workers = new PythonWorkers(path.join(__dirname, "rel_worker.py"), CLIENTS[0]);

afterEach(() => workers.kill9All());
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
  for (const r of receivers) await r.close();
});

/** The Standard Webhooks check, from the spec: HMAC-SHA256 of "id.timestamp.body" under the whsec_ key. */
function verify(headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const expected = crypto.createHmac("sha256", key).update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`).digest("base64");
  return String(headers["webhook-signature"]).split(" ").includes(`v1,${expected}`);
}

function serverWith(alerts: unknown) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-alerts-process-"));
  const file = path.join(dir, "alerts.json");
  fs.writeFileSync(file, JSON.stringify(alerts));
  const s = new ServerProcess({
    dir,
    clients: CLIENTS,
    env: { PERFECT_HEARTBEAT_TIMEOUT_MS: "3000", PERFECT_TEST_ALERT_BACKOFF_MS: "200", PERFECT_ALERTS_FILE: file },
  });
  servers.push(s);
  return { s, file };
}

async function failRun(s: ServerProcess): Promise<string> {
  const w = new ProtocolWorker(s.url, "perfect_example", "rel-token");
  const [flow] = await w.register([FLOW]);
  const run = await trigger(s.url, flow.id, {});
  const [claimed] = await w.poll(1);
  expect(claimed.id).toBe(run.id);
  const r = await w.events(run.id, [
    { seq: 1, type: "task_started", call: 0, task: "step" },
    { seq: 2, type: "task_failed", call: 0, durationMs: 5, error: "disk full" },
    { seq: 3, type: "run_failed", error: "disk full" },
  ]);
  expect(r.status).toBe(200);
  return run.id;
}

describe("alerts in the real server", () => {
  it("a bad alerts.json at start stops the server with a message naming the field", async () => {
    const { s } = serverWith({ destinations: [{ id: "hook", type: "webhook", url: "http://127.0.0.1:9/hook" }], rules: [{ on: ["run.failed"], to: ["pager"] }] });
    await expect(s.start(30_000)).rejects.toThrow(/exited \(1\)/);
    expect(s.output).toContain("cannot start");
    expect(s.output).toContain("invalid field rules.0.to.0: no destination with id pager");
  });

  it("kill -9 after a failure is stored but before it is delivered (receiver down): delivered after the restart, once, same webhook-id", async () => {
    const port = await freePort();
    const hookUrl = `http://127.0.0.1:${port}/hook`;
    const { s } = serverWith({ destinations: [{ id: "hook", type: "webhook", url: hookUrl, secret: SECRET }], rules: [{ on: ["run.failed"], to: ["hook"] }] });
    await s.start();
    const runId = await failRun(s);
    // The receiver is down: the delivery is stored and its first attempts fail.
    const pending = await until("a failed attempt recorded", async () => {
      const [d] = (await getJson(`${s.url}/api/alerts/deliveries`)).deliveries;
      return d && d.state === "PENDING" && d.attempts.length > 0 ? d : null;
    });
    expect(pending.attempts[0].status).toBeNull();
    expect(pending.attempts[0].error).toMatch(/ECONNREFUSED|fetch failed/);
    await s.kill9();
    const receiver = await startReceiver(() => 200, port);
    receivers.push(receiver);
    await s.start();
    const delivered = await until("the delivery DELIVERED after the restart", async () => {
      const [d] = (await getJson(`${s.url}/api/alerts/deliveries`)).deliveries;
      return d?.state === "DELIVERED" ? d : null;
    });
    expect(delivered.webhookId).toBe(pending.webhookId);
    expect(receiver.received).toHaveLength(1);
    const hit = receiver.received[0];
    expect(hit.headers["webhook-id"]).toBe(pending.webhookId);
    expect(verify(hit.headers, hit.body)).toBe(true);
    expect(JSON.parse(hit.body)).toMatchObject({ type: "run.failed", data: { runId, flow: "Nightly", state: "FAILED", error: "disk full" } });
    expect(delivered.attempts.at(-1).status).toBe(200);
    // The metrics count it (this instance, since its restart).
    const metrics = await (await fetch(`${s.url}/api/metrics`)).text();
    expect(metrics).toMatch(/^perfect_alert_deliveries_total\{outcome="delivered"\} 1$/m);
  });

  it("a bad edit of alerts.json keeps the rules in force and is shown; a good one replaces them", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const good = { destinations: [{ id: "hook", type: "webhook", url: receiver.url, secret: SECRET }], rules: [{ on: ["run.failed"], to: ["hook"] }] };
    const { s, file } = serverWith(good);
    await s.start();
    fs.writeFileSync(file, JSON.stringify({ ...good, rules: [{ on: ["run.failed"], to: ["nowhere"] }] }));
    const shown = await until("the bad edit reported", async () => {
      const o = await getJson(`${s.url}/api/alerts`);
      return o.loadError ? o : null;
    });
    expect(shown.loadError).toContain("invalid field rules.0.to.0");
    expect(shown.rules).toEqual([expect.objectContaining({ on: ["run.failed"], to: ["hook"] })]);
    expect(s.output).toContain("kept the previous alert rules");
    // The rules in force still send.
    await failRun(s);
    await until("the failure delivered under the kept rules", async () => receiver.received.length === 1);
    fs.writeFileSync(file, JSON.stringify({ ...good, rules: [{ on: ["run.completed"], to: ["hook"] }] }));
    await until("the good edit loaded", async () => {
      const o = await getJson(`${s.url}/api/alerts`);
      return o.loadError === null && o.rules[0]?.on[0] === "run.completed";
    });
  });

  it("task.critical reaches the receiver while a real Python worker's run is still RUNNING", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { s } = serverWith({ destinations: [{ id: "hook", type: "webhook", url: receiver.url, secret: SECRET }], rules: [{ on: ["task.critical"], flows: ["Sleepy"], to: ["hook"] }] });
    await s.start();
    workers.start(s.url, { REL_FLOWS: "Sleepy" });
    const flowId = await onlineFlow(s.url, "Sleepy", { clientId: "perfect_example" });
    // A history of fast runs: the baseline of the nap task.
    for (let i = 0; i < 6; i++) {
      const r = await trigger(s.url, flowId, { seconds: 0.1 });
      await until(`fast run ${i + 1} COMPLETED`, async () => (await getJson(`${s.url}/api/runs/${r.id}`)).state === "COMPLETED");
    }
    const slow = await trigger(s.url, flowId, { seconds: 120 });
    const hit = await until("task.critical received", async () => receiver.received.find((h) => JSON.parse(h.body).type === "task.critical"));
    // Received while the run still runs: the alert came live, not at the end.
    expect((await getJson(`${s.url}/api/runs/${slow.id}`)).state).toBe("RUNNING");
    expect(verify(hit.headers, hit.body)).toBe(true);
    const body = JSON.parse(hit.body);
    expect(body.data).toMatchObject({ runId: slow.id, flow: "Sleepy", task: "nap", state: "RUNNING", warning: "CRITICAL", attempt: 1 });
    expect(body.data.elapsedMs).toBeGreaterThan(body.data.usualDurationMs);
    expect(receiver.received.filter((h) => JSON.parse(h.body).type === "task.critical")).toHaveLength(1);
  });
});
