#!/usr/bin/env node
/**
 * One worker process of a peer job queue, set up the way its documentation recommends, running
 * an empty job handler that reports on stdout "START <token> <monotonic ns>" the moment it is
 * called (process.hrtime reads CLOCK_MONOTONIC, as the benchmark and the Python worker do).
 * Prints "READY" once it is waiting for jobs.
 *
 * Reviewed against each peer's documentation for issue 21 (no handicap, no special tuning):
 *  - BullMQ: a Worker with `concurrency`, the ioredis connection with `maxRetriesPerRequest:
 *    null` its docs require for workers; defaults otherwise (completed jobs are kept, as by default);
 *  - graphile-worker: run() in library mode with a task list and `concurrency`, woken by its
 *    LISTEN/NOTIFY on add_job; its opt-in batching (`localQueue`, `completeJobBatchDelay`, see
 *    worker.graphile.org/docs/performance) is left off, as by default, since it trades latency;
 *  - pg-boss: one work() per unit of concurrency (each call adds a worker, as its docs say), the
 *    documented `batchSize` and the minimum `pollingIntervalSeconds` in its favour; its
 *    notifyWorker() wake-up only works from the worker's own process, not from a producer.
 *
 *   node bench/lib/peer-worker.mjs graphile-worker <postgres url> <concurrency>
 *   node bench/lib/peer-worker.mjs pg-boss <postgres url> <concurrency>
 *   node bench/lib/peer-worker.mjs bullmq <redis port> <concurrency>
 */
export const QUEUE = "bench";

const [kind, target, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg ?? 1);
const report = (token) => process.stdout.write(`START ${token} ${process.hrtime.bigint()}\n`);
let stop = async () => {};

async function main() {
  if (kind === "graphile-worker") {
    const { run } = await import("graphile-worker");
    // The library mode of the docs: run() with a task list; LISTEN/NOTIFY wakes it on add_job.
    const runner = await run({
      connectionString: target,
      concurrency,
      noHandleSignals: true,
      logger: undefined,
      taskList: { [QUEUE]: async (payload) => report(payload.token) },
    });
    stop = () => runner.stop();
  } else if (kind === "pg-boss") {
    const mod = await import("pg-boss");
    const PgBoss = mod.default ?? mod.PgBoss;
    const boss = new PgBoss(target);
    boss.on("error", (e) => console.error(`[pg-boss] ${e.message}`));
    await boss.start();
    // v10: concurrency = several work() calls. pg-boss polls, with no wake-up on send: each
    // work() loop fetches up to batchSize jobs, then waits out the polling interval (its
    // minimum, 0.5 s, here; the default is 2 s). Its documented lever for throughput is the
    // batch: 100 jobs per fetch (BENCH_PGBOSS_BATCH), handled one after another.
    const options = { pollingIntervalSeconds: Number(process.env.BENCH_PGBOSS_POLL ?? 0.5), batchSize: Number(process.env.BENCH_PGBOSS_BATCH ?? 100) };
    for (let i = 0; i < concurrency; i++) {
      await boss.work(QUEUE, options, async (jobs) => {
        for (const job of jobs) report(job.data.token);
      });
    }
    stop = () => boss.stop({ graceful: true, wait: true });
  } else if (kind === "bullmq") {
    const { Worker } = await import("bullmq");
    const worker = new Worker(QUEUE, async (job) => report(job.data.token), {
      connection: { host: "127.0.0.1", port: Number(target), maxRetriesPerRequest: null },
      concurrency,
    });
    worker.on("error", (e) => console.error(`[bullmq] ${e.message}`));
    await worker.waitUntilReady();
    stop = () => worker.close();
  } else {
    throw new Error(`unknown peer ${kind}`);
  }
  process.stderr.write("READY\n");
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
