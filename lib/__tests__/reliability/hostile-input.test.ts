/**
 * Hostile input and overload (issue 11), against the built server as a real process: one case
 * per item of the issue. Each case asserts the status, that nothing changed (row counts in the
 * temp database, opened read-only) and that a control client's runs keep completing while it
 * runs. Floods come from other loopback addresses (127.0.0.2, 127.0.0.3, …: still 127.0.0.0/8,
 * the server listens on 127.0.0.1) so per-address budgets can tell them from the control.
 * No timing thresholds: outcomes and order only (timing is in bench/floods.mjs).
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson, trigger } from "../../../test/support/api-client";
import { rssMb } from "../../../test/support/launcher.mjs";
import { ProtocolWorker } from "../../../test/support/protocol-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { sleep, until } from "../../../test/support/wait";

const CLIENTS = [
  { id: "control", name: "Control", performanceSensitivity: "normal", token: "control-token" },
  { id: "noisy", name: "Noisy", performanceSensitivity: "normal", token: "noisy-token" },
  { id: "rotating", name: "Rotating", performanceSensitivity: "normal", token: "rot-1" },
  { id: "doomed", name: "Doomed", performanceSensitivity: "normal", token: "doomed-token" },
];
const CONTROL_FLOW = { name: "Control", tags: { team: "ctl" }, tasks: [{ name: "step", estimatedTime: 10 }], parameters: [] };
const HOSTILE_FLOW = {
  name: "Hostile",
  tags: { team: "red" },
  tasks: [{ name: "t", estimatedTime: 10 }],
  parameters: [
    { name: "d", type: "dict", required: false, default: {} },
    { name: "l", type: "list", required: false, default: [] },
    { name: "a", type: "any", required: false, default: null },
  ],
};

let s: ServerProcess;
let control: ProtocolWorker;
let noisy: ProtocolWorker;
let controlFlowId = "";
let hostileFlowId = "";
/** This file's bound on a wait. */
const WAIT_MS = 20_000;

// ---------------------------------------------------------------- helpers

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One request over node:http, optionally from another loopback source address. */
function send(
  method: string,
  path: string,
  { body, headers = {}, from, agent }: { body?: string | Buffer; headers?: Record<string, string>; from?: string; agent?: http.Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: s.port, method, path, headers, localAddress: from, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: any = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = (v: unknown) => ({ body: JSON.stringify(v), headers: { "content-type": "application/json" } });
/** JSON text nested `n` levels deep (built as text: JSON.stringify itself would overflow). */
const deepText = (n: number, kind: "list" | "dict" = "list") => (kind === "list" ? "[".repeat(n) + "]".repeat(n) : '{"k":'.repeat(n) + "1" + "}".repeat(n));
const rawJson = (text: string) => ({ body: text, headers: { "content-type": "application/json" } });
const workerHeaders = (token: string) => ({ "content-type": "application/json", authorization: `Bearer ${token}` });

function counts(): Record<string, number> {
  const db = new Database(s.dbPath, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, number> = {};
    for (const t of ["runs", "task_runs", "run_tags", "logs", "flows", "flow_tasks", "workers"]) out[t] = db.prepare(`select count(*) from ${t}`).pluck().get() as number;
    return out;
  } finally {
    db.close();
  }
}

/** Counts other than the control client's own runs (which keep completing meanwhile). */
function countsBesidesControl(): Record<string, number> {
  const db = new Database(s.dbPath, { readonly: true, fileMustExist: true });
  try {
    const q = (sql: string) => db.prepare(sql).pluck().get() as number;
    return {
      runs: q("select count(*) from runs where client_id <> 'control'"),
      taskRuns: q("select count(*) from task_runs where run_id in (select id from runs where client_id <> 'control')"),
      logs: q("select count(*) from logs where run_id in (select id from runs where client_id <> 'control')"),
      flows: q("select count(*) from flows"),
    };
  } finally {
    db.close();
  }
}

/**
 * The control client: triggers its flow and completes each run through the worker protocol,
 * over and over, for as long as `during` runs. Returns how many runs completed inside it.
 */
async function withControl<T>(during: () => Promise<T>): Promise<{ result: T; completed: number; failures: string[] }> {
  let running = true;
  let completed = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running || completed === 0) {
      try {
        const run = await trigger(s.url, controlFlowId);
        let claimed: { id: string }[] = [];
        while (!claimed.some((r) => r.id === run.id)) claimed = [...claimed, ...(await control.poll(5, 2000))];
        for (const r of claimed) {
          const done = await control.events(r.id, [
            { seq: 1, type: "task_started", call: 0, task: "step" },
            { seq: 2, type: "task_completed", call: 0, durationMs: 5 },
            { seq: 3, type: "run_completed" },
          ]);
          if (done.status !== 200) failures.push(`events ${done.status}`);
        }
        const view = await getJson(`${s.url}/api/runs/${run.id}`);
        if (view.state === "COMPLETED") completed++;
        else failures.push(`run ${run.id} ${view.state}`);
        await sleep(100); // a steady trickle, well inside the dashboard's mutation budget
      } catch (e) {
        failures.push((e as Error).message);
        if (failures.length > 20) return;
        await sleep(50);
      }
    }
  })();
  try {
    const result = await during();
    // The count as the flood ended (the loop may finish one more run afterwards).
    return { result, completed, failures };
  } finally {
    running = false;
    await loop;
  }
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  s = new ServerProcess({
    clients: CLIENTS,
    env: { PERFECT_HEARTBEAT_TIMEOUT_MS: "60000", PERFECT_SSE_MAX_PER_ADDRESS: "6", PERFECT_SSE_MAX_STREAMS: "10" },
  });
  await s.start();
  control = new ProtocolWorker(s.url, "control", "control-token");
  [{ id: controlFlowId }] = await control.register([CONTROL_FLOW]);
  noisy = new ProtocolWorker(s.url, "noisy", "noisy-token");
  [{ id: hostileFlowId }] = await noisy.register([HOSTILE_FLOW]);
}, 120_000);

