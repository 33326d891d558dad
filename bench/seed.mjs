#!/usr/bin/env node
/**
 * Fills a database file with realistic history: `node bench/seed.mjs <file> [--runs 1000000]`.
 *
 * Three clients and ten flows; each run has 3–5 task runs, its flow's tags in run_tags (plus a
 * rare `backfill:true` on 0.1 %), one or two logs per task run, a mix of states (the newest runs
 * PENDING and RUNNING), created_at spread over six months and increasing with id, and task
 * statistics computed from the seeded durations. The file is migrated with drizzle's migrator
 * first, so the server opens it as its own. Deterministic (fixed PRNG seed).
 *
 * Speed: secondary indexes are dropped during the bulk insert and recreated from their own
 * CREATE statements afterwards (one sort each instead of millions of B-tree inserts).
 */
import { applyServerPragmas } from "../db/sqlite-pragmas.mjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DAY = 86_400_000;

export const SEED_CLIENTS = [
  { id: "acme_etl", name: "Acme Data Engineering", performanceSensitivity: "normal", token: "acme-seed-token" },
  { id: "ml_platform", name: "ML Platform", performanceSensitivity: "aggressive", token: "ml-seed-token" },
  { id: "infra_ops", name: "Infrastructure Ops", performanceSensitivity: "conservative", token: "infra-seed-token" },
];

const task = (name, estimatedTime) => ({ name, estimatedTime });
/** `share` is the flow's part of all runs (hourly flows run far more often than weekly ones). */
export const SEED_FLOWS = [
  { client: "acme_etl", name: "Daily Sales ETL", share: 0.1, tags: { team: "data-eng", priority: "high", env: "prod" },
    tasks: [task("extract_sales", 3000), task("transform_sales", 2000), task("load_sales", 1500)], params: { day: "today", limit: 100 } },
  { client: "acme_etl", name: "Hourly Clickstream Load", share: 0.3, tags: { team: "data-eng", priority: "medium", env: "prod" },
    tasks: [task("fetch_events", 800), task("dedupe", 400), task("sessionize", 1200), task("write_parquet", 600)], params: { hour: 0 } },
  { client: "acme_etl", name: "Inventory Sync", share: 0.12, tags: { team: "data-eng", priority: "medium", env: "prod" },
    tasks: [task("pull_erp", 2500), task("diff", 700), task("push_warehouse", 1800)], params: { full: false } },
  { client: "acme_etl", name: "Customer 360 Build", share: 0.05, tags: { team: "analytics", priority: "low", env: "staging" },
    tasks: [task("load_crm", 4000), task("load_tickets", 2000), task("merge_profiles", 5000), task("score_segments", 3000), task("publish", 800)], params: { region: "eu" } },
  { client: "ml_platform", name: "Churn Model Retraining", share: 0.03, tags: { team: "ml", priority: "high", env: "prod" },
    tasks: [task("load_features", 4000), task("train_model", 9000), task("evaluate", 2500), task("register_model", 600)], params: { epochs: 20 } },
  { client: "ml_platform", name: "Feature Store Refresh", share: 0.15, tags: { team: "ml", priority: "medium", env: "prod" },
    tasks: [task("snapshot_sources", 1500), task("compute_features", 3500), task("materialize", 1200)], params: {} },
  { client: "ml_platform", name: "Batch Scoring", share: 0.1, tags: { team: "ml", priority: "medium", env: "prod" },
    tasks: [task("load_model", 900), task("score_batch", 4200), task("write_scores", 1100)], params: { batch: 5000 } },
  { client: "infra_ops", name: "Infrastructure Health Check", share: 0.12, tags: { team: "sre", priority: "critical", env: "prod" },
    tasks: [task("check_disks", 500), task("check_services", 900), task("check_certs", 300), task("notify", 200)], params: {} },
  { client: "infra_ops", name: "Weekly Executive Report", share: 0.005, tags: { team: "bi", priority: "low", env: "prod" },
    tasks: [task("gather_kpis", 3000), task("render_charts", 2500), task("build_pdf", 1800), task("email_report", 400)], params: { week: "last" } },
  { client: "infra_ops", name: "Log Compaction", share: 0.025, tags: { team: "sre", priority: "low", env: "prod" },
    tasks: [task("list_segments", 600), task("compact", 6000), task("verify", 1500)], params: { keepDays: 30 } },
];

