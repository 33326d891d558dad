#!/usr/bin/env node
/**
 * Alerts and metrics (issue 17), against the built server:
 *
 *  1. run failed → webhook received: a protocol worker sends a run's failing batch; the time
 *     from just before that request to the alert's arrival at a real HTTP receiver (node:http
 *     in this process) is the latency, `--trials` times, on SQLite and on PostgreSQL (a
 *     throw-away cluster). The baseline in the same run: the batch's own round trip (the
 *     server's answer to the worker), so the outbox → delivery loop → POST share is the rest.
 *  2. GET /api/metrics with `--runs` (1,000,000) runs in the database (the seeded SQLite file
 *     of bench/seed.mjs, or --db), `--reps` scrapes one at a time; baseline GET /api/health on
 *     the same server in the same run. With --pg-runs N, the same on PostgreSQL seeded by
 *     bench/lib/pg-seed.mjs.
 *
 *   node bench/alerts.mjs [--trials 200] [--db seeded.db | --runs 1000000] [--reps 200] [--pg-runs 1000000] [--only webhook|scrape]
 */
import fs from "node:fs";
import path from "node:path";
import { BENCH_CLIENT, startServer, tempDir } from "./lib/server.mjs";
import { commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";
import { seedPostgres } from "./lib/pg-seed.mjs";
import { nowMs, rounded, sleep, summarize } from "./lib/stats.mjs";
import { SEED_CLIENTS, seedDatabase } from "./seed.mjs";
import { createDatabase, startPostgres } from "../test/support/postgres.mjs";
import { startReceiver } from "../test/support/webhook-receiver.mjs";

const FLOW = { name: "Bench Alerting", tags: { team: "bench" }, tasks: [{ name: "step", estimatedTime: 10 }], parameters: [] };

function alertsFile(dir, url) {
  const file = path.join(dir, "alerts.json");
  const secret = `whsec_${Buffer.from("bench secret, 32 bytes long......").toString("base64")}`;
  fs.writeFileSync(file, JSON.stringify({ destinations: [{ id: "bench", type: "webhook", url, secret }], rules: [{ on: ["run.failed"], to: ["bench"] }] }));
  return file;
}

/** `trials` failed runs: ms from the failing batch's send to the webhook's arrival, and the batch's own round trip. */
async function measureFailureToWebhook(env, trials) {
  const receiver = await startReceiver();
  const arrived = new Map();
  receiver.onRequest((hit) => {
    const body = JSON.parse(hit.body);
    if (body.type === "run.failed") arrived.set(body.data.runId, nowMs());
  });
  const dir = tempDir();
  const server = await startServer({ dir, env: { ...env, PERFECT_ALERTS_FILE: alertsFile(dir, receiver.url) } });
  const api = apiClient(server.url, { clientId: BENCH_CLIENT.id, token: BENCH_CLIENT.token });
  try {
    const reg = await api.register([FLOW]);
    const flowId = reg.flows[0].id;
    const latencies = [];
    const acks = [];
    for (let i = -5; i < trials; i++) {
      const run = await api.trigger(flowId, {});
      const { runs } = await api.poll(reg.workerId, 1, 0);
      if (runs[0]?.id !== run.id) throw new Error(`expected to claim run ${run.id}`);
      await api.events(reg.workerId, run.id, [{ seq: 1, type: "task_started", call: 0, task: "step" }]);
      const t0 = nowMs();
      const r = await api.events(reg.workerId, run.id, [
        { seq: 2, type: "task_failed", call: 0, durationMs: 3, error: "bench failure" },
        { seq: 3, type: "run_failed", error: "bench failure" },
      ]);
      const acked = nowMs();
      if (r.status !== 200) throw new Error(`events: HTTP ${r.status}`);
      const deadline = Date.now() + 30_000;
      while (!arrived.has(run.id)) {
        if (Date.now() > deadline) throw new Error(`run ${run.id}: no webhook within 30 s`);
        await sleep(1);
      }
      if (i < 0) continue; // warm-up
      latencies.push(arrived.get(run.id) - t0);
      acks.push(acked - t0);
    }
    const dupes = receiver.received.length - arrived.size;
    return { latencies, acks, duplicates: dupes };
  } finally {
    api.agent.destroy();
    await server.stop();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `reps` scrapes of /api/metrics and of /api/health, interleaved, on a server over a big history. */
async function measureScrape(server, reps) {
  const api = apiClient(server.url);
  try {
    const first = await api.raw("GET", "/api/metrics");
    if (first.status !== 200 || !String(first.body).includes("perfect_runs_active")) throw new Error(`GET /api/metrics: HTTP ${first.status}`);
    const metrics = [];
    const health = [];
    for (let i = 0; i < reps; i++) {
      metrics.push((await api.raw("GET", "/api/metrics")).ms);
      health.push((await api.raw("GET", "/api/health")).ms);
      // Past the scrape's 500 ms sharing of the active-runs count now and then: both paths measured.
      if (i % 10 === 9) await sleep(520);
    }
    return { metrics, health, sample: String(first.body).split("\n").filter((l) => l.startsWith("perfect_queue_depth") || l.startsWith("perfect_runs_active{")).slice(0, 6) };
  } finally {
    api.agent.destroy();
  }
}

export async function main(args = {}) {
  const trials = args.trials ?? 200;
  const reps = args.reps ?? 200;
  const runs = args.runs ?? 1_000_000;
  const pgRuns = args.pgRuns ?? 0;
  const only = args.only ?? null;
  const figures = [];
  const details = {};
  const cluster = await startPostgres();
  try {
    for (const [name, env] of only === "scrape" ? [] : [["SQLite", {}], ["PostgreSQL", { PERFECT_DATABASE_URL: cluster.url }]]) {
      console.error(`[alerts] run failed → webhook received on ${name}, ${trials} trials …`);
      const m = await measureFailureToWebhook(env, trials);
      if (m.duplicates) throw new Error(`${m.duplicates} duplicate webhooks on ${name}`);
      figures.push(
        latencyFigure({
          what: `run failed → webhook received (${name})`,
          samples: m.latencies,
          goal: { p99: 1000 },
          note: `from the worker's failing batch being sent to the signed POST arriving at a local receiver; one run at a time; the batch's own round trip (baseline) median ${rounded(summarize(m.acks).median)} ms, p99 ${rounded(summarize(m.acks).p99)} ms`,
        }),
      );
      details[`failureToWebhook${name}`] = { webhookMs: summarize(m.latencies), batchAckMs: summarize(m.acks) };
    }

    if (only === "webhook") return { id: "alerts", title: "Alerts and metrics", command: commandOf("alerts.mjs", `--trials ${trials} --only webhook`), figures, details };
    // The scrape over a big history (SQLite: the seeded file).
    const dir = tempDir();
    let dbPath = args.db;
    if (!dbPath) {
      dbPath = path.join(dir, "seeded.db");
      details.seeded = seedDatabase(dbPath, { runs, log: (m) => console.error(`[seed] ${m}`) });
    }
    const server = await startServer({ dir, dbPath, clients: [...SEED_CLIENTS, BENCH_CLIENT] });
    try {
      console.error(`[alerts] GET /api/metrics × ${reps} on SQLite with the seeded history …`);
      const s = await measureScrape(server, reps);
      figures.push(
        latencyFigure({
          what: `GET /api/metrics with ${runs.toLocaleString("en-US")} runs (SQLite)`,
          samples: s.metrics,
          goal: { p99: 50 },
          note: `${reps} scrapes one at a time; baseline GET /api/health on the same server in the same run: median ${rounded(summarize(s.health).median)} ms, p99 ${rounded(summarize(s.health).p99)} ms (scrape/health median ratio ${rounded(summarize(s.metrics.map((x, i) => x / s.health[i])).median, 2)}×)`,
        }),
      );
      details.scrapeSqlite = { metricsMs: summarize(s.metrics), healthMs: summarize(s.health), sample: s.sample };
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }

    if (pgRuns > 0) {
      const url = await createDatabase(cluster.port, "perfect_alerts_scrape");
      const pgDir = tempDir();
      const pgServer = await startServer({ dir: pgDir, clients: [...SEED_CLIENTS, BENCH_CLIENT], env: { PERFECT_DATABASE_URL: url } });
      try {
        console.error(`[alerts] seeding PostgreSQL with ${pgRuns} runs …`);
        details.pgSeeded = await seedPostgres(url, { runs: pgRuns, log: (m) => console.error(`[pg-seed] ${m}`) });
        const s = await measureScrape(pgServer, reps);
        figures.push(
          latencyFigure({
            what: `GET /api/metrics with ${pgRuns.toLocaleString("en-US")} runs (PostgreSQL)`,
            samples: s.metrics,
            goal: { p99: 50 },
            note: `${reps} scrapes one at a time; GET /api/health: median ${rounded(summarize(s.health).median)} ms, p99 ${rounded(summarize(s.health).p99)} ms`,
          }),
        );
        details.scrapePostgres = { metricsMs: summarize(s.metrics), healthMs: summarize(s.health), sample: s.sample };
      } finally {
        await pgServer.stop();
        fs.rmSync(pgDir, { recursive: true, force: true });
      }
    }
  } finally {
    await cluster.stop();
  }
  return {
    id: "alerts",
    title: "Alerts and metrics",
    command: commandOf("alerts.mjs", `--trials ${trials} ${args.db ? `--db ${args.db}` : `--runs ${runs}`} --reps ${reps}${pgRuns ? ` --pg-runs ${pgRuns}` : ""}`),
    figures,
    details,
  };
}

runCli(import.meta.url, main);
