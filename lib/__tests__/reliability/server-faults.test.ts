/**
 * Reliability under faults, against the built server as a real process (npm test builds it
 * first). Protocol-level workers (fetch) make the counts exact; docs/RELIABILITY.md maps each
 * scenario to its test.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { getJson, trigger } from "../../../test/support/api-client";
import { ProtocolWorker } from "../../../test/support/protocol-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { sleep } from "../../../test/support/wait";

const TOKEN = "rel-token";
const CLIENTS = [
  { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: TOKEN },
  { id: "other", name: "Other", performanceSensitivity: "normal", token: "other-token" },
];
const FLOW = { name: "Reliable", tags: { team: "sre" }, tasks: [{ name: "step", estimatedTime: 100 }], parameters: [] };
const servers: ServerProcess[] = [];

async function server(env: Record<string, string> = {}) {
  const s = new ServerProcess({ clients: CLIENTS, env: { PERFECT_HEARTBEAT_TIMEOUT_MS: "2000", ...env } });
  servers.push(s);
  await s.start();
  return s;
}

afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

/**
 * Streams up to `total` bytes of body in 64 KiB chunks over a raw socket until the server
 * answers; resolves with the answer and how much was sent. The server may close the
 * connection right after its answer (a write then fails with EPIPE): what it sent is still
 * read. Fails — never passes silently — when no HTTP answer arrives.
 */