afterAll(async () => {
  await s?.stop();
  s?.cleanup();
});

// ---------------------------------------------------------------- the items

describe("1. bodies are bounded before they are read", () => {
  it("200 MiB bodies with no, a wrong or a declared type are refused without being buffered; RSS stays flat", async () => {
    const before = counts();
    const rss0 = rssMb(s.child!.pid!).rss;
    const huge = (headers: Record<string, string>, path: string, from: string) =>
      new Promise<{ status: number; sentMb: number }>((resolve) => {
        let sent = 0;
        const chunk = Buffer.alloc(1024 * 1024, 0x78);
        const req = http.request({ host: "127.0.0.1", port: s.port, method: "POST", path, headers, localAddress: from, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, sentMb: sent / 1024 / 1024 }));
        });
        req.on("error", () => resolve({ status: 0, sentMb: sent / 1024 / 1024 }));
        const pump = () => {
          while (sent < 200 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      });
    const flows = `/api/flows/${hostileFlowId}/runs`;
    const answers = await Promise.all([
      huge({}, flows, "127.0.0.2"), // no Content-Type, chunked
      huge({ "content-type": "text/plain" }, flows, "127.0.0.3"),
      huge({ "content-type": "application/json" }, flows, "127.0.0.4"),
      huge({ "content-type": "application/json", "content-length": String(200 * 1024 * 1024) }, flows, "127.0.0.5"),
      huge({ authorization: "Bearer noisy-token" }, "/api/worker/noisy/heartbeat", "127.0.0.6"),
    ]);
    for (const a of answers) expect([0, 413, 415]).toContain(a.status); // 0: the server closed on a refused body
    expect(answers.filter((a) => a.status !== 0).length).toBeGreaterThan(0);
    // Declared too large: answered from the header alone.
    const declared = await send("POST", flows, { headers: { "content-type": "application/json", "content-length": String(200 * 1024 * 1024) }, from: "127.0.0.7" }).catch(() => null);
    if (declared) expect(declared.status).toBe(413);
    expect(rssMb(s.child!.pid!).rss - rss0).toBeLessThan(150); // five 200 MiB bodies: never held
    expect(counts()).toEqual(before);
    expect((await send("GET", "/api/health")).status).toBe(200);
  }, 120_000);
});

