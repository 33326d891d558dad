#!/usr/bin/env node
/**
 * Event ingestion through the worker API, each against a bare baseline run side by side:
 *
 *  1. batched: POST …/runs/{id}/events with 100 log events a request, versus raw better-sqlite3
 *     in this process inserting the same 100 log rows per BEGIN IMMEDIATE transaction into a
 *     database with the same schema and pragmas (WAL, synchronous NORMAL, foreign keys);
 *  2. single: one log event a request, versus GET /api/health on the same server.
 *
 *   node bench/ingest.mjs [--trials 10] [--concurrency 8]
 *
 * Trials alternate subject and baseline; the figure is the median of the per-trial ratios.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { BENCH_CLIENT, startServer, tempDir } from "./lib/server.mjs";
import { commandOf, ratioFigure, runCli } from "./lib/figures.mjs";
import { apiClient, closedLoop } from "./lib/http.mjs";
import { summarize } from "./lib/stats.mjs";
import { openLikeServer } from "./seed.mjs";

export const INGEST_FLOW = { name: "Bench Ingest", description: "", tags: { team: "bench" }, tasks: [{ name: "emit", estimatedTime: 1000 }], parameters: [] };

const message = (i) => `processed chunk ${i}: ${(i * 7919) % 100_000} rows in ${(i * 31) % 997} ms (partition p${i % 64})`;

/** Builds the next batch of `size` log events for one run (its seq counter lives in `state`). */
function nextBatch(state, workerId, size) {
  const events = [];
  const ts = new Date().toISOString();
  for (let k = 0; k < size; k++) {
    const seq = ++state.seq;
    events.push({ seq, type: "log", ts, level: "INFO", message: message(seq) });
  }
  return JSON.stringify({ workerId, sentAt: ts, events });
}

/** A worker with `runs` claimed RUNNING runs to stream events into. */
export async function prepareRuns(base, { runs = 16, clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token } = {}) {
  const api = apiClient(base, { clientId, token });
  const reg = await api.register([INGEST_FLOW]);
  const flowId = reg.flows.find((f) => f.name === INGEST_FLOW.name).id;
  for (let i = 0; i < runs; i++) await api.trigger(flowId);
  const claimed = [];
  while (claimed.length < runs) {
    const got = (await api.poll(reg.workerId, 50, 0)).runs;
    if (!got.length) break;
    claimed.push(...got);
  }
  if (claimed.length < runs) throw new Error(`claimed ${claimed.length} of ${runs} runs`);
  // The task is started once so the run looks like a live one.
  for (const r of claimed) {
    const res = await api.events(reg.workerId, r.id, [{ seq: 1, type: "task_started", call: 0, task: "emit", attempt: 1 }]);
    if (res.status !== 200) throw new Error(`task_started: HTTP ${res.status}`);
  }
  return { api, workerId: reg.workerId, runs: claimed.map((r) => ({ id: r.id, seq: 1 })) };
}

/** One trial of the API: `requests` requests of `batch` events, `concurrency` in flight. */
export async function apiTrial(ctx, { batch, requests, concurrency, maxMs = 60_000 }) {
  const r = await closedLoop({
    concurrency,
    count: requests,
    maxMs,
    send: (i, lane) => {
      const run = ctx.runs[lane % ctx.runs.length];
      return ctx.api.eventsBody(run.id, nextBatch(run, ctx.workerId, batch));
    },
  });
  return { ...r, eventsPerSecond: r.perSecond * batch };
}

export async function healthTrial(ctx, { requests, concurrency, maxMs = 60_000 }) {
  return closedLoop({ concurrency, count: requests, maxMs, send: () => ctx.api.raw("GET", "/api/health") });
}