function streamUntilAnswered(port: number, pathName: string, headers: Record<string, string>, total: number): Promise<{ status: number; body: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = "";
    let done = false;
    const socket = net.connect(port, "127.0.0.1");
    const chunked = !Object.keys(headers).some((h) => h.toLowerCase() === "content-length");
    const head = [`POST ${pathName} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (chunked) head.push("Transfer-Encoding: chunked");
    const finish = () => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (!m) return reject(new Error(`no HTTP answer (sent ${sent} bytes): ${JSON.stringify(received.slice(0, 200))}`));
      const split = received.indexOf("\r\n\r\n");
      let body = received.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(received.slice(0, split))) body = body.replace(/^[0-9a-f]+\r\n/i, "").replace(/\r\n0\r\n\r\n$/, "").replace(/\r\n$/, "");
      resolve({ status: Number(m[1]), body, sent });
    };
    socket.setEncoding("latin1");
    socket.on("data", (c: string) => {
      received += c;
      if (/\r\n\r\n/.test(received)) socket.end();
    });
    socket.on("error", () => {}); // EPIPE / ECONNRESET after the answer: judged on close
    socket.on("close", finish);
    const chunk = Buffer.alloc(64 * 1024, 32);
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
    const pump = () => {
      while (!received && sent < total && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(frame)) return socket.once("drain", pump);
      }
    };
    socket.write(head.join("\r\n") + "\r\n\r\n", pump);
  });
}

describe("scenario 1: kill -9 the server while 20 runs post events and logs", () => {
  it("keeps every acknowledged event exactly once, in order; integrity ok; runs complete after reconnect", async () => {
    const s = await server({ PERFECT_HEARTBEAT_TIMEOUT_MS: "15000" });
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    const runIds: string[] = [];
    for (let i = 0; i < 20; i++) runIds.push((await trigger(s.url, flow.id)).id);
    const claimed: string[] = [];
    while (claimed.length < 20) claimed.push(...(await w.poll(20)).map((r) => r.id));

    const TOTAL = 60; // log events per run, sent 3 per batch
    const acked = new Map<string, number>(runIds.map((id) => [id, 0])); // highest acknowledged seq
    let killed = false;
    const post = async (runId: string) => {
      for (let seq = acked.get(runId)! + 1; seq <= TOTAL; seq += 3) {
        const events = [0, 1, 2].map((k) => ({ seq: seq + k, type: "log", level: "INFO", message: `run ${runId} line ${seq + k}` }));
        try {
          const r = await w.events(runId, events);
          if (r.status !== 200) throw new Error(`unexpected ${r.status}`);
          acked.set(runId, seq + 2);
        } catch (e) {
          if (killed) return; // the server died under us: this batch is unacknowledged
          throw e;
        }
      }
    };
    const posting = Promise.all(runIds.map(post));
    await sleep(300);
    killed = true;
    await s.kill9();
    await posting;

    // Every acknowledged line is on disk.
    const db = new Database(s.dbPath, { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    for (const id of runIds) {
      const rows = db.prepare("select seq, message from logs where run_id = ? order by id").all(Number(id)) as { seq: number; message: string }[];
      const seqs = rows.map((r) => r.seq);
      expect(seqs.length).toBeGreaterThanOrEqual(acked.get(id)!);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // once each, in order
    }
    db.close();

    // Restart on the same file; the worker re-sends from its last acknowledged seq (some
    // batches were stored but never acknowledged: they are skipped as duplicates).
    await s.start();
    await Promise.all(runIds.map(post));
    for (const id of runIds) {
      const r = await w.events(id, [{ seq: TOTAL + 1, type: "run_completed" }]);
      expect(r.status).toBe(200);
    }
    const check = new Database(s.dbPath, { readonly: true });
    for (const id of runIds) {
      const seqs = (check.prepare("select seq from logs where run_id = ? order by id").all(Number(id)) as { seq: number }[]).map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    }
    check.close();
    const done = await getJson(`${s.url}/api/runs?state=COMPLETED&limit=200`);
    expect(done.runs).toHaveLength(20);
  }, 120_000);
});

describe("scenario 3: a worker that dies right after claiming, before any heartbeat", () => {
  it("its run is FAILED within the timeout counted from the claim", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    await sleep(2500); // registration is long past the timeout by the time the run is claimed
    const run = await trigger(s.url, flow.id);
    const claimedAt = Date.now();
    expect((await w.poll(1)).map((r) => r.id)).toEqual([run.id]);
    let state = "RUNNING";
    while (state === "RUNNING" && Date.now() - claimedAt < 60_000) {
      await sleep(100);
      state = (await getJson(`${s.url}/api/runs/${run.id}`)).state;
    }
    const failedAfter = Date.now() - claimedAt;
    const view = await getJson(`${s.url}/api/runs/${run.id}`);
    expect(view.state).toBe("FAILED");
    expect(view.error).toBe("client heartbeat lost");
    // Never before the timeout counted from the claim (the server claimed after claimedAt);
    // how soon after is measured by bench/, not asserted here.
    expect(failedAfter).toBeGreaterThanOrEqual(2000);
  }, 60_000);
});

describe("scenario 6, 7: duplicate batches and a skewed worker clock", () => {
  it("every batch sent twice stores each event once", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    const run = await trigger(s.url, flow.id);
    await w.poll(1);
    const batches = [
      [{ seq: 1, type: "task_started", call: 0, task: "step" }, { seq: 2, type: "log", call: 0, level: "INFO", message: "a" }],
      [{ seq: 3, type: "task_progress", call: 0, progress: 0.5 }, { seq: 4, type: "log", call: 0, level: "INFO", message: "b" }],
      [{ seq: 5, type: "task_completed", call: 0 }, { seq: 6, type: "log", level: "INFO", message: "c" }, { seq: 7, type: "run_completed" }],
    ];
    for (const b of batches) {
      expect((await w.events(run.id, b)).status).toBe(200);
      const again = await w.events(run.id, b);
      expect(again.status).toBe(200);
      expect(again.body.applied).toBe(0);
    }
    const logs = (await getJson(`${s.url}/api/runs/${run.id}/logs`)).logs;
    expect(logs.map((l: any) => l.message)).toEqual(["a", "b", "c"]);
    const view = await getJson(`${s.url}/api/runs/${run.id}`);
    expect(view.taskRuns).toHaveLength(1);
    expect(view.state).toBe("COMPLETED");
  }, 60_000);

  it("a worker whose clock is ten minutes off is not failed and its times are corrected", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    const run = await trigger(s.url, flow.id);
    await w.poll(1);
    const skew = -10 * 60_000;
    const stamp = new Date(Date.now() + skew).toISOString();
    const before = Date.now();
    // Sent "at" the worker's (skewed) now: the server corrects it to its own receipt time.
    await w.events(run.id, [{ seq: 1, type: "task_started", call: 0, task: "step", ts: stamp }], { sentAt: stamp });
    const after = Date.now();
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      await w.heartbeat([run.id]);
    }
    const view = await getJson(`${s.url}/api/runs/${run.id}`);
    expect(view.state).toBe("RUNNING");
    const startedAt = Date.parse(view.taskRuns[0].startedAt);
    expect(startedAt).toBeGreaterThanOrEqual(before);
    expect(startedAt).toBeLessThanOrEqual(after);
  }, 60_000);
});

/** Holds the write lock for a few ms at a time, as long as it runs; reports its count on SIGTERM. */
const SECOND_WRITER = `
const Database = require(require.resolve("better-sqlite3", { paths: [process.cwd()] }));
const db = new Database(process.argv[1]);
db.pragma("busy_timeout = 5000");
db.exec("CREATE TABLE IF NOT EXISTS contention_probe (id INTEGER PRIMARY KEY, at INTEGER)");
const ins = db.prepare("INSERT INTO contention_probe (at) VALUES (?)");
const hold = db.transaction(() => { const end = Date.now() + 3; while (Date.now() < end) ins.run(Date.now()); });
let n = 0;
process.on("SIGTERM", () => { console.log("wrote " + n); process.exit(0); });
console.log("writing");
setInterval(() => { hold.immediate(); n++; }, 5);
`;

describe("scenario 9: 50 concurrent workers writing while the dashboard queries history", () => {
  it("no SQLITE_BUSY and no 5xx, with a second process writing to the same file", async () => {
    const s = await server({ PERFECT_HEARTBEAT_TIMEOUT_MS: "30000" });
    // Another process (a backup, a CLI, a migration) takes the write lock over and over: the
    // server's writes must wait for it (busy_timeout), never fail.
    const writer = spawn(process.execPath, ["-e", SECOND_WRITER, s.dbPath], { stdio: ["ignore", "pipe", "pipe"] });
    let writerOut = "";
    writer.stdout!.on("data", (c) => (writerOut += c));
    writer.stderr!.on("data", (c) => (writerOut += c));
    await new Promise<void>((r) => {
      const check = () => (writerOut.includes("writing") ? r() : setTimeout(check, 20));
      check();
    });
    const workers = Array.from({ length: 50 }, () => new ProtocolWorker(s.url, "perfect_example", TOKEN));
    const flows = await Promise.all(workers.map((w) => w.register([FLOW])));
    const flowId = flows[0][0].id;
    for (let i = 0; i < 50; i++) await trigger(s.url, flowId);
    const statuses: number[] = [];
    let querying = true;
    const dashboard = (async () => {
      while (querying) {
        for (const q of ["/api/runs?limit=50", "/api/runs?state=RUNNING", "/api/runs?tag=team:sre", "/api/flows", "/api/stats/tasks"]) {
          statuses.push((await fetch(s.url + q)).status);
        }
      }
    })();
    await Promise.all(
      workers.map(async (w) => {
        const runs = await w.poll(1, 2000);
        for (const r of runs) {
          let seq = 1;
          for (let b = 0; b < 10; b++) {
            const events = Array.from({ length: 10 }, () => ({ seq: seq++, type: "log", level: "INFO", message: `line ${seq}` }));
            statuses.push((await w.events(r.id, events)).status);
          }
          statuses.push((await w.events(r.id, [{ seq: seq++, type: "run_completed" }])).status);
        }
      }),
    );
    querying = false;
    await dashboard;
    writer.kill("SIGTERM");
    await new Promise((r) => writer.on("exit", r));
    const writes = Number(/wrote (\d+)/.exec(writerOut)?.[1] ?? 0);
    expect(writes).toBeGreaterThan(0); // the contention was real
    expect(writerOut).not.toMatch(/SQLITE_BUSY|database is locked/);
    expect(statuses.filter((x) => x >= 500)).toEqual([]);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    expect(s.output).not.toMatch(/SQLITE_BUSY|database is locked/);
    expect((await getJson(`${s.url}/api/runs?state=COMPLETED&limit=200`)).runs).toHaveLength(50);
  }, 120_000);
});

describe("scenario 10, 11: auth and cross-site requests", () => {
  it("every worker route refuses a missing or wrong token with 401 and changes nothing; other clients' runs are 403", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    const run = await trigger(s.url, flow.id);
    await w.poll(1);
    const routes = ["/register", "/poll", "/heartbeat", `/runs/${run.id}/events`];
    const bodies = [{ flows: [{ name: "Evil" }] }, { workerId: w.workerId }, { workerId: w.workerId }, { workerId: w.workerId, events: [{ seq: 1, type: "run_completed" }] }];
    for (const [i, route] of routes.entries()) {
      for (const auth of [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, "Basic abc", `Bearer other-token`]) {
        const res = await fetch(`${s.url}/api/worker/perfect_example${route}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify(bodies[i]),
        });
        expect(res.status).toBe(401);
        expect((await res.json()).error.code).toBe("unauthorized");
      }
    }
    const view = await getJson(`${s.url}/api/runs/${run.id}`);
    expect(view.state).toBe("RUNNING");
    expect((await getJson(`${s.url}/api/flows`)).flows.map((f: any) => f.name)).toEqual(["Reliable"]);
    const other = new ProtocolWorker(s.url, "other", "other-token");
    await other.register([]);
    const cross = await other.events(run.id, [{ seq: 1, type: "run_completed" }]);
    expect(cross.status).toBe(403);
    expect((await getJson(`${s.url}/api/runs/${run.id}`)).state).toBe("RUNNING");
  }, 60_000);

  it("a cross-site form post or foreign Origin cannot trigger or cancel; same-origin JSON works", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const [flow] = await w.register([FLOW]);
    const run = await trigger(s.url, flow.id);
    const attempts: { path: string; headers: Record<string, string>; body: string }[] = [
      { path: `/api/flows/${flow.id}/runs`, headers: { "content-type": "text/plain", origin: "https://evil.example", "sec-fetch-site": "cross-site" }, body: '{"parameters":{}}' },
      { path: `/api/flows/${flow.id}/runs`, headers: { "content-type": "application/json", origin: "https://evil.example" }, body: "{}" },
      { path: `/api/runs/${run.id}/cancel`, headers: { "content-type": "text/plain", origin: "https://evil.example", "sec-fetch-site": "cross-site" }, body: "x=1" },
      { path: `/api/runs/${run.id}/cancel`, headers: { "content-type": "application/json", origin: "http://127.0.0.1:1" }, body: "{}" },
    ];
    for (const a of attempts) {
      const res = await fetch(s.url + a.path, { method: "POST", headers: a.headers, body: a.body });
      expect(res.status).toBe(403);
    }
    expect((await getJson(`${s.url}/api/runs?limit=200`)).runs).toHaveLength(1);
    expect((await getJson(`${s.url}/api/runs/${run.id}`)).state).toBe("PENDING");
    const same = await fetch(`${s.url}/api/runs/${run.id}/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, "sec-fetch-site": "same-origin" },
      body: "{}",
    });
    expect(same.status).toBe(200);
    expect((await same.json()).state).toBe("CANCELLED");
  }, 60_000);
});

describe("scenario 12, 13: hostile input, headers and oversized bodies", () => {
  it("stores hostile text faithfully and answers with nosniff", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    const evil = `<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>\u0000\u0007\u001b[31m`;
    const [flow] = await w.register([{ name: `F ${evil}`, description: evil, tags: { team: evil }, tasks: [{ name: "t" }], parameters: [{ name: "p", type: "str", required: false }] }]);
    const run = await trigger(s.url, flow.id, { p: evil });
    await w.poll(1);
    const big = "x".repeat(1024 * 1024 - 4096);
    await w.events(run.id, [
      { seq: 1, type: "task_started", call: 0, task: "t" },
      { seq: 2, type: "log", call: 0, level: "ERROR", message: evil },
      { seq: 3, type: "log", call: 0, level: "INFO", message: big.slice(0, 900_000) },
      { seq: 4, type: "run_failed", error: evil },
    ]);
    const res = await fetch(`${s.url}/api/runs/${run.id}`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const view = await res.json();
    expect(view.flowName).toBe(`F ${evil}`);
    expect(view.tags.team).toBe(evil);
    expect(view.parameters.p).toBe(evil);
    expect(view.error).toBe(evil);
    const logs = (await getJson(`${s.url}/api/runs/${run.id}/logs`)).logs;
    expect(logs[0].message).toBe(evil);
    expect(logs[1].message).toMatch(/\[truncated \d+ bytes\]$/);
    const page = await fetch(`${s.url}/runs/${run.id}`);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src");
    expect(csp.match(/script-src[^;]*/)![0]).not.toContain("'unsafe-inline'");
    expect(await page.text()).not.toContain("<script>alert(1)</script>");
  }, 60_000);

  it("refuses bodies over 1 MiB with 413 before reading them whole", async () => {
    const s = await server();
    const w = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    await w.register([FLOW]);
    const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
    // Declared too large: answered 413 after at most one chunk of the body was sent.
    const declared = await streamUntilAnswered(s.port, "/api/worker/perfect_example/heartbeat", { ...headers, "content-length": String(50 * 1024 * 1024) }, 50 * 1024 * 1024);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.code).toBe("payload_too_large");
    expect(declared.sent).toBeLessThan(16 * 1024 * 1024);
    // Chunked, no length: the server stops reading past 1 MiB and answers 413 while the
    // client still has most of its 32 MiB left to send.
    const chunked = await streamUntilAnswered(s.port, "/api/worker/perfect_example/heartbeat", headers, 32 * 1024 * 1024);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe("payload_too_large");
    expect(chunked.sent).toBeLessThan(16 * 1024 * 1024);
    expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
  }, 60_000);

  it("a flood of heartbeats from one client never stops another client's dispatch (speed: bench/)", async () => {
    const s = await server({ PERFECT_HEARTBEAT_TIMEOUT_MS: "30000" });
    const noisy = new ProtocolWorker(s.url, "perfect_example", TOKEN);
    await noisy.register([]);
    const quiet = new ProtocolWorker(s.url, "other", "other-token");
    const [flow] = await quiet.register([{ ...FLOW, name: "Quiet" }]);
    const dispatch = async () => {
      const waiting = quiet.poll(1, 5000);
      await sleep(20);
      const t0 = performance.now();
      await trigger(s.url, flow.id);
      const runs = await waiting;
      const ms = performance.now() - t0;
      await quiet.events(runs[0].id, [{ seq: 1, type: "run_completed" }]);
      return ms;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (let i = 0; i < 5; i++) await dispatch(); // warm-up
    const base: number[] = [];
    for (let i = 0; i < 15; i++) base.push(await dispatch());
    let flooding = true;
    let sent = 0;
    const floodStatuses = new Set<number>();
    const flood = Array.from({ length: 8 }, async () => {
      while (flooding) {
        floodStatuses.add((await noisy.heartbeat([])).status);
        sent++;
      }
    });
    await sleep(200);
    const loaded: number[] = [];
    for (let i = 0; i < 15; i++) loaded.push(await dispatch());
    flooding = false;
    await Promise.all(flood);
    // Outcome: every dispatch under the flood delivered its run (dispatch() throws otherwise),
    // the flood was answered (paced, never a 5xx). The 2x bound on speed is measured side by
    // side in bench/ (npm run bench), never asserted here: timings are noisy on CI machines.
    expect(loaded).toHaveLength(15);
    expect(sent).toBeGreaterThanOrEqual(50);
    expect([...floodStatuses].filter((x) => x >= 500)).toEqual([]);
    console.log(`[reliability] dispatch median ${median(base).toFixed(1)} ms quiet, ${median(loaded).toFixed(1)} ms under a heartbeat flood`);
  }, 90_000);
});
