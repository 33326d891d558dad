/**
 * The worker lane (lib/api/worker-lane.ts) answers the worker protocol in the front door,
 * without Next; `PERFECT_WORKER_LANE=0` leaves the same routes to Next's route files. Both are
 * the same handlers of lib/api/worker-protocol.ts, so two built servers — one each way — must
 * give every request the same status, JSON body and security headers. Each request goes to
 * both, in the same order, on fresh databases (ids and answers line up).
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerProcess } from "../../../test/support/server-process";

const CLIENT = { id: "lane", name: "Lane", performanceSensitivity: "normal", token: "lane-token" };
const FLOW = { name: "Lane flow", tags: {}, tasks: [{ name: "step", estimatedTime: 10 }], parameters: [] };

let lane: ServerProcess;
let next: ServerProcess;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: unknown;
}

function send(s: ServerProcess, method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${CLIENT.token}`, "content-type": "application/json", ...opts.headers };
    const req = http.request({ host: "127.0.0.1", port: s.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = { notJson: text.slice(0, 80) };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
      res.on("error", reject);
    });
    // An oversized chunked body may be cut off by the server's answer: what matters is that answer.
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? undefined : reject(e)));
    if (opts.chunked && opts.body !== undefined) {
      const body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    } else if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** Times, durations and worker ids differ between the two servers; everything else must not. */
function normalized(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalized);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = /(At|Ms|Time|ts|workerId)$/.test(k) && (typeof x === "string" || typeof x === "number") ? "<varies>" : normalized(x);
    return out;
  }
  return typeof v === "string" ? v.replace(workerIds[0] || "\u0000", "<worker>").replace(workerIds[1] || "\u0000", "<worker>") : v;
}

/** Each server's worker id (index 0: the lane's), once registered. */
const workerIds = ["", ""];

const SECURITY = ["x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy"];

type Opts = Omit<NonNullable<Parameters<typeof send>[3]>, "body"> & { body?: string | Buffer | ((workerId: string) => unknown) };

/** The same request to both servers (a body function gets each server's worker id): same status, same body, the same security headers. */
async function same(method: string, path: string, opts: Opts = {}): Promise<Answer> {
  const bodyFor = (i: number) => (typeof opts.body === "function" ? JSON.stringify(opts.body(workerIds[i])) : opts.body);
  const a = await send(lane, method, path, { ...opts, body: bodyFor(0) });
  const b = await send(next, method, path, { ...opts, body: bodyFor(1) });
  expect({ status: a.status, body: normalized(a.json) }, `${method} ${path}`).toEqual({ status: b.status, body: normalized(b.json) });
  for (const h of SECURITY) expect(a.headers[h], `${h} of ${method} ${path}`).toBe(b.headers[h]);
  expect(a.headers["retry-after"]).toBe(b.headers["retry-after"]);
  return a;
}

const W = `/api/worker/${CLIENT.id}`;

describe("the worker lane and Next's route files answer alike", () => {
  beforeAll(async () => {
    lane = new ServerProcess({ clients: [CLIENT] });
    next = new ServerProcess({ clients: [CLIENT], env: { PERFECT_WORKER_LANE: "0" } });
    await Promise.all([lane.start(), next.start()]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([lane?.stop(), next?.stop()]);
  }, 60_000);

  it("the lane, not Next, answers a worker route when it is on (Next's answers carry its Vary header)", async () => {
    const a = await send(lane, "POST", `${W}/heartbeat`, { body: JSON.stringify({ workerId: "nobody" }) });
    const b = await send(next, "POST", `${W}/heartbeat`, { body: JSON.stringify({ workerId: "nobody" }) });
    expect(a.status).toBe(404);
    expect(b.status).toBe(404);
    expect(a.headers.vary).toBeUndefined();
    expect(b.headers.vary).toBeDefined();
  });

  it("a run's whole life: register, trigger, poll, events, heartbeat, variables, slots", async () => {
    const body = JSON.stringify({ worker: { hostname: "h", pid: 1 }, flows: [FLOW] });
    const regs = [await send(lane, "POST", `${W}/register`, { body }), await send(next, "POST", `${W}/register`, { body })];
    regs.forEach((r, i) => (workerIds[i] = (r.json as { workerId: string }).workerId));
    expect(normalized(regs[0].json)).toEqual(normalized(regs[1].json));
    expect(regs.map((r) => r.status)).toEqual([200, 200]);
    const flowId = (regs[0].json as { flows: { id: string }[] }).flows[0].id;
    for (const s of [lane, next]) {
      const r = await fetch(`${s.url}/api/flows/${flowId}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(r.status).toBe(201);
    }
    const poll = await same("POST", `${W}/poll`, { body: (workerId) => ({ workerId, maxRuns: 1, waitMs: 5000 }) });
    const runs = (poll.json as { runs: { id: string }[] }).runs;
    expect(runs).toHaveLength(1);
    const runId = runs[0].id;
    await same("POST", `${W}/heartbeat`, { body: (workerId) => ({ workerId, runIds: [runId] }) });
    await same("PUT", `${W}/variables/answer`, { body: JSON.stringify({ value: 42 }) });
    const v = await same("GET", `${W}/variables/answer`);
    expect(v.json).toMatchObject({ variable: { value: 42 } });
    await same("DELETE", `${W}/runs/${runId}/slots/no-such-slot`);
    const done = await same("POST", `${W}/runs/${runId}/events`, {
      body: (workerId) => ({
        workerId,
        events: [
          { seq: 1, type: "task_started", call: 0, task: "step" },
          { seq: 2, type: "task_completed", call: 0, durationMs: 5 },
          { seq: 3, type: "run_completed" },
        ],
      }),
    });
    expect(done.status).toBe(200);
    // The batch again: the same idempotent answer on both.
    await same("POST", `${W}/runs/${runId}/events`, { body: (workerId) => ({ workerId, events: [{ seq: 3, type: "run_completed" }] }) });
  });

  it("every refusal: token, JSON, depth, field, unknown ids, size, method", async () => {
    expect((await same("POST", `${W}/heartbeat`, { body: "{}", headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await same("POST", `${W}/heartbeat`, { body: "{}", headers: { authorization: "" } })).status).toBe(401);
    expect((await same("POST", `${W}/poll`, { body: "{not json" })).status).toBe(400);
    expect((await same("POST", `${W}/poll`, { body: "" })).status).toBe(400);
    expect((await same("POST", `${W}/poll`, { body: "[".repeat(300) + "]".repeat(300) })).status).toBe(400);
    const field = await same("POST", `${W}/poll`, { body: JSON.stringify({ workerId: 7 }) });
    expect(field.json).toMatchObject({ error: { code: "validation_error", details: { field: "workerId" } } });
    expect((await same("POST", `${W}/runs/999999/events`, { body: (workerId) => ({ workerId, events: [{ seq: 1, type: "run_completed" }] }) })).status).toBe(404);
    expect((await same("GET", `${W}/variables/never-set`)).status).toBe(404);
    expect((await same("POST", `${W}/poll`, { body: Buffer.alloc(2 * 1024 * 1024, 0x20), chunked: true })).status).toBe(413);
    // Not a route of the table: Next answers both (its 404 / 405).
    expect((await same("POST", `${W}/nothing-here`, { body: "{}" })).status).toBe(404);
    expect((await send(lane, "GET", `${W}/poll`)).status).toBe((await send(next, "GET", `${W}/poll`)).status);
  });
});