/** Raw better-sqlite3: the same log rows, `batch` per BEGIN IMMEDIATE transaction. */
export function rawBaseline(dir) {
  const file = path.join(dir, "raw-baseline.db");
  const db = openLikeServer(file);
  const now = Date.now();
  db.prepare("INSERT INTO clients (id, name) VALUES ('raw', 'raw')").run();
  const flowId = db.prepare("INSERT INTO flows (client_id, name, registered_at, updated_at) VALUES ('raw', 'raw', ?, ?) RETURNING id").get(now, now).id;
  const runIds = [];
  for (let i = 0; i < 16; i++) {
    runIds.push(db.prepare("INSERT INTO runs (flow_id, client_id, flow_name, state, trigger, created_at) VALUES (?, 'raw', 'raw', 'RUNNING', 'api', ?) RETURNING id").get(flowId, now).id);
  }
  const insert = db.prepare("INSERT INTO logs (run_id, task_run_id, seq, level, message, ts) VALUES (?, ?, ?, ?, ?, ?)");
  const seqs = runIds.map(() => 1);
  const tx = db.transaction((run, rows) => {
    for (const r of rows) insert.run(run, null, r.seq, "INFO", r.message, r.ts);
  });
  let turn = 0;
  return {
    trial({ batch, requests }) {
      const t0 = performance.now();
      for (let i = 0; i < requests; i++) {
        const k = turn++ % runIds.length;
        const rows = [];
        const ts = Date.parse(new Date().toISOString());
        for (let j = 0; j < batch; j++) {
          const seq = ++seqs[k];
          rows.push({ seq, message: message(seq), ts });
        }
        tx.immediate(runIds[k], rows);
      }
      const wallMs = performance.now() - t0;
      return { done: requests, wallMs, eventsPerSecond: ((requests * batch) / wallMs) * 1000 };
    },
    close() {
      db.close();
    },
  };
}

/**
 * The bare node:http + better-sqlite3 server (bench/lib/bare-server.mjs) in its own process:
 * context for the figures, not their baseline.
 */
export async function startBareServer(dir) {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "lib", "bare-server.mjs");
  const child = spawn(process.execPath, [script, path.join(dir, "bare.db")], { stdio: ["ignore", "pipe", "inherit"] });
  const first = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`bare server exited (${code})`)));
  });
  const { port, runIds } = JSON.parse(first);
  const base = `http://127.0.0.1:${port}`;
  return {
    ctx: { api: apiClient(base, { clientId: BENCH_CLIENT.id, token: BENCH_CLIENT.token }), workerId: "bare", runs: runIds.map((id) => ({ id: String(id), seq: 0 })) },
    stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once("exit", r), child.kill("SIGTERM")))),
  };
}

/** The core of both comparisons, against an already running server. */
export async function measureIngest(base, { trials = 10, concurrency = 8, batchRequests = 200, singleRequests = 3000, warmup = true, dir, bare = false } = {}) {
  const ctx = await prepareRuns(base, { runs: Math.max(concurrency, 4) });
  dir ??= tempDir();
  const raw = rawBaseline(dir);
  const batch = { api: [], raw: [], ratio: [] };
  const single = { api: [], health: [], ratio: [], failed: 0 };
  const bareServer = bare ? await startBareServer(dir) : null;
  const bareFigures = { batched: [], single: [], health: [] };
  if (warmup) {
    await apiTrial(ctx, { batch: 100, requests: 50, concurrency });
    await apiTrial(ctx, { batch: 1, requests: 300, concurrency });
    await healthTrial(ctx, { requests: 300, concurrency });
    raw.trial({ batch: 100, requests: 50 });
    if (bareServer) {
      await apiTrial(bareServer.ctx, { batch: 100, requests: 50, concurrency });
      await healthTrial(bareServer.ctx, { requests: 300, concurrency });
    }
  }
  for (let t = 0; t < trials; t++) {
    const rawRun = raw.trial({ batch: 100, requests: batchRequests });
    const apiRun = await apiTrial(ctx, { batch: 100, requests: batchRequests, concurrency });
    if (apiRun.failed) throw new Error(`batched ingestion: ${apiRun.failed} requests failed`);
    batch.raw.push(rawRun.eventsPerSecond);
    batch.api.push(apiRun.eventsPerSecond);
    batch.ratio.push(apiRun.eventsPerSecond / rawRun.eventsPerSecond);

    const one = await apiTrial(ctx, { batch: 1, requests: singleRequests, concurrency });
    const health = await healthTrial(ctx, { requests: singleRequests, concurrency });
    single.failed += one.failed + health.failed;
    single.api.push(one.perSecond);
    single.health.push(health.perSecond);
    single.ratio.push(one.perSecond / health.perSecond);

    if (bareServer) {
      const b = await apiTrial(bareServer.ctx, { batch: 100, requests: batchRequests, concurrency });
      const b1 = await apiTrial(bareServer.ctx, { batch: 1, requests: singleRequests, concurrency });
      const bh = await healthTrial(bareServer.ctx, { requests: singleRequests, concurrency });
      if (b.failed || b1.failed || bh.failed) throw new Error("the bare server refused requests");
      bareFigures.batched.push(b.eventsPerSecond);
      bareFigures.single.push(b1.perSecond);
      bareFigures.health.push(bh.perSecond);
    }
  }
  raw.close();
  if (bareServer) {
    bareServer.ctx.api.agent.destroy();
    await bareServer.stop();
  }
  // Every acknowledged event is stored: re-sending each run's last event must be answered as a
  // duplicate with lastSeq equal to the highest seq sent.
  let missing = 0;
  for (const r of ctx.runs) {
    // r.seq is the last seq sent (and acknowledged) for this run.
    const last = r.seq;
    const res = await ctx.api.events(ctx.workerId, r.id, [{ seq: last, type: "log", level: "INFO", message: message(last) }]);
    if (res.status !== 200 || res.body.lastSeq !== last || res.body.duplicates !== 1) missing++;
  }
  ctx.api.agent.destroy();
  return { batch, single, bare: bareServer ? bareFigures : null, sentEvents: ctx.runs.reduce((s, r) => s + r.seq - 1, 0), stored: missing === 0, missing, runs: ctx.runs.length };
}