describe("2. nesting is bounded", () => {
  it("a dict/list/any parameter nested thousands of levels is a 400 naming it; nothing stored; reads keep working", async () => {
    const { result, completed, failures } = await withControl(async () => {
      const before = countsBesidesControl();
      const deep = (n: number) => JSON.parse(deepText(n));
      const answers = [];
      for (const [name, text] of [["d", deepText(2500, "dict")], ["l", deepText(4112)], ["a", deepText(4113)], ["a", deepText(100_000)]] as const) {
        const r = await send("POST", `/api/flows/${hostileFlowId}/runs`, rawJson(`{"parameters":{"${name}":${text}}}`));
        answers.push(r);
        expect(r.status).toBe(400);
        expect(r.json.error.code).toBe("validation_error");
        expect(r.json.error.details.field).toMatch(new RegExp(`^parameters\\.${name}\\b`));
      }
      // A registration whose default nests too deep, and a worker body nested too deep.
      const reg = await send("POST", "/api/worker/noisy/register", {
        body: JSON.stringify({ flows: [{ ...HOSTILE_FLOW, name: "Deep default", parameters: [{ name: "x", type: "any", default: deep(200) }] }] }),
        headers: workerHeaders("noisy-token"),
      });
      expect(reg.status).toBe(400);
      expect(reg.json.error.details.field).toMatch(/^flows\.0\.parameters\.0/);
      const hb = await send("POST", "/api/worker/noisy/heartbeat", { body: `{"workerId":"${noisy.workerId}","runIds":${deepText(5000)}}`, headers: workerHeaders("noisy-token") });
      expect(hb.status).toBe(400);
      expect(countsBesidesControl()).toEqual(before);
      // At the limit it is accepted (64 levels of body: the value gets 62).
      const ok = await send("POST", `/api/flows/${hostileFlowId}/runs`, json({ parameters: { a: deep(60) } }));
      expect(ok.status).toBe(201);
      const [okClaimed] = await noisy.poll(1, 2000);
      expect(okClaimed.id).toBe(ok.json.id);
      expect((await noisy.events(ok.json.id, [{ seq: 1, type: "run_completed" }])).status).toBe(200);
      expect((await send("GET", "/api/runs?limit=200")).status).toBe(200);
      expect((await send("GET", `/api/runs/${ok.json.id}/report`)).status).toBe(200);
      return answers.length;
    });
    expect(result).toBe(4);
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(0);
  }, 120_000);
});

describe("3. numbers are bounded", () => {
  it("durationMs 1e308 and out-of-range times are 400; later triggers and reads of the flow still answer", async () => {
    const { completed, failures } = await withControl(async () => {
      const run = await trigger(s.url, hostileFlowId);
      const [claimed] = await noisy.poll(1, 2000);
      expect(claimed.id).toBe(run.id);
      expect((await noisy.events(run.id, [{ seq: 1, type: "task_started", call: 0, task: "t" }])).status).toBe(200);
      const before = countsBesidesControl();
      for (const e of [
        { seq: 2, type: "task_completed", call: 0, durationMs: 1e308 },
        { seq: 2, type: "task_failed", call: 0, error: "x", durationMs: 1e20 },
        { seq: 2, type: "task_progress", call: 0, progress: 1e308 },
        { seq: 1e300, type: "run_completed" },
        { seq: 2, type: "task_retrying", call: 0, attempt: 1e12 },
        { seq: 2, type: "log", level: "INFO", message: "x", ts: "+275760-09-13T00:00:00.000Z" },
        { seq: 2, type: "log", level: "INFO", message: "x", ts: "0001-01-01T00:00:00.000Z" },
      ]) {
        const r = await noisy.events(run.id, [e]);
        expect(r.status, JSON.stringify(e)).toBe(400);
        expect(r.body.error.details.field).toMatch(/^events\.0\./);
      }
      const late = await noisy.events(run.id, [{ seq: 2, type: "log", level: "INFO", message: "x" }], { sentAt: "9999-01-01T00:00:00Z" });
      expect(late.status).toBe(400);
      expect(countsBesidesControl()).toEqual(before);
      expect((await noisy.events(run.id, [{ seq: 2, type: "task_completed", call: 0, durationMs: 12 }, { seq: 3, type: "run_completed" }])).status).toBe(200);
      expect((await send("GET", `/api/runs/${run.id}`)).status).toBe(200);
      const again = await send("POST", `/api/flows/${hostileFlowId}/runs`, json({}));
      expect(again.status).toBe(201);
      expect((await send("GET", `/api/flows/${hostileFlowId}`)).status).toBe(200);
      expect((await send("GET", `/api/stats/tasks`)).status).toBe(200);
      // The run just triggered is claimed and finished, so later cases start with an empty queue.
      const [next] = await noisy.poll(1, 2000);
      expect((await noisy.events(next.id, [{ seq: 1, type: "run_completed" }])).status).toBe(200);
    });
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(0);
  }, 120_000);
});

