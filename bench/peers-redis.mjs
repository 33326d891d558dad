#!/usr/bin/env node
/**
 * Perfect's embedded mode (one `next start` on SQLite) against BullMQ on Debian's redis-server,
 * started here on a free loopback port without persistence and stopped after (issue 21): pickup
 * latency and throughput, as ratios (bench/lib/compare.mjs has the method).
 *
 *   node bench/peers-redis.mjs [--dispatch-trials 200] [--jobs 1000] [--throughput-trials 5]
 */
import os from "node:os";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { BENCH_CLIENT_2 } from "./lib/perfect.mjs";
import { runCli } from "./lib/figures.mjs";
import { benchResult, comparePeers, openPeers, unavailablePeers } from "./lib/compare.mjs";
import { openPeer, startRedis } from "./lib/peers.mjs";

export async function main(args = {}) {
  const dispatchTrials = args.dispatchTrials ?? 200;
  const jobs = args.jobs ?? 1000;
  const throughputTrials = args.throughputTrials ?? 5;
  const loadAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  const header = { id: "peers-redis", loadAtStart, title: "Perfect (embedded SQLite) against BullMQ on Redis", script: "peers-redis.mjs", args: `--dispatch-trials ${dispatchTrials} --jobs ${jobs} --throughput-trials ${throughputTrials}` };
  let redis;
  try {
    redis = await startRedis();
  } catch (e) {
    // No redis-server: BullMQ cannot run here. Say so in the table rather than drop the rows.
    const reason = `redis-server could not be started (${String(e?.message ?? e).split("\n")[0]})`;
    return benchResult(header, { figures: unavailablePeers("embedded SQLite", [{ kind: "bullmq", reason }]), context: [reason], details: {} });
  }
  let server;
  let peers = [];
  try {
    server = await startServer({ clients: [BENCH_CLIENT, BENCH_CLIENT_2] });
    const opened = await openPeers(openPeer, ["bullmq"], redis.port, { bullmq: `a Worker blocked on Redis waiting for jobs (defaults otherwise), redis-server ${redis.version}` });
    peers = opened.peers;
    const { figures, details } = await comparePeers({ perfectBase: server.url, perfectPid: server.pid, mode: "embedded SQLite", peers, unavailable: opened.unavailable, dispatchTrials, jobs, throughputTrials });
    return benchResult(header, {
      figures,
      context: [
        `Setup: Debian's redis-server ${redis.version} on a free 127.0.0.1 port (\`--save "" --appendonly no\`: no persistence, BullMQ's fastest footing), BullMQ ${peers[0]?.version ?? "(not installed)"} with ioredis; Perfect: one \`next start\` on its SQLite file (WAL, synchronous NORMAL: it persists every run). Perfect's workers are the Python SDK, BullMQ's are Node processes (bench/lib/peer-worker.mjs). Trials alternate system by system.`,
      ],
      details,
    });
  } finally {
    for (const p of peers) await p.close().catch(() => {});
    if (server) await server.stop();
    await redis.stop();
  }
}

runCli(import.meta.url, main);