/** Tags the history benchmark filters on (must exist in seeded data). */
export const SEED_TAGS = { common: "env:prod", rare: "backfill:true" };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function migrateFile(file) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  migrate(drizzle(sqlite), { migrationsFolder: path.join(ROOT, "db", "migrations") });
  sqlite.close();
}

/**
 * Opens a migrated file with the server's own pragmas (db/client.ts), so a bare baseline
 * measures SQLite as Perfect configures it.
 */
export function openLikeServer(file) {
  migrateFile(file);
  const db = new Database(file);
  applyServerPragmas(db);
  return db;
}

/**
 * Seeds `file` (created and migrated if needed; must hold no runs yet) with `runs` runs whose
 * creation times end at `endAt`. Returns row counts and the time it took.
 */
export function seedDatabase(file, { runs: total = 1_000_000, months = 6, endAt = Date.now(), log = () => {} } = {}) {
  const t0 = performance.now();
  migrateFile(file);
  const db = new Database(file);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("foreign_keys = OFF");
  db.pragma("cache_size = -262144");
  db.pragma("temp_store = MEMORY");
  db.pragma("locking_mode = EXCLUSIVE");
  if (db.prepare("SELECT count(*) AS n FROM runs").get().n > 0) throw new Error(`${file} already holds runs`);

  const rand = mulberry32(20261125);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());

  const now = endAt;
  const insertClient = db.prepare("INSERT OR REPLACE INTO clients (id, name, sensitivity, last_seen_at) VALUES (?, ?, ?, ?)");
  const insertWorker = db.prepare("INSERT OR REPLACE INTO workers (id, client_id, hostname, pid, sdk_version, registered_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const insertFlow = db.prepare("INSERT INTO flows (client_id, name, description, tags, parameters, registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
  const insertFlowTask = db.prepare("INSERT INTO flow_tasks (flow_id, position, name, estimated_time, description) VALUES (?, ?, ?, ?, '')");
  const workersOf = new Map();
  const flows = [];
  db.transaction(() => {
    for (const c of SEED_CLIENTS) {
      insertClient.run(c.id, c.name, c.performanceSensitivity, now - 60_000);
      const ids = [1, 2, 3].map((n) => `wkr_seed_${c.id}_${n}`);
      ids.forEach((w, i) => insertWorker.run(w, c.id, `${c.id.replace("_", "-")}-${i + 1}`, 1000 + i, "0.1.0", now - 180 * DAY, now - 60_000));
      workersOf.set(c.id, ids);
    }
    for (const f of SEED_FLOWS) {
      const parameters = Object.entries(f.params).map(([name, def]) => ({
        name, type: typeof def === "number" ? "int" : typeof def === "boolean" ? "bool" : "str", default: def, required: false,
      }));
      const { id } = insertFlow.get(f.client, f.name, `${f.name} (seeded)`, JSON.stringify(f.tags), JSON.stringify(parameters), now - 200 * DAY, now - 200 * DAY);
      f.tasks.forEach((t, i) => insertFlowTask.run(id, i, t.name, t.estimatedTime));
      flows.push({ ...f, id, paramsJson: null, tagsJson: JSON.stringify(f.tags) });
    }
  })();

  // Drop the secondary indexes of the bulk tables; recreate them from their own SQL at the end.
  const bulk = ["runs", "run_tags", "task_runs", "logs"];
  const indexes = db
    .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${bulk.map(() => "?").join(",")})`)
    .all(...bulk);
  for (const ix of indexes) db.exec(`DROP INDEX "${ix.name}"`);

  const insRun = db.prepare(
    `INSERT INTO runs (id, flow_id, client_id, flow_name, state, parameters, tags, trigger, worker_id, created_at, claimed_at, started_at, ended_at, error, progress, last_seq, cancel_requested_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insTag = db.prepare("INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)");
  const insTask = db.prepare(
    `INSERT INTO task_runs (id, run_id, flow_id, position, call_index, name, weight, estimated_time, state, reported_progress, progress_changed_at, started_at, ended_at, duration_ms, attempt, warning, z_score, threshold, stalled, error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
  );
  const insLog = db.prepare("INSERT INTO logs (id, run_id, task_run_id, seq, level, message, ts) VALUES (?, ?, ?, ?, ?, ?, ?)");

  // Cumulative shares → flow picked per run.
  const cum = [];
  let acc = 0;
  const shareSum = SEED_FLOWS.reduce((s, f) => s + f.share, 0);
  for (const f of flows) cum.push((acc += f.share / shareSum));
  const pickFlow = () => {
    const x = rand();
    for (let i = 0; i < cum.length; i++) if (x < cum[i]) return flows[i];
    return flows[flows.length - 1];
  };

  const span = months * 30 * DAY;
  const start = now - span;
  const step = span / total;
  const pendingTail = Math.min(30, Math.floor(total / 100));
  const runningTail = Math.min(20, Math.floor(total / 100));
  const windows = new Map(); // "flowId/task" → last 100 completed durations
  let taskId = 0;
  let logId = 0;
  let tagRows = 0;
  const counts = { PENDING: 0, RUNNING: 0, COMPLETED: 0, FAILED: 0, CANCELLED: 0 };
  const BATCH = 25_000;

  const writeRange = db.transaction((from, to) => {
    for (let id = from; id < to; id++) {
      const f = pickFlow();
      const createdAt = Math.floor(start + (id - 1) * step + rand() * step * 0.9);
      const fromEnd = total - id; // 0 for the newest run
      let state;
      if (fromEnd < pendingTail) state = "PENDING";
      else if (fromEnd < pendingTail + runningTail) state = "RUNNING";
      else {
        const x = rand();
        state = x < 0.88 ? "COMPLETED" : x < 0.96 ? "FAILED" : "CANCELLED";
      }
      counts[state]++;
      const trigger = rand() < 0.3 ? "ui" : "api";
      const worker = state === "PENDING" ? null : pick(workersOf.get(f.client));
      const params = { ...f.params };
      if ("day" in params) params.day = new Date(createdAt).toISOString().slice(0, 10);
      if ("hour" in params) params.hour = new Date(createdAt).getUTCHours();
      const backfill = rand() < 0.001;
      const version = `v1.${Math.floor(((id - 1) / total) * 6)}`;
      const tags = { ...f.tags, version, ...(backfill ? { backfill: "true" } : {}) };

      // Task runs: durations around the estimate; a failing or cancelled run stops part-way.
      const n = f.tasks.length;
      const stopAt = state === "FAILED" || state === "CANCELLED" ? Math.floor(rand() * n) : state === "RUNNING" ? Math.floor(rand() * n) : n;
      const claimedAt = state === "PENDING" ? null : createdAt + 5 + Math.floor(rand() * 40);
      let t = claimedAt ?? createdAt;
      let seq = 0;
      let error = null;
      let doneWeight = 0;
      const weightSum = f.tasks.reduce((s, x) => s + x.estimatedTime, 0);
      const rowsTask = [];
      const rowsLog = [];
      for (let p = 0; p < n; p++) {
        const def = f.tasks[p];
        const tid = ++taskId;
        if (state === "PENDING" || p > stopAt || (p === stopAt && state === "CANCELLED")) {
          rowsTask.push([tid, id, f.id, p, null, def.name, def.estimatedTime, def.estimatedTime, state === "PENDING" || state === "RUNNING" ? "PENDING" : "CANCELLED",
            null, null, null, null, null, 1, null, null, null, null]);
          continue;
        }
        const slow = rand() < 0.01;
        const duration = Math.max(5, Math.round(def.estimatedTime * (1 + 0.08 * gauss()) * (slow ? 1.6 : 1)));
        const startedAt = t;
        const callIndex = p;
        seq++;
        rowsLog.push([++logId, id, tid, seq, "INFO", `${def.name}: started (attempt 1)`, startedAt]);
        if (p === stopAt && state === "RUNNING") {
          rowsTask.push([tid, id, f.id, p, callIndex, def.name, def.estimatedTime, def.estimatedTime, "RUNNING", null, startedAt, startedAt, null, null, 1, null, null, null, null]);
          continue;
        }
        const endedAt = startedAt + duration;
        t = endedAt + 2;
        seq++;
        if (p === stopAt && state === "FAILED") {
          error = pick(["ValueError: bad row 4411", "TimeoutError: warehouse did not answer in 30 s", "KeyError: 'customer_id'", "ConnectionResetError: peer reset"]);
          rowsTask.push([tid, id, f.id, p, callIndex, def.name, def.estimatedTime, def.estimatedTime, "FAILED", null, startedAt, startedAt, endedAt, duration, 1, null, null, null, error]);
          rowsLog.push([++logId, id, tid, seq, "ERROR", `Traceback (most recent call last):\n  File "flows.py", line 42, in ${def.name}\n${error}`, endedAt]);
          continue;
        }
        const key = `${f.id}/${def.name}`;
        let w = windows.get(key);
        if (!w) windows.set(key, (w = []));
        w.push(duration);
        if (w.length > 100) w.shift();
        const warning = slow && w.length >= 5 ? "SLOW" : null;
        rowsTask.push([tid, id, f.id, p, callIndex, def.name, def.estimatedTime, def.estimatedTime, "COMPLETED", 1, endedAt, startedAt, endedAt, duration, 1,
          warning, warning ? 3.6 + rand() : null, warning ? 3.3 : null, null]);
        doneWeight += def.estimatedTime;
        if (rand() < 0.3) rowsLog.push([++logId, id, tid, seq, "INFO", `${def.name}: processed ${Math.floor(rand() * 90_000) + 1000} rows`, endedAt]);
      }
      const endedAt = state === "PENDING" || state === "RUNNING" ? null : t;
      const progress = state === "COMPLETED" ? 1 : state === "PENDING" ? 0 : Math.round((doneWeight / weightSum) * 1000) / 1000;
      insRun.run(id, f.id, f.client, f.name, state, JSON.stringify(params), JSON.stringify(tags), trigger, worker, createdAt, claimedAt, claimedAt, endedAt, error,
        progress, seq, state === "CANCELLED" ? (endedAt ?? t) : null);
      for (const k in tags) {
        insTag.run(id, k, tags[k]);
        tagRows++;
      }
      for (const r of rowsTask) insTask.run(...r);
      for (const r of rowsLog) insLog.run(...r);
    }
  });
  for (let from = 1; from <= total; from += BATCH) {
    writeRange(from, Math.min(from + BATCH, total + 1));
    if ((from - 1) % 200_000 === 0) log(`seeded ${Math.min(from + BATCH - 1, total)} / ${total} runs (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const tInsert = performance.now();
  log(`rows written in ${((tInsert - t0) / 1000).toFixed(1)} s; recreating ${indexes.length} indexes`);
  for (const ix of indexes) db.exec(ix.sql);

  // Task statistics from the seeded windows (what the live engine would have computed).
  const insStat = db.prepare(
    "INSERT OR REPLACE INTO task_stats (flow_id, task_name, client_id, mean, stddev, samples, updated_at, recent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  db.transaction(() => {
    for (const f of flows) {
      for (const def of f.tasks) {
        const w = windows.get(`${f.id}/${def.name}`) ?? [];
        if (!w.length) continue;
        const mean = w.reduce((s, x) => s + x, 0) / w.length;
        const sd = w.length > 1 ? Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / (w.length - 1)) : 0;
        insStat.run(f.id, def.name, f.client, mean, sd, w.length, now - 60_000, JSON.stringify(w));
      }
    }
  })();
  db.pragma("locking_mode = NORMAL");
  db.pragma("journal_mode = WAL");
  db.close();
  const seconds = (performance.now() - t0) / 1000;
  const bytes = fs.statSync(file).size;
  return {
    file,
    runs: total,
    taskRuns: taskId,
    logs: logId,
    runTags: tagRows,
    states: counts,
    flows: flows.length,
    clients: SEED_CLIENTS.length,
    firstCreatedAt: new Date(start).toISOString(),
    lastCreatedAt: new Date(now).toISOString(),
    seconds: Math.round(seconds * 10) / 10,
    insertSeconds: Math.round(((tInsert - t0) / 1000) * 10) / 10,
    megabytes: Math.round(bytes / 2 ** 20),
  };
}

/** The clients.json that goes with a seeded file (plus any extra clients, e.g. the bench one). */
export function seedClientsFile(extra = []) {
  return [...SEED_CLIENTS, ...extra];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--"));
  const runsArg = args.indexOf("--runs");
  if (!file) {
    console.error("usage: node bench/seed.mjs <database file> [--runs 1000000]");
    process.exit(2);
  }
  const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 1_000_000;
  if (fs.existsSync(file)) {
    console.error(`${file} exists: seeding refuses to touch an existing database`);
    process.exit(2);
  }
  const result = seedDatabase(file, { runs, log: (m) => console.error(`[seed] ${m}`) });
  console.log(JSON.stringify(result, null, 2));
}
