#!/usr/bin/env node
/**
 * Perfect on PostgreSQL against graphile-worker and pg-boss on the same database of the same
 * throw-away cluster, in the same run (issues 14 and 21): pickup latency and throughput, as
 * ratios (bench/lib/compare.mjs has the method). Perfect: one `next start` instance with
 * PERFECT_DATABASE_URL and the real Python workers; the peers: their own worker processes
 * (bench/lib/peer-worker.mjs) with their documented setup.
 *
 *   node bench/peers-pg.mjs [--dispatch-trials 200] [--jobs 1000] [--throughput-trials 5]
 */
import { startPostgres } from "../test/support/postgres.mjs";
import os from "node:os";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { BENCH_CLIENT_2 } from "./lib/perfect.mjs";
import { runCli } from "./lib/figures.mjs";
import { benchResult, comparePeers, openPeers } from "./lib/compare.mjs";
import { openPeer } from "./lib/peers.mjs";

export async function main(args = {}) {
  const dispatchTrials = args.dispatchTrials ?? 200;
  const jobs = args.jobs ?? 1000;
  const throughputTrials = args.throughputTrials ?? 5;
  const loadAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  const cluster = await startPostgres();
  let server;
  let peers = [];
  try {
    server = await startServer({ env: { PERFECT_DATABASE_URL: cluster.url }, clients: [BENCH_CLIENT, BENCH_CLIENT_2] });
    const opened = await openPeers(openPeer, ["graphile-worker", "pg-boss"], cluster.url, {
      "graphile-worker": "woken by its LISTEN/NOTIFY on add_job (run() with a task list, defaults otherwise)",
      "pg-boss": "work() polling at its minimum interval, 0.5 s (default 2 s: pg-boss has no wake-up on send), batches of up to 100 jobs per fetch",
    });
    peers = opened.peers;
    const gw = peers.find((p) => p.kind === "graphile-worker") ?? {};
    const boss = peers.find((p) => p.kind === "pg-boss") ?? {};
    const { figures, details } = await comparePeers({ perfectBase: server.url, perfectPid: server.pid, mode: "PostgreSQL", peers, unavailable: opened.unavailable, dispatchTrials, jobs, throughputTrials });
    const header = { id: "peers-pg", loadAtStart, title: "Perfect on PostgreSQL against graphile-worker and pg-boss", script: "peers-pg.mjs", args: `--dispatch-trials ${dispatchTrials} --jobs ${jobs} --throughput-trials ${throughputTrials}` };
    return benchResult(header, {
      figures,
      context: [
        `Setup: one throw-away PostgreSQL 15 cluster (test/support/postgres.mjs; fsync off), one database shared by Perfect (public schema), graphile-worker ${gw.version ?? "(not available)"} (schema graphile_worker) and pg-boss ${boss.version ?? "(not available)"} (schema pgboss); one \`next start\` instance with \`PERFECT_DATABASE_URL\`; Perfect's workers are the Python SDK (bench/py/bench_worker.py), the peers' are Node processes (bench/lib/peer-worker.mjs). Trials alternate system by system, so all three share the machine's load alike.`,
      ],
      details,
    });
  } finally {
    for (const p of peers) await p.close().catch(() => {});
    if (server) await server.stop();
    await cluster.stop();
  }
}

runCli(import.meta.url, main);
