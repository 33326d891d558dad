#!/usr/bin/env node
/**
 * A bare node:http + better-sqlite3 server: the floor a framework-free server reaches on this
 * machine, measured beside Perfect to show how much of a gap is Perfect's own per-request and
 * per-run cost (Next's routing, validation, statistics, alerts, the change feed).
 *
 *   node bench/lib/bare-server.mjs <database file>   → prints {"port": …, "runIds": [...]}
 *
 * Same schema (drizzle migrations) and the same pragmas as the server. It answers the worker
 * protocol of docs/API.md well enough for the real Python worker (sdk-python `serve`) to run
 * runs end to end, plus the few dashboard calls the benchmarks make:
 *
 *  - POST /api/worker/{client}/register — the worker row, its flows (with their declared tasks);
 *  - POST /api/worker/{client}/poll — claims up to maxRuns PENDING runs of the flows this worker
 *    serves (oldest first, one BEGIN IMMEDIATE transaction); with none, the request is parked and
 *    a trigger of a flow it serves wakes it in-process (no polling of the database);
 *  - POST /api/worker/{client}/heartbeat — liveness, cancelled/finished runs among those listed;
 *  - POST /api/worker/{client}/runs/{id}/events — a batch in one transaction: seqs at or below
 *    the run's last_seq skipped, a gap refused (409 seq_gap), task runs' states and durations,
 *    log rows, the run's state, progress and last_seq;
 *  - POST /api/flows/{id}/runs — trigger: the PENDING run and its declared task runs, defaults
 *    filled in, then the wake-up;
 *  - GET /api/flows?name=…, GET /api/runs?flowId=…&state=…&limit=…, GET /api/health.
 *
 * What it deliberately leaves out (the framework's extra work): statistics and outlier
 * detection, alerts, the change feed (SSE), schedules, subflows, artifacts, concurrency limits,
 * zod validation (a hand check of the fields it uses), access control beyond the bearer token.
 * It also keeps 16 RUNNING runs of worker "bare" for bench/ingest.mjs's events-only figures.
 * Loopback only.
 */
import http from "node:http";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { openLikeServer } from "../seed.mjs";

export const BARE_CLIENTS = [
  { id: "bench", token: "bench-token" },
  { id: "bench2", token: "bench2-token" },
];
const HEARTBEAT_MS = 5000;
const LONG_POLL_MS = 25_000;

