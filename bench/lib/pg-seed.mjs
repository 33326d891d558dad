/**
 * bench/seed.mjs's history, written into a PostgreSQL database the server has already migrated,
 * in a handful of set-based statements (INSERT … SELECT generate_series): the same three clients
 * and ten flows with the same shares, tags (plus a rare `backfill:true` on 0.1 %), versions,
 * state mix (the newest runs PENDING and RUNNING), created_at spread over six months and
 * increasing with id, 3–5 task runs per run stopping part-way for failed and cancelled runs, a
 * log per started task (and the traceback of a failure), and task statistics.
 * Like seed.mjs, the bulk tables' secondary indexes are dropped during the load and recreated
 * from their own definitions afterwards; foreign keys are not checked during the load
 * (session_replication_role = replica: the rows are consistent by construction).
 * Deterministic (setseed), single connection.
 */
import pg from "pg";
import { SEED_CLIENTS, SEED_FLOWS } from "../seed.mjs";

const DAY = 86_400_000;
const lit = (v) => `'${String(v).replace(/'/g, "''")}'`;

export async function seedPostgres(url, { runs: total = 1_000_000, months = 6, endAt = Date.now(), log = () => {} } = {}) {
  const t0 = performance.now();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const q = (text, values) => db.query(text, values);
  try {
    if ((await q("SELECT count(*)::int AS n FROM runs")).rows[0].n > 0) throw new Error("the database already holds runs");
    await q("SET session_replication_role = replica");
    await q("SET maintenance_work_mem = '256MB'");
    await q("SET work_mem = '64MB'");
    await q("SELECT setseed(0.20261125)");
    const now = endAt;
    await q("BEGIN");
    for (const c of SEED_CLIENTS) {
      await q("INSERT INTO clients (id, name, sensitivity, last_seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING", [c.id, c.name, c.performanceSensitivity, now - 60_000]);
      for (let i = 1; i <= 3; i++) {
        await q("INSERT INTO workers (id, client_id, hostname, pid, sdk_version, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, '0.1.0', $5, $6) ON CONFLICT (id) DO NOTHING", [
          `wkr_seed_${c.id}_${i}`, c.id, `${c.id.replace("_", "-")}-${i}`, 1000 + i, now - 180 * DAY, now - 60_000,
        ]);
      }
    }
    await q("CREATE TEMP TABLE seed_flows (flow_id int, client_id text, name text, lo float8, hi float8, tags jsonb, params jsonb, n int, est_sum bigint)");
    await q("CREATE TEMP TABLE seed_tasks (flow_id int, position int, name text, est bigint, before bigint)");
    const shareSum = SEED_FLOWS.reduce((s, f) => s + f.share, 0);
    let acc = 0;
    for (const f of SEED_FLOWS) {
      const parameters = Object.entries(f.params).map(([name, def]) => ({ name, type: typeof def === "number" ? "int" : typeof def === "boolean" ? "bool" : "str", default: def, required: false }));
      const { rows } = await q("INSERT INTO flows (client_id, name, description, tags, parameters, registered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id", [
        f.client, f.name, `${f.name} (seeded)`, JSON.stringify(f.tags), JSON.stringify(parameters), now - 200 * DAY,
      ]);
      const id = rows[0].id;
      let before = 0;
      for (const [i, t] of f.tasks.entries()) {
        await q("INSERT INTO flow_tasks (flow_id, position, name, estimated_time, description) VALUES ($1, $2, $3, $4, '')", [id, i, t.name, t.estimatedTime]);
        await q("INSERT INTO seed_tasks VALUES ($1, $2, $3, $4, $5)", [id, i, t.name, t.estimatedTime, before]);
        before += t.estimatedTime + 2;
      }
      const lo = acc;
      acc += f.share / shareSum;
      await q("INSERT INTO seed_flows VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", [id, f.client, f.name, lo, f === SEED_FLOWS.at(-1) ? 2 : acc, JSON.stringify(f.tags), JSON.stringify(f.params), f.tasks.length, before]);
    }
    await q("COMMIT");

    const bulk = ["runs", "run_tags", "task_runs", "logs"];
    const { rows: indexes } = await q(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
      [bulk],
    );
    for (const ix of indexes) await q(`DROP INDEX "${ix.indexname}"`);

    const span = months * 30 * DAY;
    const start = now - span;
    const step = span / total;
    const pendingTail = Math.min(30, Math.floor(total / 100));
    const runningTail = Math.min(20, Math.floor(total / 100));
    const errors = ["ValueError: bad row 4411", "TimeoutError: warehouse did not answer in 30 s", "KeyError: 'customer_id'", "ConnectionResetError: peer reset"];
    const t1 = performance.now();
    await q(`
      INSERT INTO runs (id, flow_id, client_id, flow_name, state, parameters, tags, trigger, worker_id, created_at, claimed_at, started_at, ended_at, error, progress, last_seq, cancel_requested_at)
      SELECT g.id, f.flow_id, f.client_id, f.name, s.state, f.params,
        f.tags || jsonb_build_object('version', 'v1.' || floor((g.id - 1)::float8 / ${total} * 6)::int)
          || CASE WHEN g.rb < 0.001 THEN '{"backfill":"true"}'::jsonb ELSE '{}'::jsonb END,
        CASE WHEN g.rt < 0.3 THEN 'ui' ELSE 'api' END,
        CASE WHEN s.state = 'PENDING' THEN NULL ELSE 'wkr_seed_' || f.client_id || '_' || (1 + floor(g.rw * 3))::int END,
        g.created,
        CASE WHEN s.state = 'PENDING' THEN NULL ELSE g.created + 5 + floor(g.rc * 40)::bigint END,
        CASE WHEN s.state = 'PENDING' THEN NULL ELSE g.created + 5 + floor(g.rc * 40)::bigint END,
        CASE WHEN s.state IN ('PENDING', 'RUNNING') THEN NULL
             WHEN s.state = 'COMPLETED' THEN g.created + 5 + floor(g.rc * 40)::bigint + f.est_sum
             ELSE g.created + 5 + floor(g.rc * 40)::bigint + (SELECT t.before + t.est FROM seed_tasks t WHERE t.flow_id = f.flow_id AND t.position = (g.id * 7919) % f.n) END,
        CASE WHEN s.state = 'FAILED' THEN (ARRAY[${errors.map(lit).join(", ")}])[1 + (g.id % 4)::int] END,
        CASE WHEN s.state = 'COMPLETED' THEN 1 WHEN s.state = 'PENDING' THEN 0 ELSE round(((g.id * 7919) % f.n)::numeric / f.n, 3)::float8 END,
        CASE WHEN s.state = 'PENDING' THEN 0 WHEN s.state = 'COMPLETED' THEN 2 * f.n ELSE 2 * ((g.id * 7919) % f.n) + 1 END,
        CASE WHEN s.state = 'CANCELLED' THEN g.created + 5 + f.est_sum END
      FROM (SELECT id, random() AS rf, random() AS rs, random() AS rt, random() AS rw, random() AS rb, random() AS rc,
                   floor(${start} + (id - 1) * ${step} + random() * ${step} * 0.9)::bigint AS created
            FROM generate_series(1::bigint, ${total}::bigint) AS id) g
      JOIN seed_flows f ON g.rf >= f.lo AND g.rf < f.hi
      CROSS JOIN LATERAL (SELECT CASE WHEN ${total} - g.id < ${pendingTail} THEN 'PENDING'
                                      WHEN ${total} - g.id < ${pendingTail + runningTail} THEN 'RUNNING'
                                      WHEN g.rs < 0.88 THEN 'COMPLETED' WHEN g.rs < 0.96 THEN 'FAILED' ELSE 'CANCELLED' END AS state) s`);
    log(`runs written (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
    await q("INSERT INTO run_tags (run_id, key, value) SELECT r.id, t.key, t.value FROM runs r, jsonb_each_text(r.tags) t");
    log(`run tags written (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    await q(`
      INSERT INTO task_runs (run_id, flow_id, position, call_index, name, weight, estimated_time, state, reported_progress, progress_changed_at, started_at, ended_at, duration_ms, attempt, error)
      SELECT r.id, r.flow_id, t.position, CASE WHEN x.state IN ('PENDING', 'CANCELLED') THEN NULL ELSE t.position END, t.name, t.est, t.est, x.state,
        CASE WHEN x.state = 'COMPLETED' THEN 1 END,
        CASE WHEN x.state IN ('PENDING', 'CANCELLED') THEN NULL ELSE r.claimed_at + t.before + CASE WHEN x.state = 'RUNNING' THEN 0 ELSE x.dur END END,
        CASE WHEN x.state IN ('PENDING', 'CANCELLED') THEN NULL ELSE r.claimed_at + t.before END,
        CASE WHEN x.state IN ('COMPLETED', 'FAILED') THEN r.claimed_at + t.before + x.dur END,
        CASE WHEN x.state IN ('COMPLETED', 'FAILED') THEN x.dur END,
        1,
        CASE WHEN x.state = 'FAILED' THEN r.error END
      FROM runs r
      JOIN seed_flows f ON f.flow_id = r.flow_id
      JOIN seed_tasks t ON t.flow_id = r.flow_id
      CROSS JOIN LATERAL (SELECT (r.id * 7919) % f.n AS stop) s
      CROSS JOIN LATERAL (SELECT CASE
          WHEN r.state = 'PENDING' THEN 'PENDING'
          WHEN r.state = 'COMPLETED' OR t.position < s.stop THEN 'COMPLETED'
          WHEN r.state = 'FAILED' THEN CASE WHEN t.position = s.stop THEN 'FAILED' ELSE 'CANCELLED' END
          WHEN r.state = 'CANCELLED' THEN 'CANCELLED'
          ELSE CASE WHEN t.position = s.stop THEN 'RUNNING' ELSE 'PENDING' END END AS state,
        greatest(5, round(t.est * (0.92 + 0.16 * random())))::bigint AS dur) x
      ORDER BY r.id, t.position`);
    log(`task runs written (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    await q(`
      INSERT INTO logs (run_id, task_run_id, seq, level, message, ts)
      SELECT run_id, id, 2 * position + 1, 'INFO', name || ': started (attempt 1)', started_at FROM task_runs WHERE started_at IS NOT NULL
      UNION ALL
      SELECT run_id, id, 2 * position + 2, 'ERROR', 'Traceback (most recent call last):' || chr(10) || '  File "flows.py", line 42, in ' || name || chr(10) || error, ended_at
        FROM task_runs WHERE state = 'FAILED'`);
    log(`logs written (${((performance.now() - t0) / 1000).toFixed(1)} s); recreating ${indexes.length} indexes`);
    const tIndex = performance.now();
    for (const ix of indexes) await q(ix.indexdef);
    await q(`
      INSERT INTO task_stats (flow_id, task_name, client_id, mean, stddev, samples, updated_at, recent)
      SELECT t.flow_id, t.name, f.client_id, avg(t.duration_ms), coalesce(stddev_samp(t.duration_ms), 0), 100, ${now - 60_000}, '[]'::jsonb
      FROM task_runs t JOIN flows f ON f.id = t.flow_id WHERE t.state = 'COMPLETED' GROUP BY t.flow_id, t.name, f.client_id
      ON CONFLICT DO NOTHING`);
    for (const [table, col] of [["runs", "id"], ["task_runs", "id"], ["logs", "id"]]) {
      await q(`SELECT setval(pg_get_serial_sequence('${table}', '${col}'), (SELECT max(${col}) FROM ${table}))`);
    }
    await q("RESET session_replication_role");
    await q("VACUUM ANALYZE");
    const count = async (sql) => Number((await q(sql)).rows[0].n);
    const states = Object.fromEntries((await q("SELECT state, count(*)::int AS n FROM runs GROUP BY state ORDER BY state")).rows.map((r) => [r.state, r.n]));
    const seconds = (performance.now() - t0) / 1000;
    return {
      runs: total,
      taskRuns: await count("SELECT count(*) AS n FROM task_runs"),
      logs: await count("SELECT count(*) AS n FROM logs"),
      runTags: await count("SELECT count(*) AS n FROM run_tags"),
      states,
      flows: SEED_FLOWS.length,
      clients: SEED_CLIENTS.length,
      firstCreatedAt: new Date(start).toISOString(),
      lastCreatedAt: new Date(now).toISOString(),
      seconds: Math.round(seconds * 10) / 10,
      indexSeconds: Math.round(((performance.now() - tIndex) / 1000) * 10) / 10,
      megabytes: Math.round(Number((await q("SELECT pg_database_size(current_database()) AS n")).rows[0].n) / 2 ** 20),
    };
  } finally {
    await db.end();
  }
}

/** bench/history.mjs's describeDatabase for PostgreSQL: id range and the created_at → id lookups the queries need. */
export async function describePostgres(url, historyQueries) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const r = (await db.query("SELECT min(id)::float8 AS \"minId\", max(id)::float8 AS \"maxId\", min(created_at)::float8 AS \"minCreated\", max(created_at)::float8 AS \"maxCreated\" FROM runs")).rows[0];
    const wanted = new Set();
    historyQueries({ ...r, idAt: (t) => (wanted.add(Math.round(t)), 0) });
    const ids = new Map();
    for (const t of wanted) ids.set(t, Number((await db.query("SELECT id FROM runs WHERE created_at >= $1 ORDER BY created_at LIMIT 1", [t])).rows[0]?.id ?? r.maxId));
    return { ...r, idAt: (t) => ids.get(Math.round(t)) ?? r.maxId };
  } finally {
    await db.end();
  }
}
