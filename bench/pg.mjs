#!/usr/bin/env node
/**
 * PostgreSQL and two instances (issue 14), on a throw-away PostgreSQL cluster this script starts
 * and stops (test/support/postgres.mjs), beside one SQLite instance in the same run:
 *
 *  1. dispatch: idle long polls parked on instance A, a trigger sent through instance B → the
 *     poll answered; alternated trial by trial with the same figure on one SQLite instance;
 *  2. end to end: task runs/s of runs of ten empty tasks (issue 14 asks for task runs/s; the
 *     SQLite figure of bench/e2e.mjs is measured the same way), two Python workers (one on A,
 *     one on B), triggers split over A and B; alternated trial by trial with two Python
 *     workers on the SQLite instance (one-task runs/s against the peers: bench/peers-pg.mjs);
 *  3. history: bench/history.mjs's queries on a PostgreSQL database seeded with N runs
 *     (bench/lib/pg-seed.mjs: set-based INSERT … SELECT generate_series, seed.mjs's shape).
 *
 *   node bench/pg.mjs [--pollers 200] [--dispatch-trials 200] [--runs 500] [--throughput-trials 5] [--history-runs 1000000] [--reps 50]
 */
import { startPostgres } from "../test/support/postgres.mjs";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, rateFigure, ratioFigure, runCli } from "./lib/figures.mjs";
import { BENCH_CLIENT_2, alternate, pollDispatcher, pythonThroughput } from "./lib/perfect.mjs";
import { describePostgres, seedPostgres } from "./lib/pg-seed.mjs";
import { sleep, summarize } from "./lib/stats.mjs";
import { SEED_CLIENTS } from "./seed.mjs";
import { historyQueries, measureHistory } from "./history.mjs";

const pgEnv = (url) => ({ PERFECT_DATABASE_URL: url });