export async function main(args = {}) {
  const trials = args.trials ?? 10;
  const concurrency = args.concurrency ?? 8;
  const dir = tempDir();
  const server = await startServer({ dir });
  try {
    const r = await measureIngest(server.url, { trials, concurrency, dir, bare: true });
    const m = (xs) => Math.round(summarize(xs).median);
    const n = (x) => x.toLocaleString("en-US");
    return {
      id: "ingest",
      title: "Event ingestion",
      command: commandOf("ingest.mjs", `--trials ${trials} --concurrency ${concurrency}`),
      figures: [
        ratioFigure({
          what: "batched event ingestion through the worker API (100 events a request) vs raw better-sqlite3 inserting the same rows 100 per transaction, same run",
          ratios: r.batch.ratio,
          min: 0.5,
          subject: r.batch.api,
          baseline: r.batch.raw,
          unit: "events/s",
          note: `API p50 ${Math.round(summarize(r.batch.api).median).toLocaleString("en-US")} events/s (${concurrency} requests in flight) vs raw p50 ${Math.round(summarize(r.batch.raw).median).toLocaleString("en-US")} rows/s`,
        }),
        ratioFigure({
          what: "one event a request vs GET /api/health on the same server, same run",
          ratios: r.single.ratio,
          min: 0.8,
          subject: r.single.api,
          baseline: r.single.health,
          unit: "requests/s",
          note: `events p50 ${Math.round(summarize(r.single.api).median).toLocaleString("en-US")} req/s vs health p50 ${Math.round(summarize(r.single.health).median).toLocaleString("en-US")} req/s (${concurrency} in flight)`,
        }),
        {
          what: "every acknowledged event stored: each run's last acknowledged event, re-sent, is answered as a duplicate at that seq",
          goal: "all runs",
          kind: "check",
          median: r.stored ? r.runs : r.runs - r.missing,
          p99: null,
          unit: "runs",
          trials: r.runs,
          met: r.stored,
          note: `${r.sentEvents.toLocaleString("en-US")} events acknowledged over ${r.runs} runs; ${r.missing} runs with a missing event`,
        },
      ],
      context: [
        `For scale, a bare node:http + better-sqlite3 server (bench/lib/bare-server.mjs: same schema, pragmas and transaction, no framework) measured in the same trials: ${n(m(r.bare.batched))} events/s batched (${(m(r.bare.batched) / m(r.batch.raw)).toFixed(2)}× raw), ${n(m(r.bare.single))} single-event requests/s vs ${n(m(r.bare.health))} health requests/s (${(m(r.bare.single) / m(r.bare.health)).toFixed(2)}×). Perfect's health route answers ${n(m(r.single.health))} requests/s: the gap to ${n(m(r.bare.health))} is Next's fixed cost per request, paid before any Perfect code runs.`,
      ],
      details: {
        bare: { batchedEventsPerSecond: summarize(r.bare.batched), singleRequestsPerSecond: summarize(r.bare.single), healthRequestsPerSecond: summarize(r.bare.health) },
        batched: { apiEventsPerSecond: summarize(r.batch.api), rawRowsPerSecond: summarize(r.batch.raw) },
        single: { eventRequestsPerSecond: summarize(r.single.api), healthRequestsPerSecond: summarize(r.single.health) },
        serverRssMb: Math.round(server.rss().rss),
      },
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runCli(import.meta.url, main);