describe("4. no 500 leaves a write behind", () => {
  it("the inputs that used to answer 500 after creating a run now change nothing (failure injection: lib/__tests__/trigger-atomic.test.ts)", async () => {
    const before = countsBesidesControl();
    const answers = await Promise.all([
      send("POST", `/api/flows/${hostileFlowId}/runs`, rawJson(`{"parameters":{"a":${deepText(4113)}}}`)),
      send("POST", `/api/flows/${hostileFlowId}/runs`, json({ parameters: { a: "x".repeat(300 * 1024) } })),
      send("POST", `/api/flows/${hostileFlowId}/runs`, json({ parameters: "nope" })),
      send("POST", `/api/flows/${hostileFlowId}/runs`, { body: "{", headers: { "content-type": "application/json" } }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expect(countsBesidesControl()).toEqual(before);
    expect(s.output).not.toMatch(/unexpected error/);
  }, 60_000);
});

describe("5. parameter names and tag keys are data", () => {
  it("a parameter named constructor takes its default; __proto__ keys survive as tags", async () => {
    const [flow] = await noisy.register([
      HOSTILE_FLOW,
      {
        name: "Keys",
        tags: JSON.parse('{"__proto__": "proto-tag", "constructor": "ctor", "toString": "ts"}'),
        tasks: [],
        parameters: [
          { name: "constructor", type: "str", required: false, default: "built" },
          { name: "toString", type: "int", required: false, default: 3 },
        ],
      },
    ]).then((fs) => fs.filter((f) => f.name === "Keys"));
    const run = await send("POST", `/api/flows/${flow.id}/runs`, json({}));
    expect(run.status).toBe(201);
    expect(run.json.parameters).toEqual({ constructor: "built", toString: 3 });
    expect(Object.keys(JSON.parse(run.text).tags).sort()).toEqual(["__proto__", "constructor", "toString"]);
    const given = await send("POST", `/api/flows/${flow.id}/runs`, { body: '{"parameters":{"constructor":"mine"}}', headers: { "content-type": "application/json" } });
    expect(given.status).toBe(201);
    expect(given.json.parameters.constructor).toBe("mine");
    // A top-level __proto__ is an unknown parameter here, named as such, not silently dropped.
    const proto = await send("POST", `/api/flows/${flow.id}/runs`, { body: '{"parameters":{"__proto__":{"x":1}}}', headers: { "content-type": "application/json" } });
    expect(proto.status).toBe(400);
    expect(proto.json.error.details.field).toBe("parameters.__proto__");
    const tagged = await getJson(`${s.url}/api/runs?tag=__proto__:proto-tag`);
    expect(tagged.runs.length).toBe(2);
    // Drain them so the noisy queue stays empty.
    const claimed = await noisy.poll(5, 1000);
    for (const r of claimed) await noisy.events(r.id, [{ seq: 1, type: "run_completed" }]);
  }, 60_000);
  it("a declared parameter named __proto__ keeps its value, by default and when given", async () => {
    const [flow] = await noisy.register([
      HOSTILE_FLOW,
      { name: "Proto", tags: {}, tasks: [], parameters: [{ name: "__proto__", type: "str", required: false, default: "dflt" }] },
    ]).then((fs) => fs.filter((f) => f.name === "Proto"));
    const byDefault = await send("POST", `/api/flows/${flow.id}/runs`, json({}));
    expect(byDefault.status).toBe(201);
    expect(JSON.parse(byDefault.text).parameters).toEqual(JSON.parse('{"__proto__":"dflt"}'));
    const given = await send("POST", `/api/flows/${flow.id}/runs`, { body: '{"parameters":{"__proto__":"mine"}}', headers: { "content-type": "application/json" } });
    expect(given.status).toBe(201);
    expect(given.text).toContain('"__proto__":"mine"');
    const claimed = await noisy.poll(5, 1000);
    for (const r of claimed) await noisy.events(r.id, [{ seq: 1, type: "run_completed" }]);
  }, 60_000);
});

describe("6. events are exact", () => {
  it("the same seq twice in one batch is stored once, and the batch counts it as a duplicate", async () => {
    const [flow] = await noisy.register([HOSTILE_FLOW]);
    const run = (await send("POST", `/api/flows/${flow.id}/runs`, json({}))).json;
    const [claimed] = await noisy.poll(1, 1000);
    expect(claimed.id).toBe(run.id);
    const line = { seq: 1, type: "log", level: "INFO", message: "exactly once" };
    const res = await noisy.events(run.id, [line, line, { ...line, message: "a second seq 1" }, { seq: 2, type: "run_completed" }]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ applied: 2, duplicates: 2, lastSeq: 2, state: "COMPLETED" });
    const logs = (await getJson(`${s.url}/api/runs/${run.id}/logs`)).logs.map((l: { message: string }) => l.message);
    expect(logs).toEqual(["exactly once"]);
  }, 60_000);
});

describe("7. live connections are capped", () => {
  it("streams past the per-address and total caps are 429; closing them frees their slots; the control keeps dispatching", async () => {
    const open: http.ClientRequest[] = [];
    const stream = (from: string) =>
      new Promise<{ status: number; retryAfter?: string }>((resolve) => {
        const req = http.request({ host: "127.0.0.1", port: s.port, path: "/api/events", localAddress: from, agent: false }, (res) => {
          if (res.statusCode === 200) {
            // A reader that never reads: pause and hold on.
            res.pause();
          } else res.resume();
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined });
        });
        req.on("error", () => resolve({ status: 0 }));
        req.end();
        open.push(req);
      });
    const { result, completed, failures } = await withControl(async () => {
      const fromA = [];
      for (let i = 0; i < 7; i++) fromA.push(await stream("127.0.0.2")); // cap 6 per address
      const fromB = [];
      for (let i = 0; i < 5; i++) fromB.push(await stream("127.0.0.3")); // total cap 10: 4 fit
      // Changes keep flowing to the streams that do not read: their queues stay bounded.
      for (let i = 0; i < 30; i++) await trigger(s.url, controlFlowId).then((r) => send("POST", `/api/runs/${r.id}/cancel`, json({})));
      const afterClose: { status: number }[] = [];
      for (const r of open.splice(0)) r.destroy();
      afterClose.push(await until("a freed stream slot", async () => {
        const r = await stream("127.0.0.2");
        return r.status === 200 ? r : undefined;
      }, WAIT_MS));
      return { fromA, fromB, afterClose };
    });
    for (const r of open) r.destroy();
    expect(result.fromA.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 429]);
    expect(result.fromA[6].retryAfter).toMatch(/^\d+$/);
    expect(result.fromB.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
    expect(result.afterClose[0].status).toBe(200);
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(0);
    expect((await send("GET", "/api/health")).status).toBe(200);
  }, 120_000);
});

