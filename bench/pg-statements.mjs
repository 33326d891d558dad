#!/usr/bin/env node
/**
 * Where a run's time goes on PostgreSQL, counted rather than timed (counts do not depend on how
 * busy the machine is): one `next start` instance on a throw-away cluster with
 * pg_stat_statements, two Python workers running N ten-task runs, then every statement the
 * server sent — calls per run and database time — most frequent first.
 *
 *   node bench/pg-statements.mjs [--runs 200] [--top 30]
 *
 * Prints a JSON figure (statements per ten-task run) on stdout and the statement table on stderr.
 * The `SELECT 1 FROM ONLY … FOR KEY SHARE` rows are PostgreSQL's own foreign-key checks inside
 * the inserts, not round trips of ours.
 */
import pg from "pg";
import { startPostgres } from "../test/support/postgres.mjs";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { runCli } from "./lib/figures.mjs";
import { pythonThroughput } from "./lib/perfect.mjs";

export async function main(args = {}) {
  const runs = args.runs ?? 200;
  const top = args.top ?? 30;
  const cluster = await startPostgres({ settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "all" } });
  const stops = [];
  try {
    const server = await startServer({ env: { PERFECT_DATABASE_URL: cluster.url }, clients: [BENCH_CLIENT] });
    stops.push(server.stop);
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    stops.push(() => db.end());
    await db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    const workers = await pythonThroughput([server.url], { workers: 2, tenTasks: true });
    stops.push(workers.stop);
    await workers.trial(20); // warm-up: registration, first statistics rows, prepared statements
    await db.query("SELECT pg_stat_statements_reset()");
    await workers.trial(runs);
    const total = (await db.query(`SELECT sum(calls)::int AS n, sum(total_exec_time) AS ms FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'`)).rows[0];
    const rows = (
      await db.query(
        `SELECT calls, total_exec_time AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS q FROM pg_stat_statements
         WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC, total_exec_time DESC LIMIT $1`,
        [top],
      )
    ).rows;
    console.error(`[pg-statements] ${total.n} statements over ${runs} ten-task runs (${(total.n / runs).toFixed(1)} a run), ${Number(total.ms).toFixed(0)} ms of database time`);
    console.error("  per run    ms  statement");
    for (const r of rows) console.error(`${(r.calls / runs).toFixed(2).padStart(9)} ${Number(r.ms).toFixed(0).padStart(5)}  ${r.q}`);
    return {
      id: "pg-statements",
      title: "PostgreSQL: statements per run",
      command: `node bench/pg-statements.mjs --runs ${runs}`,
      figures: [
        {
          what: "statements the server sends PostgreSQL per ten-task run (trigger, claim, event batches, statistics), two Python workers",
          kind: "info",
          unit: "statements",
          median: total.n / runs,
          note: `database time ${(Number(total.ms) / runs).toFixed(2)} ms a run (pg_stat_statements over ${runs} runs)`,
        },
      ],
      details: { statements: rows.map((r) => ({ perRun: r.calls / runs, ms: Number(r.ms), query: r.q })) },
    };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await cluster.stop();
  }
}

runCli(import.meta.url, main);
