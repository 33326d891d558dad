#!/usr/bin/env node
/**
 * Perfect's embedded mode (one `next start` on SQLite) against BullMQ on Debian's redis-server,
 * started here on a free loopback port without persistence and stopped after (issue 21): pickup
 * latency and throughput, as ratios (bench/lib/compare.mjs has the method).
 *
 *   node bench/peers-redis.mjs [--dispatch-trials 200] [--jobs 1000] [--throughput-trials 5]
 */
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { BENCH_CLIENT_2 } from "./lib/perfect.mjs";
import { commandOf, runCli } from "./lib/figures.mjs";
import { comparePeers } from "./lib/compare.mjs";
import { openPeer, startRedis } from "./lib/peers.mjs";

export async function main(args = {}) {
  const dispatchTrials = args.dispatchTrials ?? 200;
  const jobs = args.jobs ?? 1000;
  const throughputTrials = args.throughputTrials ?? 5;
  const redis = await startRedis();
  let server;
  let peer;
  try {
    server = await startServer({ clients: [BENCH_CLIENT, BENCH_CLIENT_2] });
    peer = await openPeer("bullmq", redis.port);
    peer.setup = `a Worker blocked on Redis waiting for jobs (defaults otherwise), redis-server ${redis.version}`;
    const { figures, details } = await comparePeers({ perfectBase: server.url, perfectPid: server.pid, mode: "embedded SQLite", peers: [peer], dispatchTrials, jobs, throughputTrials });
    return {
      id: "peers-redis",
      title: "Perfect (embedded SQLite) against BullMQ on Redis",
      command: commandOf("peers-redis.mjs", `--dispatch-trials ${dispatchTrials} --jobs ${jobs} --throughput-trials ${throughputTrials}`),
      figures,
      context: [
        `Setup: Debian's redis-server ${redis.version} on a free 127.0.0.1 port (\`--save "" --appendonly no\`: no persistence, BullMQ's fastest footing), BullMQ ${peer.version} with ioredis; Perfect: one \`next start\` on its SQLite file (WAL, synchronous NORMAL: it persists every run). Perfect's workers are the Python SDK, BullMQ's are Node processes (bench/lib/peer-worker.mjs). Trials alternate system by system.`,
      ],
      details,
    };
  } finally {
    if (peer) await peer.close().catch(() => {});
    if (server) await server.stop();
    await redis.stop();
  }
}

runCli(import.meta.url, main);
