#!/usr/bin/env node
/**
 * A bare node:http + better-sqlite3 server: the floor a framework-free server reaches on this
 * machine, measured beside Perfect to show how much of a gap is Next's per-request cost.
 *
 *   node bench/lib/bare-server.mjs <database file>   → prints {"port": …, "runIds": [...]}
 *
 * Same schema (drizzle migrations), same pragmas, same work per events request as the engine's
 * minimum: parse the JSON body, check the bearer token, skip already-applied seqs, insert the
 * log rows and move the run's last_seq, in one BEGIN IMMEDIATE transaction. GET /api/health
 * answers {"ok":true}. Loopback only.
 */
import http from "node:http";
import { openLikeServer } from "../seed.mjs";

const file = process.argv[2];
const TOKEN = "Bearer bench-token";
const db = openLikeServer(file);
const now = Date.now();
db.prepare("INSERT OR IGNORE INTO clients (id, name) VALUES ('bench', 'bench')").run();
const flowId = db.prepare("INSERT INTO flows (client_id, name, registered_at, updated_at) VALUES ('bench', ?, ?, ?) RETURNING id").get(`bare-${now}`, now, now).id;
const runIds = [];
for (let i = 0; i < 16; i++) {
  runIds.push(db.prepare("INSERT INTO runs (flow_id, client_id, flow_name, state, trigger, created_at) VALUES (?, 'bench', 'bare', 'RUNNING', 'api', ?) RETURNING id").get(flowId, now).id);
}
const lastSeq = db.prepare("SELECT last_seq FROM runs WHERE id = ?").pluck();
const setSeq = db.prepare("UPDATE runs SET last_seq = ? WHERE id = ?");
const insert = db.prepare("INSERT INTO logs (run_id, task_run_id, seq, level, message, ts) VALUES (?, NULL, ?, ?, ?, ?)");
const apply = db.transaction((runId, events) => {
  const last = lastSeq.get(runId);
  let applied = 0;
  let top = last;
  for (const e of events) {
    if (e.seq <= last) continue;
    insert.run(runId, e.seq, e.level, e.message, e.ts ? Date.parse(e.ts) : Date.now());
    applied++;
    top = Math.max(top, e.seq);
  }
  setSeq.run(top, runId);
  return { applied, lastSeq: top };
});

const send = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
};

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/api/health") return send(res, 200, { ok: true });
  const m = /^\/api\/worker\/[^/]+\/runs\/(\d+)\/events$/.exec(req.url ?? "");
  if (req.method !== "POST" || !m) return send(res, 404, { error: { code: "not_found" } });
  if (req.headers.authorization !== TOKEN) return send(res, 401, { error: { code: "unauthorized" } });
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (!Array.isArray(body.events)) return send(res, 400, { error: { code: "validation_error" } });
      send(res, 200, apply.immediate(Number(m[1]), body.events));
    } catch (e) {
      send(res, 400, { error: { code: "invalid_json", message: String(e) } });
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, runIds }) + "\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
