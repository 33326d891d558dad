#!/usr/bin/env node
/**
 * Server memory with a large history: RSS of the `next start` process on a seeded database
 * (1,000,000 runs by default), idle after serving the dashboard's reads, then while workers
 * stream events into it (batched, 100 events a request, 8 in flight).
 *
 *   node bench/memory.mjs [--db seeded.db | --runs 1000000] [--seconds 20]
 *
 * RSS is sampled every 200 ms from /proc; the figure is judged on the highest sample.
 */
import fs from "node:fs";
import path from "node:path";
import { BENCH_CLIENT, startServer, tempDir } from "./lib/server.mjs";
import Database from "better-sqlite3";
import { ceilingFigure, commandOf, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";
import { sleep, summarize } from "./lib/stats.mjs";
import { apiTrial, prepareRuns } from "./ingest.mjs";
import { SEED_CLIENTS, seedDatabase } from "./seed.mjs";

function sampler(server, everyMs = 200) {
  const samples = [];
  const timer = setInterval(() => samples.push(server.rss().rss), everyMs);
  return { samples, stop: () => clearInterval(timer) };
}

/** The dashboard's reads on a big history: lists, filters, a run, its logs, statistics. */
export async function dashboardReads(api) {
  const list = await api.get("/api/runs?limit=50");
  await api.get("/api/runs?state=FAILED&limit=50");
  await api.get("/api/flows");
  await api.get("/api/clients");
  await api.get("/api/stats/tasks");
  for (const r of list.runs.slice(0, 5)) {
    await api.get(`/api/runs/${r.id}`);
    await api.get(`/api/runs/${r.id}/logs`);
  }
  return list.runs.length;
}

/** The core: RSS samples idle, then under `seconds` of batched ingestion. */
export async function measureMemory(server, { seconds = 20, idleSeconds = 5, concurrency = 8 } = {}) {
  const api = apiClient(server.url);
  await dashboardReads(api);
  const idle = sampler(server);
  await sleep(idleSeconds * 1000);
  idle.stop();
  const ctx = await prepareRuns(server.url, { runs: concurrency });
  const load = sampler(server);
  const deadline = Date.now() + seconds * 1000;
  let events = 0;
  while (Date.now() < deadline) {
    const r = await apiTrial(ctx, { batch: 100, requests: 200, concurrency, maxMs: deadline - Date.now() });
    if (r.failed) throw new Error(`ingestion: ${r.failed} requests failed`);
    events += r.done * 100;
    await dashboardReads(api); // the dashboard keeps reading meanwhile
  }
  load.stop();
  ctx.api.agent.destroy();
  api.agent.destroy();
  return { idle: idle.samples, load: load.samples, events };
}

export async function main(args = {}) {
  const seconds = args.seconds ?? 20;
  const dir = tempDir();
  let dbPath = args.db;
  let seeded = null;
  if (!dbPath) {
    dbPath = path.join(dir, "seeded.db");
    seeded = seedDatabase(dbPath, { runs: args.runs ?? 1_000_000, log: (m) => console.error(`[seed] ${m}`) });
  }
  const counted = new Database(dbPath, { readonly: true });
  const runs = counted.prepare("SELECT count(*) FROM runs").pluck().get();
  counted.close();
  const server = await startServer({ dir, dbPath, clients: [...SEED_CLIENTS, BENCH_CLIENT] });
  try {
    const r = await measureMemory(server, { seconds });
    return {
      id: "memory",
      title: "Server memory",
      command: args.db ? `node bench/seed.mjs /tmp/seeded.db --runs ${runs} && node bench/memory.mjs --db /tmp/seeded.db --seconds ${seconds}` : commandOf("memory.mjs", `--runs ${runs} --seconds ${seconds}`),
      figures: [
        ceilingFigure({
          what: `server memory with ${runs.toLocaleString("en-US")} runs in the database, idle`,
          samples: r.idle,
          max: 300,
          unit: "MB",
          note: "RSS of the next start process after the dashboard's reads, sampled every 200 ms; judged on the highest sample",
        }),
        ceilingFigure({
          what: `server memory with ${runs.toLocaleString("en-US")} runs in the database, under ingestion load`,
          samples: r.load,
          max: 300,
          unit: "MB",
          note: `${seconds} s of batched events (100 a request, 8 in flight; ${r.events.toLocaleString("en-US")} events) while the dashboard reads; judged on the highest sample`,
        }),
      ],
      details: { idle: summarize(r.idle), load: summarize(r.load), events: r.events, seeded },
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runCli(import.meta.url, main);