export async function main(args = {}) {
  const pollers = args.pollers ?? 200;
  const dispatchTrials = args.dispatchTrials ?? 200;
  const runs = args.runs ?? 500;
  const throughputTrials = args.throughputTrials ?? 5;
  const historyRuns = args.historyRuns ?? 1_000_000;
  const reps = args.reps ?? 50;
  const cluster = await startPostgres();
  const stops = [];
  const figures = [];
  const details = {};
  try {
    const clients = [BENCH_CLIENT, BENCH_CLIENT_2];
    const a = await startServer({ env: pgEnv(cluster.url), clients });
    stops.push(a.stop);
    const b = await startServer({ env: pgEnv(cluster.url), clients });
    stops.push(b.stop);
    const lite = await startServer({});
    stops.push(lite.stop);

    // 1. Dispatch, B → A, beside SQLite.
    console.error(`[pg] dispatch: ${pollers} pollers on A, triggers through B; the same on SQLite …`);
    // Every helper's stop() goes on `stops` as soon as it exists (all are idempotent): a failure
    // part-way still stops every worker, server and poller this script started.
    const pgD = await pollDispatcher(a.url, { triggerBase: b.url, pollers });
    stops.push(pgD.stop);
    const liteD = await pollDispatcher(lite.url, { pollers });
    stops.push(liteD.stop);
    const d = await alternate({ pg: pgD.fire, sqlite: liteD.fire }, { trials: dispatchTrials, warmup: 10, gapMs: 15 });
    const pgCheck = pgD.check();
    const liteCheck = liteD.check();
    await pgD.stop();
    await liteD.stop();
    figures.push(
      latencyFigure({
        what: `dispatch on PostgreSQL across instances: trigger through B → a waiting long poll on A answered, ${pollers} idle pollers`,
        samples: d.pg,
        goal: { median: 10, p99: 50 },
        note: `two \`next start\` instances on one PostgreSQL database (wake-up by LISTEN/NOTIFY); from sending POST /api/flows/{id}/runs to B until the poll answer from A; ${pgCheck.dispatched}/${pgCheck.fired} runs dispatched exactly once; the same figure on one SQLite instance in the same run: p50 ${summarize(d.sqlite).median.toFixed(2)} ms, p99 ${summarize(d.sqlite).p99.toFixed(2)} ms (${liteCheck.dispatched}/${liteCheck.fired} exactly once)`,
      }),
      {
        ...ratioFigure({
          what: "dispatch, PostgreSQL (B → A) against SQLite (one instance): SQLite's latency / PostgreSQL's, per alternated trial",
          ratios: d.pg.map((x, i) => d.sqlite[i] / x),
          min: 1,
          subject: d.pg,
          baseline: d.sqlite,
          unit: "ms",
          note: "above 1 = PostgreSQL faster; the cost of the database round trips and the NOTIFY hop between instances",
        }),
        subject: { unit: "ms", median: summarize(d.pg).median, p99: summarize(d.pg).p99 },
        baseline: { unit: "ms", median: summarize(d.sqlite).median, p99: summarize(d.sqlite).p99 },
        kind: "info",
        goal: "context (no goal)",
        met: null,
      },
    );

    // 2. Task runs/s end to end (the ten-task flow, as bench/e2e.mjs measures SQLite), workers
    // split over A and B, beside SQLite. One-task runs/s against the peers: bench/peers-pg.mjs.
    console.error(`[pg] throughput: ${throughputTrials} × ${runs} ten-task runs, two Python workers over A and B; the same on SQLite …`);
    const pgT = await pythonThroughput([a.url, b.url], { workers: 2, serverPids: [a.pid, b.pid], tenTasks: true });
    stops.push(pgT.stop);
    const pgThread = await pythonThroughput([a.url, b.url], { workers: 2, isolation: "thread", client: BENCH_CLIENT_2, serverPids: [a.pid, b.pid], tenTasks: true });
    stops.push(pgThread.stop);
    const liteT = await pythonThroughput([lite.url], { workers: 2, serverPids: [lite.pid], tenTasks: true });
    stops.push(liteT.stop);
    const rates = { pg: [], pgThread: [], sqlite: [] };
    for (let t = 0; t < throughputTrials; t++) {
      rates.pg.push(await pgT.trial(runs));
      await sleep(300);
      rates.pgThread.push(await pgThread.trial(runs));
      await sleep(300);
      rates.sqlite.push(await liteT.trial(runs));
      await sleep(300);
    }
    const pgOnce = pgT.check();
    const threadOnce = pgThread.check();
    const liteOnce = liteT.check();
    const cpu = { pg: pgT.cpuShare(), pgThread: pgThread.cpuShare(), sqlite: liteT.cpuShare() };
    await pgT.stop();
    await pgThread.stop();
    await liteT.stop();
    const cores = (c) => `servers ${c.servers.join(" + ")}, Python workers ${c.workers.join(" + ")}, load generator ${c.loadgen}`;
    figures.push(
      rateFigure({
        what: "end to end on PostgreSQL, two instances: task runs/s (runs of ten tasks), two Python workers (one per instance), triggers split over both",
        rates: rates.pg,
        min: 1000,
        unit: "task runs/s",
        extraMet: pgOnce.exactlyOnce,
        note: `${throughputTrials} trials × ${runs} runs of ten empty tasks, 8 triggers in flight (alternately to A and B), max_concurrent_runs 4 per worker, the SDK's default isolation="process" (each run in a process of its own); from the first trigger until none is PENDING or RUNNING (checked every 20 ms). Exactly once: ${pgOnce.exactlyOnce ? "yes" : "NO"} (${pgOnce.duplicates} duplicate, ${pgOnce.missing} missing). Cores busy: ${cores(cpu.pg)}. Alternated with the same on one SQLite instance: median ${summarize(rates.sqlite).median.toFixed(0)} task runs/s (exactly once: ${liteOnce.exactlyOnce ? "yes" : "NO"}; cores busy: ${cores(cpu.sqlite)})`,
      }),
      {
        ...rateFigure({
          what: "end to end on PostgreSQL, two instances, as above with isolation=\"thread\" (each run in a thread of the worker)",
          rates: rates.pgThread,
          min: 1000,
          unit: "task runs/s",
          extraMet: threadOnce.exactlyOnce,
          note: `alternated with the figure above; exactly once: ${threadOnce.exactlyOnce ? "yes" : "NO"}; cores busy: ${cores(cpu.pgThread)}`,
        }),
        kind: "info",
        goal: "context (≥ 1,000 task runs/s is judged on the default isolation)",
        met: null,
      },
      {
        ...ratioFigure({
          what: "end to end, PostgreSQL (two instances) against SQLite (one instance): task runs/s ratio per alternated trial",
          ratios: rates.pg.map((x, i) => x / rates.sqlite[i]),
          min: 1,
          subject: rates.pg,
          baseline: rates.sqlite,
          unit: "task runs/s",
        }),
        kind: "info",
        goal: "context (no goal)",
        met: null,
      },
    );
    await lite.stop();
    await b.stop();
    await a.stop();

    // 3. History at N runs on PostgreSQL.
    const historyUrl = await cluster.createDatabase("history");
    const h = await startServer({ env: pgEnv(historyUrl), clients: [...SEED_CLIENTS, BENCH_CLIENT] });
    stops.push(h.stop);
    console.error(`[pg] seeding ${historyRuns.toLocaleString("en-US")} runs into PostgreSQL …`);
    const seeded = await seedPostgres(historyUrl, { runs: historyRuns, log: (m) => console.error(`[pg-seed] ${m}`) });
    details.seeded = seeded;
    const info = await describePostgres(historyUrl, historyQueries);
    const results = await measureHistory(h.url, info, { reps });
    const all = results.flatMap((r) => r.ms);
    const worst = results.reduce((w, r) => (summarize(r.ms).p99 > summarize(w.ms).p99 ? r : w));
    const worstP99 = summarize(worst.ms).p99;
    const hf = latencyFigure({
      what: `history on PostgreSQL at ${historyRuns.toLocaleString("en-US")} runs: each filter of bench/history.mjs, first page and a deep cursor page`,
      samples: all,
      goal: { p99: 50 },
      note: `${results.length} queries × ${reps} requests, one at a time; median over all, p99 = the worst query's own p99 ("${worst.name}"; over all requests together ${summarize(all).p99.toFixed(1)} ms). Seeded with set-based SQL (bench/lib/pg-seed.mjs, seed.mjs's shape) in ${seeded.seconds} s: ${seeded.taskRuns.toLocaleString("en-US")} task runs, ${seeded.runTags.toLocaleString("en-US")} run tags, ${seeded.logs.toLocaleString("en-US")} logs, ${seeded.megabytes} MB`,
    });
    figures.push({ ...hf, p99: Math.round(worstP99 * 1000) / 1000, met: worstP99 <= 50 });
    details.dispatch = { pg: summarize(d.pg), sqlite: summarize(d.sqlite), pgCheck, liteCheck };
    details.throughput = { pg: summarize(rates.pg), pgThread: summarize(rates.pgThread), sqlite: summarize(rates.sqlite), pgOnce, threadOnce, liteOnce, cpu };
    return {
      id: "pg",
      title: "PostgreSQL, two instances",
      command: commandOf("pg.mjs", `--pollers ${pollers} --dispatch-trials ${dispatchTrials} --runs ${runs} --throughput-trials ${throughputTrials} --history-runs ${historyRuns} --reps ${reps}`),
      figures,
      perQuery: results.map((r) => ({ name: `PostgreSQL: ${r.name}`, path: r.path, rows: r.rows, median: summarize(r.ms).median, p99: summarize(r.ms).p99 })),
      context: [
        "Setup: a throw-away PostgreSQL 15 cluster (test/support/postgres.mjs: fsync and synchronous_commit off, as for tests), two `next start` instances with `PERFECT_DATABASE_URL` on one database, and one SQLite instance beside them; load generators and workers are separate processes on the same 2-core machine.",
      ],
      details,
    };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await cluster.stop();
  }
}

runCli(import.meta.url, main);