export function startBare(file, { port = 0 } = {}) {
  const db = openLikeServer(file);
  const now = Date.now();
  const tokens = new Map(BARE_CLIENTS.map((c) => [c.id, `Bearer ${c.token}`]));
  for (const c of BARE_CLIENTS) db.prepare("INSERT OR IGNORE INTO clients (id, name) VALUES (?, ?)").run(c.id, c.id);
  db.prepare("INSERT OR IGNORE INTO workers (id, client_id, registered_at, last_seen_at) VALUES ('bare', 'bench', ?, ?)").run(now, now);
  const ingestFlow = db.prepare("INSERT INTO flows (client_id, name, registered_at, updated_at) VALUES ('bench', ?, ?, ?) RETURNING id").get(`bare-${now}`, now, now).id;
  const runIds = [];
  for (let i = 0; i < 16; i++) {
    runIds.push(db.prepare("INSERT INTO runs (flow_id, client_id, flow_name, state, trigger, worker_id, created_at, started_at) VALUES (?, 'bench', 'bare', 'RUNNING', 'api', 'bare', ?, ?) RETURNING id").get(ingestFlow, now, now).id);
  }

  // Flow definitions as the workers registered them: id → { id, clientId, name, version, params, tasks }.
  const flows = new Map();
  // workerId → { clientId, flowIds: Set }.
  const workers = new Map([["bare", { clientId: "bench", flowIds: new Set() }]]);
  // Parked long polls, oldest first.
  const parked = [];

  const q = {
    workerUpsert: db.prepare("INSERT INTO workers (id, client_id, hostname, pid, sdk_version, registered_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    workerSeen: db.prepare("UPDATE workers SET last_seen_at = ? WHERE id = ?"),
    clientSeen: db.prepare("UPDATE clients SET last_seen_at = ? WHERE id = ?"),
    flowFind: db.prepare("SELECT id FROM flows WHERE client_id = ? AND name = ?").pluck(),
    flowInsert: db.prepare("INSERT INTO flows (client_id, name, description, tags, parameters, version, registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id").pluck(),
    flowUpdate: db.prepare("UPDATE flows SET description = ?, tags = ?, parameters = ?, version = ?, updated_at = ? WHERE id = ?"),
    runInsert: db.prepare("INSERT INTO runs (flow_id, client_id, flow_name, state, parameters, tags, trigger, created_at, flow_version) VALUES (?, ?, ?, 'PENDING', ?, ?, 'api', ?, ?) RETURNING id").pluck(),
    taskInsert: db.prepare("INSERT INTO task_runs (run_id, flow_id, position, call_index, name, weight, estimated_time, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id").pluck(),
    claim: (n) =>
      db.prepare(
        `UPDATE runs SET state = 'RUNNING', worker_id = ?, claimed_at = ? WHERE id IN (SELECT id FROM runs WHERE client_id = ? AND state = 'PENDING' AND flow_id IN (${Array(n).fill("?").join(",")}) ORDER BY id LIMIT ?) RETURNING id, flow_id, flow_name, parameters, created_at`,
      ),
    run: db.prepare("SELECT id, flow_id, client_id, worker_id, state, last_seq, started_at, cancel_requested_at FROM runs WHERE id = ?"),
    runStarted: db.prepare("UPDATE runs SET started_at = ? WHERE id = ? AND started_at IS NULL"),
    runSeq: db.prepare("UPDATE runs SET last_seq = ? WHERE id = ?"),
    runEnd: db.prepare("UPDATE runs SET state = ?, ended_at = ?, error = ?, progress = CASE WHEN ? = 'COMPLETED' THEN 1 ELSE progress END WHERE id = ?"),
    runProgress: db.prepare("UPDATE runs SET progress = (SELECT coalesce(sum(CASE WHEN state = 'COMPLETED' THEN weight ELSE 0 END) / nullif(sum(weight), 0), 0) FROM task_runs WHERE run_id = ?) WHERE id = ?"),
    taskByCall: db.prepare("SELECT id FROM task_runs WHERE run_id = ? AND call_index = ?").pluck(),
    taskFree: db.prepare("SELECT id FROM task_runs WHERE run_id = ? AND name = ? AND call_index IS NULL ORDER BY position LIMIT 1").pluck(),
    taskCount: db.prepare("SELECT count(*) FROM task_runs WHERE run_id = ?").pluck(),
    taskStart: db.prepare("UPDATE task_runs SET state = 'RUNNING', call_index = ?, started_at = coalesce(started_at, ?), attempt_started_at = ?, attempt = ? WHERE id = ?"),
    taskRetry: db.prepare("UPDATE task_runs SET attempt = ?, attempt_started_at = ?, error = ? WHERE id = ?"),
    taskProgress: db.prepare("UPDATE task_runs SET reported_progress = ?, progress_changed_at = ? WHERE id = ?"),
    taskEnd: db.prepare("UPDATE task_runs SET state = ?, ended_at = ?, duration_ms = coalesce(?, ? - attempt_started_at), error = ?, reported_progress = CASE WHEN ? = 'COMPLETED' THEN 1 ELSE reported_progress END WHERE id = ?"),
    tasksCancel: db.prepare("UPDATE task_runs SET state = CASE WHEN state = 'RUNNING' AND ? = 'FAILED' THEN 'FAILED' ELSE 'CANCELLED' END, ended_at = ? WHERE run_id = ? AND state IN ('PENDING', 'RUNNING')"),
    log: db.prepare("INSERT INTO logs (run_id, task_run_id, seq, level, message, ts) VALUES (?, ?, ?, ?, ?, ?)"),
    heartbeatRuns: db.prepare("SELECT id, state, cancel_requested_at FROM runs WHERE id IN (SELECT value FROM json_each(?)) AND worker_id = ?"),
    flowsByName: db.prepare("SELECT id, client_id, name, version FROM flows WHERE name = ?"),
    openRuns: db.prepare("SELECT id, state, created_at FROM runs WHERE flow_id = ? AND state IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?"),
  };
  const claimStatements = new Map();
  const claimStmt = (n) => claimStatements.get(n) ?? claimStatements.set(n, q.claim(n)).get(n);

  const register = db.transaction((clientId, body) => {
    const t = Date.now();
    const workerId = `wkr_${randomUUID()}`;
    const w = body.worker ?? {};
    q.workerUpsert.run(workerId, clientId, w.hostname ?? null, Number.isInteger(w.pid) ? w.pid : null, w.sdkVersion ?? null, t, t);
    q.clientSeen.run(t, clientId);
    const out = [];
    const flowIds = new Set();
    for (const f of body.flows) {
      const params = JSON.stringify(f.parameters ?? []);
      const tags = JSON.stringify(f.tags ?? {});
      const version = typeof f.version === "string" ? f.version : "";
      let id = q.flowFind.get(clientId, f.name);
      if (id === undefined) id = q.flowInsert.get(clientId, f.name, f.description ?? "", tags, params, version, t, t);
      else q.flowUpdate.run(f.description ?? "", tags, params, version, t, id);
      flows.set(id, { id, clientId, name: f.name, version, tags, params: f.parameters ?? [], tasks: Array.isArray(f.tasks) ? f.tasks : [] });
      flowIds.add(id);
      out.push({ id: String(id), name: f.name });
    }
    workers.set(workerId, { clientId, flowIds });
    return { clientId, workerId, heartbeatIntervalMs: HEARTBEAT_MS, longPollMs: LONG_POLL_MS, flows: out };
  });

  const claim = db.transaction((workerId, w, maxRuns) => {
    const ids = [...w.flowIds];
    if (!ids.length) return [];
    const t = Date.now();
    q.workerSeen.run(t, workerId);
    return claimStmt(ids.length)
      .all(workerId, t, w.clientId, ...ids, maxRuns)
      .sort((a, b) => a.id - b.id)
      .map((r) => ({ id: String(r.id), flowId: String(r.flow_id), flowName: r.flow_name, parameters: JSON.parse(r.parameters), createdAt: new Date(r.created_at).toISOString() }));
  });

  const trigger = db.transaction((flow, parameters) => {
    const t = Date.now();
    const id = q.runInsert.get(flow.id, flow.clientId, flow.name, JSON.stringify(parameters), flow.tags, t, flow.version);
    flow.tasks.forEach((task, i) => {
      const est = Number.isFinite(task.estimatedTime) ? task.estimatedTime : null;
      q.taskInsert.get(id, flow.id, i, null, task.name, est ?? 1, est, "PENDING");
    });
    return { id: String(id), flowId: String(flow.id), flowName: flow.name, state: "PENDING", parameters, createdAt: new Date(t).toISOString() };
  });

  /** Hands PENDING runs of `flowId` to parked polls of workers serving it, oldest poll first. */
  function wake(flowId) {
    for (let i = 0; i < parked.length; ) {
      const p = parked[i];
      if (!p.worker.flowIds.has(flowId)) {
        i++;
        continue;
      }
      const runs = claim.immediate(p.workerId, p.worker, p.maxRuns);
      if (!runs.length) return;
      parked.splice(i, 1);
      p.answer(runs);
    }
  }

  const apply = db.transaction((run, workerId, events, skewMs) => {
    const t = Date.now();
    const last = run.last_seq;
    let applied = 0;
    let duplicates = 0;
    let top = last;
    let state = run.state;
    let progressDirty = false;
    const tsOf = (e) => (e.ts ? Date.parse(e.ts) + skewMs : t);
    const taskOf = (call, name) => {
      let id = q.taskByCall.get(run.id, call);
      if (id === undefined && name !== undefined) id = q.taskFree.get(run.id, name);
      if (id === undefined && name !== undefined) id = q.taskInsert.get(run.id, run.flow_id ?? 0, q.taskCount.get(run.id), call, name, 1, null, "PENDING");
      return id;
    };
    const fresh = [];
    for (const e of events) {
      if (e.seq <= top) {
        duplicates++;
        continue;
      }
      if (e.seq !== top + 1) return { gap: top + 1 };
      top = e.seq;
      fresh.push(e);
    }
    if (fresh.length && (state === "COMPLETED" || state === "FAILED" || state === "CANCELLED")) return { finished: state };
    for (const e of fresh) {
      const ts = tsOf(e);
      applied++;
      switch (e.type) {
        case "task_started": {
          const id = taskOf(e.call, e.task);
          q.taskStart.run(e.call, ts, ts, e.attempt ?? 1, id);
          q.runStarted.run(ts, run.id);
          break;
        }
        case "task_retrying": {
          const id = taskOf(e.call);
          if (id !== undefined) q.taskRetry.run(e.attempt, ts, e.error ?? null, id);
          break;
        }
        case "task_progress": {
          const id = taskOf(e.call);
          if (id !== undefined) q.taskProgress.run(e.progress, ts, id);
          break;
        }
        case "task_completed":
        case "task_failed": {
          const id = taskOf(e.call);
          const s = e.type === "task_completed" ? "COMPLETED" : "FAILED";
          if (id !== undefined) q.taskEnd.run(s, ts, Number.isFinite(e.durationMs) ? Math.round(e.durationMs) : null, ts, e.type === "task_failed" ? (e.error ?? "task failed") : null, s, id);
          progressDirty = true;
          break;
        }
        case "log": {
          const id = e.call === undefined || e.call === null ? null : (q.taskByCall.get(run.id, e.call) ?? null);
          q.log.run(run.id, id, e.seq, e.level, String(e.message).slice(0, 16_384), ts);
          break;
        }
        case "run_completed":
        case "run_failed":
        case "run_cancelled": {
          state = e.type === "run_failed" ? "FAILED" : e.type === "run_cancelled" || run.cancel_requested_at ? "CANCELLED" : "COMPLETED";
          if (progressDirty) q.runProgress.run(run.id, run.id);
          progressDirty = false;
          if (state !== "COMPLETED") q.tasksCancel.run(state, ts, run.id);
          q.runEnd.run(state, ts, e.type === "run_failed" ? (e.error ?? "run failed") : null, state, run.id);
          break;
        }
        default:
          throw Object.assign(new Error(`events[].type: unknown event type ${JSON.stringify(e.type)}`), { status: 400 });
      }
    }
    if (progressDirty) q.runProgress.run(run.id, run.id);
    if (top !== last) q.runSeq.run(top, run.id);
    q.workerSeen.run(t, workerId);
    return { applied, duplicates, lastSeq: top, state, cancelRequested: run.cancel_requested_at !== null };
  });

  const heartbeat = db.transaction((workerId, runIds) => {
    const t = Date.now();
    q.workerSeen.run(t, workerId);
    const cancelledRunIds = [];
    const finishedRunIds = [];
    const ids = runIds.map(Number).filter(Number.isInteger);
    for (const r of q.heartbeatRuns.all(JSON.stringify(ids), workerId)) {
      if (r.state !== "RUNNING" && r.state !== "PENDING") finishedRunIds.push(String(r.id));
      else if (r.cancel_requested_at !== null) cancelledRunIds.push(String(r.id));
    }
    return { cancelledRunIds, finishedRunIds, heartbeatIntervalMs: HEARTBEAT_MS };
  });

  const send = (res, status, body) => {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const fail = (res, status, code, message, details) => send(res, status, { error: { code, message, ...(details ? { details } : {}) } });
  const readJson = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        try {
          const v = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
          if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("body: expected a JSON object");
          resolve(v);
        } catch (e) {
          reject(Object.assign(e, { status: 400, code: "invalid_json" }));
        }
      });
      req.on("error", reject);
    });
  const knownWorker = (res, clientId, workerId) => {
    const w = typeof workerId === "string" ? workers.get(workerId) : undefined;
    if (!w || w.clientId !== clientId) {
      fail(res, 404, "not_found", `worker ${workerId} is not registered`);
      return null;
    }
    return w;
  };

  async function handle(req, res) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const p = url.pathname;
    if (req.method === "GET" && p === "/api/health") return send(res, 200, { ok: true });
    if (req.method === "GET" && p === "/api/flows") {
      const name = url.searchParams.get("name") ?? "";
      return send(res, 200, { flows: q.flowsByName.all(name).map((f) => ({ id: String(f.id), clientId: f.client_id, name: f.name, version: f.version })) });
    }
    if (req.method === "GET" && p === "/api/runs") {
      const flowId = Number(url.searchParams.get("flowId"));
      const states = url.searchParams.getAll("state");
      const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 50) || 50, 1), 500);
      if (!Number.isInteger(flowId)) return fail(res, 400, "validation_error", "flowId: expected an id");
      const rows = q.openRuns.all(flowId, JSON.stringify(states.length ? states : ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]), limit);
      return send(res, 200, { runs: rows.map((r) => ({ id: String(r.id), state: r.state, createdAt: new Date(r.created_at).toISOString() })) });
    }
    const trig = /^\/api\/flows\/(\d+)\/runs$/.exec(p);
    if (req.method === "POST" && trig) {
      const flow = flows.get(Number(trig[1]));
      if (!flow) return fail(res, 404, "not_found", `flow ${trig[1]} not found`);
      const body = await readJson(req);
      const given = body.parameters ?? {};
      if (typeof given !== "object" || Array.isArray(given) || given === null) return fail(res, 400, "validation_error", "parameters: expected an object", { field: "parameters" });
      const parameters = {};
      for (const spec of flow.params) {
        if (spec.name in given) parameters[spec.name] = given[spec.name];
        else if ("default" in spec) parameters[spec.name] = spec.default;
        else if (spec.required) return fail(res, 400, "validation_error", `parameters.${spec.name}: required`, { field: `parameters.${spec.name}` });
      }
      for (const k of Object.keys(given)) if (!(k in parameters)) return fail(res, 400, "validation_error", `parameters.${k}: unknown parameter`, { field: `parameters.${k}` });
      const run = trigger.immediate(flow, parameters);
      send(res, 201, run);
      wake(flow.id);
      return;
    }
    const m = /^\/api\/worker\/([^/]+)\/(register|poll|heartbeat|runs\/(\d+)\/events)$/.exec(p);
    if (req.method !== "POST" || !m) return fail(res, 404, "not_found", `no route ${req.method} ${p}`);
    const clientId = decodeURIComponent(m[1]);
    const expected = tokens.get(clientId);
    if (!expected) return fail(res, 404, "not_found", `client ${clientId} not found`);
    if (req.headers.authorization !== expected) return fail(res, 401, "unauthorized", "bad or missing bearer token");
    const body = await readJson(req);
    if (m[2] === "register") {
      if (!Array.isArray(body.flows) || body.flows.some((f) => !f || typeof f.name !== "string" || !f.name)) return fail(res, 400, "validation_error", "flows: expected a list of flows with names", { field: "flows" });
      return send(res, 200, register.immediate(clientId, body));
    }
    const w = knownWorker(res, clientId, body.workerId);
    if (!w) return;
    if (m[2] === "heartbeat") {
      const runIds = Array.isArray(body.runIds) ? body.runIds : [];
      return send(res, 200, heartbeat.immediate(body.workerId, runIds));
    }
    if (m[2] === "poll") {
      const maxRuns = body.maxRuns ?? 1;
      if (!Number.isInteger(maxRuns) || maxRuns < 1 || maxRuns > 50) return fail(res, 400, "validation_error", "maxRuns: expected 1..50", { field: "maxRuns" });
      const waitMs = Math.min(Number.isInteger(body.waitMs) ? body.waitMs : LONG_POLL_MS, LONG_POLL_MS);
      const runs = claim.immediate(body.workerId, w, maxRuns);
      if (runs.length || waitMs <= 0) return send(res, 200, { runs });
      const entry = {
        workerId: body.workerId,
        worker: w,
        maxRuns,
        answer: (r) => {
          clearTimeout(entry.timer);
          send(res, 200, { runs: r });
        },
      };
      entry.timer = setTimeout(() => {
        const i = parked.indexOf(entry);
        if (i >= 0) parked.splice(i, 1);
        send(res, 200, { runs: [] });
      }, waitMs);
      res.on("close", () => {
        const i = parked.indexOf(entry);
        if (i >= 0) {
          parked.splice(i, 1);
          clearTimeout(entry.timer);
        }
      });
      parked.push(entry);
      return;
    }
    // Events.
    if (!Array.isArray(body.events) || !body.events.length) return fail(res, 400, "validation_error", "events: expected a non-empty list", { field: "events" });
    for (const e of body.events) if (!e || !Number.isInteger(e.seq) || e.seq < 1) return fail(res, 400, "validation_error", "events[].seq: expected a positive integer", { field: "events" });
    const run = q.run.get(Number(m[3]));
    if (!run) return fail(res, 404, "not_found", `run ${m[3]} not found`);
    if (run.client_id !== clientId || (run.worker_id !== null && run.worker_id !== body.workerId)) return fail(res, 403, "forbidden", `run ${m[3]} belongs to another worker`);
    const skewMs = body.sentAt ? Date.now() - Date.parse(body.sentAt) : 0;
    const out = apply.immediate(run, body.workerId, body.events, Number.isFinite(skewMs) ? skewMs : 0);
    if (out.gap !== undefined) return fail(res, 409, "seq_gap", `events must continue at seq ${out.gap}`, { expectedSeq: out.gap });
    if (out.finished) return fail(res, 409, "run_finished", `run ${m[3]} is already ${out.finished}`, { state: out.finished });
    return send(res, 200, out);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const status = e.status ?? 500;
      fail(res, status, e.code ?? (status === 400 ? "validation_error" : "internal"), String(e.message ?? e));
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      resolve({
        port: server.address().port,
        runIds,
        db,
        close: () =>
          new Promise((r) => {
            for (const p of parked.splice(0)) p.answer([]);
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

/** The bare server in a process of its own (as Perfect's server is): { base, port, pid, runIds, stop() }. */
export async function spawnBare(file) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), file], { stdio: ["ignore", "pipe", "inherit"] });
  const first = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`bare server exited (${code})`)));
  });
  const { port, runIds } = JSON.parse(first);
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    runIds,
    stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once("exit", r), child.kill("SIGTERM")))),
  };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const bare = await startBare(process.argv[2]);
  process.stdout.write(JSON.stringify({ port: bare.port, runIds: bare.runIds }) + "\n");
  process.on("SIGTERM", () => bare.close().then(() => process.exit(0)));
}