describe("8. lists are paginated", () => {
  it("GET /api/flows pages with limit and cursor, every flow exactly once, in name order", async () => {
    const names = Array.from({ length: 430 }, (_, i) => `Page flow ${String(i).padStart(4, "0")}`);
    const w = new ProtocolWorker(s.url, "noisy", "noisy-token");
    await w.register(names.map((name) => ({ name, tasks: [], parameters: [] })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await getJson(`${s.url}/api/flows?name=Page%20flow&limit=200${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.flows.length).toBeLessThanOrEqual(200);
      seen.push(...page.flows.map((f: any) => f.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
    const first = await getJson(`${s.url}/api/flows`);
    expect(first.flows).toHaveLength(50); // the default page
    expect(typeof first.nextCursor).toBe("string");
    for (const bad of ["limit=201", "limit=0", "cursor=%%%", "cursor=bm9wZQ"]) {
      const r = await send("GET", `/api/flows?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.error.details.field).toMatch(/^(limit|cursor)$/);
    }
  }, 60_000);
});

describe("9. one noisy caller cannot slow the others", () => {
  it("wrong-token heartbeats, 2,000 polls at once and anonymous triggers are refused cheaply (401/429 + Retry-After) while the control completes runs", async () => {
    const before = countsBesidesControl();
    const { result, completed, failures } = await withControl(async () => {
      const statuses = new Map<number, number>();
      const tally = (st: number) => statuses.set(st, (statuses.get(st) ?? 0) + 1);
      // Wrong-token heartbeats from one address: 401, then 429 past the failure budget.
      const wrongAgent = new http.Agent({ keepAlive: true, maxSockets: 50, localAddress: "127.0.0.2" } as http.AgentOptions);
      const wrong = await Promise.all(
        Array.from({ length: 300 }, () => send("POST", "/api/worker/noisy/heartbeat", { body: "{}", headers: workerHeaders("guess"), agent: wrongAgent })),
      );
      wrongAgent.destroy();
      wrong.forEach((r) => tally(r.status));
      const limited = wrong.find((r) => r.status === 429)!;
      // Right-token heartbeats in a loop: the first burst answers, the rest is 429.
      const hb = await Promise.all(
        Array.from({ length: 300 }, () => send("POST", "/api/worker/noisy/heartbeat", { body: JSON.stringify({ workerId: noisy.workerId }), headers: workerHeaders("noisy-token"), from: "127.0.0.3" })),
      );
      // 2,000 long polls of one worker at once: a handful held, the rest refused at admission.
      // (Over 400 kept-alive sockets: 2,000 simultaneous connects would only measure the
      // kernel's listen backlog, whose overflow the client retries for seconds.)
      // The admitted ones wait (up to 25 s); once every other poll has been answered, they are
      // aborted by us (status 0), so what is counted is how many were held at once.
      const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 400, localAddress: "127.0.0.4" } as http.AgentOptions);
      let answered = 0;
      let allRefused: () => void = () => {};
      const refusedAll = new Promise<void>((r) => (allRefused = r));
      const pending = Array.from({ length: 2000 }, () =>
        send("POST", "/api/worker/noisy/poll", { body: JSON.stringify({ workerId: noisy.workerId, waitMs: 25_000 }), headers: workerHeaders("noisy-token"), agent: pollAgent })
          .then((r) => {
            if (r.status === 429 && ++answered === 2000 - 8) allRefused();
            return r;
          })
          .catch(() => ({ status: 0 }) as Answer),
      );
      await refusedAll;
      pollAgent.destroy();
      const polls = await Promise.all(pending);
      // An anonymous trigger flood from one address.
      const triggers = await Promise.all(Array.from({ length: 400 }, () => send("POST", `/api/flows/${hostileFlowId}/runs`, { ...json({}), from: "127.0.0.5" })));
      return { wrong, limited, hb, polls, triggers };
    });
    expect(result.wrong.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    expect(result.limited.status).toBe(429);
    expect(result.limited.headers["retry-after"]).toMatch(/^\d+$/);
    expect(result.limited.json.error.code).toBe("rate_limited");
    expect(result.hb.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(result.hb.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(result.hb.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    // Exactly PERFECT_POLLS_PER_WORKER (8) were held; every other one was refused with 429.
    expect(result.polls.filter((r) => r.status === 429).length).toBe(2000 - 8);
    expect(result.polls.filter((r) => r.status !== 429).map((r) => r.status)).toEqual(new Array(8).fill(0));
    const created = result.triggers.filter((r) => r.status === 201).length;
    expect(result.triggers.every((r) => r.status === 201 || r.status === 429)).toBe(true);
    expect(result.triggers.find((r) => r.status === 429)?.headers["retry-after"]).toMatch(/^\d+$/);
    expect(created).toBeLessThan(400);
    // Nothing but the admitted triggers' runs changed.
    const after = countsBesidesControl();
    expect(after.runs - before.runs).toBe(created);
    expect(after.flows).toBe(before.flows);
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(0);
    // Clean up the admitted runs so later cases see an empty noisy queue.
    for (let stray = await noisy.poll(50, 0); stray.length; stray = await noisy.poll(50, 0)) {
      for (const r of stray) await noisy.events(r.id, [{ seq: 1, type: "run_completed" }]);
    }
  }, 180_000);
});

describe("10. changing clients.json never loses work", () => {
  it("previousToken is accepted until removed; a removed client's flow is 409 client_removed", async () => {
    const rot = new ProtocolWorker(s.url, "rotating", "rot-1");
    await rot.register([]);
    const doomed = new ProtocolWorker(s.url, "doomed", "doomed-token");
    const [doomedFlow] = await doomed.register([{ name: "Doomed", tasks: [], parameters: [] }]);
    const write = (clients: unknown[]) => fs.writeFileSync(s.clientsFile, JSON.stringify({ clients }));
    const base = CLIENTS.filter((c) => c.id !== "rotating" && c.id !== "doomed");
    const hbWith = async (token: string) => (await send("POST", "/api/worker/rotating/heartbeat", { body: JSON.stringify({ workerId: rot.workerId }), headers: workerHeaders(token) })).status;

    // Rotate: rot-2 is the token, rot-1 stays accepted as previousToken.
    write([...base, { id: "rotating", name: "Rotating", token: "rot-2", previousToken: "rot-1" }, CLIENTS[3]]);
    await until("the new token", async () => ((await hbWith("rot-2")) === 200 ? true : undefined), WAIT_MS);
    expect(await hbWith("rot-1")).toBe(200);
    // Rotation done: the previous token is removed, and the doomed client with it.
    write([...base, { id: "rotating", name: "Rotating", token: "rot-2" }]);
    await until("the old token to be refused", async () => ((await hbWith("rot-1")) === 401 ? true : undefined), WAIT_MS);
    expect(await hbWith("rot-2")).toBe(200);
    const before = countsBesidesControl();
    const r = await send("POST", `/api/flows/${doomedFlow.id}/runs`, json({}));
    expect(r.status).toBe(409);
    expect(r.json.error.details).toEqual({ reason: "client_removed", clientId: "doomed" });
    expect(r.json.error.message).toMatch(/no longer in the clients file/);
    expect(countsBesidesControl()).toEqual(before);
    expect((await getJson(`${s.url}/api/flows/${doomedFlow.id}`)).clientRemoved).toBe(true);
    write(CLIENTS); // put everything back for any later case
    await until("the restored clients", async () => ((await hbWith("rot-1")) === 200 ? true : undefined), WAIT_MS);
  }, 60_000);
});

describe("11. small leaks of policy", () => {
  it("HTML 404 pages carry a CSP", async () => {
    for (const p of ["/apix", "/favicon.ico", "/api", "/api/nope/nope", "/no-such-page"]) {
      const r = await send("GET", p);
      expect(r.status, p).toBe(404);
      expect(r.headers["content-security-policy"], p).toMatch(/default-src '(self|none)'/);
    }
  });

  it("X-Forwarded-Host from the caller is not trusted for the cross-site check (PERFECT_TRUST_PROXY unset)", async () => {
    const before = countsBesidesControl();
    const spoofed = await send("POST", `/api/flows/${hostileFlowId}/runs`, {
      body: "{}",
      headers: { "content-type": "application/json", origin: "https://evil.example", "x-forwarded-host": "evil.example" },
    });
    expect(spoofed.status).toBe(403);
    expect(countsBesidesControl()).toEqual(before);
  });

  it("bidi-override characters are stored faithfully and shown as markers in the report", async () => {
    const evil = "invoice\u202Efdp.exe \u2066x\u2069";
    const w = new ProtocolWorker(s.url, "noisy", "noisy-token");
    const [flow] = await w.register([{ name: `Bidi ${evil}`, tags: { k: evil }, tasks: [{ name: "t" }], parameters: [] }]);
    const run = await trigger(s.url, flow.id);
    const [claimed] = await w.poll(1, 2000);
    expect(claimed.id).toBe(run.id);
    await w.events(run.id, [{ seq: 1, type: "log", level: "INFO", message: evil }, { seq: 2, type: "run_completed" }]);
    expect((await getJson(`${s.url}/api/runs/${run.id}`)).flowName).toBe(`Bidi ${evil}`);
    const report = (await send("GET", `/api/runs/${run.id}/report`)).text;
    expect(report).not.toMatch(/[\u202A-\u202E\u2066-\u2069]/);
    expect(report).toContain("invoice⟨U+202E⟩fdp.exe");
    expect(report).toContain("unicode-bidi:isolate");
  });
});
