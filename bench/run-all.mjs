#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark against the built server, one after another, each in its own
 * process (the server is always another process again), then docs/BENCHMARKS.md.
 *
 *   node bench/run-all.mjs [--quick] [--only dispatch,ingest,...] [--db seeded.db] [--runs 1000000]
 *   node bench/run-all.mjs --render     (docs/BENCHMARKS.md again from bench/results/latest.json)
 *   node bench/run-all.mjs --collect a.json,b.json [--commit <sha>]   (latest.json + the page from single
 *       benchmarks' outputs, as a partial run: e.g. the side-by-side ones run by hand; --commit names
 *       the commit they were measured at when that is not the one checked out now)
 *
 * --quick shrinks every benchmark (a smoke of the whole pipeline, not figures to publish).
 * Before each benchmark it waits (up to 2 minutes) for the 1-minute load average to drop below
 * 1.0, so other work on the machine disturbs the figures less; the load seen is recorded.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { machineInfo } from "./lib/machine.mjs";
import { ensureBuild, tempDir } from "./lib/server.mjs";
import { sleep } from "./lib/stats.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DOC = path.join(ROOT, "docs", "BENCHMARKS.md");
const FINDINGS = path.join(ROOT, "bench", "FINDINGS.md");
const PUBLISHED = path.join(ROOT, "bench", "PUBLISHED.md");
const RESULTS = path.join(ROOT, "bench", "results", "latest.json");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const key = argv[i].slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[key] = true;
    else out[key] = argv[++i];
  }
  return out;
}

/** The benchmarks in order; `args` are the full-size arguments, `quick` the smoke ones. */
export function plan({ db, runs = 1_000_000 }) {
  return [
    { id: "dispatch", script: "dispatch.mjs", args: ["--pollers", "1000", "--trials", "300"], quick: ["--pollers", "50", "--trials", "30"] },
    { id: "ingest", script: "ingest.mjs", args: ["--trials", "10"], quick: ["--trials", "2"] },
    { id: "sse", script: "sse.mjs", args: ["--dashboards", "50", "--trials", "100"], quick: ["--dashboards", "10", "--trials", "10"] },
    { id: "floods", script: "floods.mjs", args: ["--trials", "100"], quick: ["--trials", "10"] },
    // Every page's first visit on a fresh `next start` (and, for contrast, two pages on `next dev`).
    { id: "first-visit", script: "first-visit.mjs", args: ["--rounds", "10", "--runs", "2000", "--dev", "1"], quick: ["--rounds", "1", "--runs", "100"] },
    { id: "live-ui", script: "live-ui.mjs", args: ["--trials", "40"], quick: ["--trials", "3"] },
    { id: "log-list", script: "log-list.mjs", args: ["--lines", "100000", "--frames", "600"], quick: ["--lines", "5000", "--frames", "120"] },
    { id: "e2e", script: "e2e.mjs", args: ["--dispatch-trials", "200", "--runs", "500", "--throughput-trials", "5"], quick: ["--dispatch-trials", "10", "--runs", "50", "--throughput-trials", "1"] },
    { id: "parallel", script: "parallel.mjs", args: ["--tasks", "1000", "--trials", "5", "--submits", "1000", "--submit-trials", "10"], quick: ["--tasks", "100", "--trials", "1", "--submits", "100", "--submit-trials", "2"] },
    { id: "schedules", script: "schedules.mjs", args: ["--schedules", "1000", "--fires", "60", "--idle-schedules", "10000", "--idle-seconds", "30"], quick: ["--schedules", "50", "--fires", "5", "--idle-schedules", "500", "--idle-seconds", "3"] },
    { id: "history", script: "history.mjs", args: ["--db", db, "--reps", "100"], quick: ["--db", db, "--reps", "3"], needsDb: true, runs },
    { id: "history-ui", script: "history-ui.mjs", args: ["--db", db, "--reps", "5"], quick: ["--db", db, "--reps", "1"], needsDb: true, runs },
    { id: "memory", script: "memory.mjs", args: ["--db", db, "--seconds", "20"], quick: ["--db", db, "--seconds", "3"], needsDb: true, runs },
    // PostgreSQL and the peers: each starts (and stops) its own PostgreSQL cluster or redis-server.
    {
      id: "pg",
      script: "pg.mjs",
      args: ["--pollers", "200", "--dispatch-trials", "200", "--runs", "500", "--throughput-trials", "5", "--history-runs", String(runs), "--reps", "50"],
      quick: ["--pollers", "20", "--dispatch-trials", "10", "--runs", "50", "--throughput-trials", "1", "--history-runs", "20000", "--reps", "2"],
    },
    { id: "auth", script: "auth.mjs", args: ["--trials", "2000"], quick: ["--trials", "50"] },
    { id: "concurrency", script: "concurrency.mjs", args: ["--trials", "300"], quick: ["--trials", "10"] },
    // Run failed → webhook received (SQLite and a throw-away PostgreSQL) and the metrics scrape over the seeded history (SQLite, and PostgreSQL seeded to the same size).
    {
      id: "alerts",
      script: "alerts.mjs",
      args: ["--trials", "200", "--db", db, "--runs", String(runs), "--reps", "200", "--pg-runs", String(runs)],
      quick: ["--trials", "10", "--db", db, "--runs", String(runs), "--reps", "5", "--pg-runs", "20000"],
      needsDb: true,
      runs,
    },
    { id: "peers-pg", script: "peers-pg.mjs", args: ["--dispatch-trials", "200", "--jobs", "1000", "--throughput-trials", "5"], quick: ["--dispatch-trials", "10", "--jobs", "100", "--throughput-trials", "1"] },
    { id: "bare-compare", script: "bare-compare.mjs", args: ["--dispatch-trials", "200", "--runs", "500", "--throughput-trials", "5"], quick: ["--dispatch-trials", "10", "--runs", "30", "--throughput-trials", "1"] },
    { id: "peers-redis", script: "peers-redis.mjs", args: ["--dispatch-trials", "200", "--jobs", "1000", "--throughput-trials", "5"], quick: ["--dispatch-trials", "10", "--jobs", "100", "--throughput-trials", "1"] },
  ];
}

/**
 * One benchmark's row: the plan's id wins over the script's own (dispatch.mjs says
 * "dispatch-server"), so no result is lost or misfiled when results are matched to the plan.
 */
export function resultOf(step, r, load, seconds) {
  return { ...r, id: step.id, load, seconds };
}

async function waitForQuiet(maxMs = 120_000, threshold = 1.0) {
  const t0 = Date.now();
  while (os.loadavg()[0] >= threshold && Date.now() - t0 < maxMs) await sleep(5000);
  return { waitedSeconds: Math.round((Date.now() - t0) / 1000), load: Math.round(os.loadavg()[0] * 100) / 100 };
}

function runScript(script, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bench", script), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("close", (code) => {
      try {
        resolve(code === 0 ? JSON.parse(out) : { error: `exit ${code}` });
      } catch (e) {
        resolve({ error: `unreadable output: ${e.message}` });
      }
    });
  });
}

const fmt = (x, unit) => {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  if (unit === "×") return `${x.toFixed(2)}×`;
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
};
const verdict = (f) => (f.kind === "info" ? "info" : f.met === null || f.met === undefined ? "pending" : f.met ? "met" : "**missed**");
const cell = (s) => String(s ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The side-by-side benchmarks: their ratio figures lead the page. */
export const COMPARISONS = ["peers-redis", "peers-pg", "bare-compare"];

/** Whom a ratio figure compares Perfect with (its `versus`, or read from "… against X …"). */
function versusOf(r, f) {
  if (f.versus) return f.versus;
  if (r.id === "bare-compare") return "bare baseline (same protocol, node:http + SQLite)";
  return /against (?:the )?([^:,]+?)(?: empty jobs\/s|:|,|$)/.exec(f.what)?.[1] ?? r.id;
}
function measureOf(f) {
  if (/^(pickup latency|dispatch)/.test(f.what)) return "pickup latency: trigger → task body starts (peer: enqueue → handler)";
  if (/ten empty tasks/.test(f.what)) return "throughput: runs of ten empty tasks (task runs/s)";
  if (/^throughput/.test(f.what)) return "throughput: one-task runs/s (peer: empty jobs/s)";
  return f.what;
}
const backendOf = (f) => (/PostgreSQL/.test(f.what) ? "PostgreSQL" : "SQLite");

/**
 * The ratio table: one row per comparison figure of the side-by-side benchmarks (Perfect vs each
 * peer and vs the bare baseline), judged rows (isolation="process") before context rows, and a
 * row for every comparison that could not be measured or whose benchmark failed.
 */
export function ratioRows(results) {
  const rows = [];
  for (const r of results.filter((x) => COMPARISONS.includes(x.id))) {
    if (r.error) {
      rows.push({ against: r.id, measure: "all", failed: r.error });
      continue;
    }
    for (const f of r.figures ?? []) {
      if (!["ratio", "info", "unavailable"].includes(f.kind)) continue;
      rows.push({ against: versusOf(r, f), measure: measureOf(f), backend: backendOf(f), isolation: /isolation="thread"/.test(f.what) ? "thread" : "process", f });
    }
  }
  const rank = (x) => (x.failed || x.f.kind === "unavailable" ? 2 : x.isolation === "process" ? 0 : 1);
  return rows.map((x, i) => [x, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([x]) => x);
}

function renderRatioTable(results) {
  const rows = ratioRows(results);
  if (!rows.length) return [];
  const lines = ["## Perfect against its peers and the bare baseline (ratios, same run)", ""];
  lines.push("Each ratio is taken per trial between two systems measured alternately in the same invocation on the same machine, so the machine's speed and load cancel out; the median and the p99 are over those per-trial ratios (p99 = the low tail: the ratio 99 % of trials reached). Ratio ≥ 1 means Perfect is as fast or faster; the goal ≥ 0.5 means within 2×. Rows with isolation \"process\" (the SDK's default) are judged; \"thread\" rows are context. Perfect also stores what the peers do not (every run's history, task runs, logs, statistics, the dashboard's change feed); the bare baseline does the protocol's minimum persistence. Each benchmark's setup, command and load average are in its section below.", "");
  lines.push("| Perfect against | measure | Perfect's backend, isolation | ratio median | ratio p99 | Perfect median (p99) | peer median (p99) | goal | verdict |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const x of rows) {
    if (x.failed) {
      lines.push(`| ${cell(x.against)} | all | — | — | — | — | — | — | benchmark failed: ${cell(x.failed)} |`);
      continue;
    }
    const f = x.f;
    if (f.kind === "unavailable") {
      lines.push(`| ${cell(x.against)} | ${cell(x.measure)} | ${x.backend} | — | — | — | — | — | ${cell(f.note)} |`);
      continue;
    }
    const abs = (s) => (s ? `${fmt(s.median, s.unit)} (${fmt(s.p99, s.unit)})` : "—");
    const v = f.kind === "info" ? "context" : verdict(f);
    lines.push(`| ${cell(x.against)} | ${cell(x.measure)} | ${x.backend}, ${x.isolation} | ${fmt(f.median, "×")} | ${fmt(f.p99, "×")} | ${abs(f.subject)} | ${abs(f.baseline)} | ≥ 0.5× | ${v} |`);
  }
  lines.push("");
  return lines;
}

/** docs/BENCHMARKS.md from the results (pure: the smoke test renders synthetic results). */
export function renderMarkdown({ machine, date, commit, results, seed, findings = "", published = "", quick = false, only = null }) {
  const lines = [];
  lines.push("# Benchmarks", "");
  lines.push("Generated by `npm run bench` (`node bench/run-all.mjs`) against the built server (`next start`); do not edit by hand.");
  lines.push("Every figure is a median and a p99 over repeated trials; a figure with a baseline ran side by side with it in the same invocation and is the ratio (for ratios and rates the p99 column is the low tail: the value 99 % of trials reached).");
  lines.push("");
  if (quick) lines.push("> **Quick run** (`--quick`): tiny sizes, not figures to rely on.", "");
  if (only) lines.push(`> **Partial run** (\`--only ${only.join(",")}\`): only these benchmarks ran; \`npm run bench\` runs them all.`, "");
  lines.push(`- **Date:** ${date}`);
  lines.push(`- **Commit:** ${commit}`);
  lines.push(`- **Machine:** ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGb} GB RAM, ${machine.platform}`);
  lines.push(`- **Runtime:** Node ${machine.node}, better-sqlite3 12 (SQLite ${machine.sqlite ?? "?"}), Next.js ${machine.next ?? "?"}, Python ${machine.python ?? "?"}`);
  lines.push("- **Rerun everything:** `npm run bench` (10–25 minutes: seeding, the runs themselves, and up to 2 minutes before each benchmark waiting for a quieter machine); each row's own command is in its section.");
  lines.push("- The load generators are separate processes from the server; all traffic goes to 127.0.0.1. Other work on a shared machine shows up in the p99s: the 1-minute load average at the start of each benchmark is given.");
  lines.push("");
  lines.push(...renderRatioTable(results));
  if (published.trim()) lines.push(published.trim(), "");
  lines.push("## Every figure (absolute values: context for this machine)", "");
  lines.push("Absolute figures depend on the machine and on what else ran on it; the load column is the 1-minute load average when the benchmark started.", "");
  lines.push("| what | goal | median | p99 | verdict | load |");
  lines.push("| --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    const load = r.load?.load ?? "—";
    for (const f of r.figures ?? []) {
      lines.push(`| ${cell(f.what)} | ${cell(f.goal)} | ${fmt(f.median, f.unit)} | ${fmt(f.p99, f.unit)} | ${f.kind === "unavailable" ? cell(f.note) : verdict(f)} | ${load} |`);
    }
    if (r.error) lines.push(`| ${cell(r.id)} | — | — | — | failed: ${cell(r.error)} | ${load} |`);
  }
  lines.push("");
  if (seed) {
    lines.push("## The seeded history", "");
    lines.push(`\`node bench/seed.mjs <file> --runs ${seed.runs}\`: ${seed.runs.toLocaleString("en-US")} runs, ${seed.taskRuns.toLocaleString("en-US")} task runs, ${seed.runTags.toLocaleString("en-US")} run tags, ${seed.logs.toLocaleString("en-US")} logs, ${seed.flows} flows of ${seed.clients} clients, created ${seed.firstCreatedAt.slice(0, 10)} → ${seed.lastCreatedAt.slice(0, 10)} (states: ${Object.entries(seed.states).map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`).join(", ")}); ${seed.megabytes} MB, written in ${seed.seconds} s.`, "");
  }
  for (const r of results) {
    lines.push(`## ${r.title ?? r.id}`, "");
    if (r.error) {
      lines.push(`Failed: ${r.error}`, "");
      continue;
    }
    lines.push(`Rerun: \`${r.command}\`${r.load ? ` — load average at start ${r.load.load}${r.load.waitedSeconds ? ` (after waiting ${r.load.waitedSeconds} s for a quieter machine)` : ""}` : ""}`, "");
    for (const f of r.figures ?? []) {
      const over = f.kind === "ceiling" ? `${f.trials} samples` : `${f.trials} trials`;
      lines.push(`- **${f.what}** — goal ${f.goal}; median ${fmt(f.median, f.unit)}, p99 ${fmt(f.p99, f.unit)} over ${over} → ${verdict(f)}.`);
      if (f.subject && f.baseline) {
        lines.push(`  Subject ${fmt(f.subject.median, f.subject.unit)} (p99 ${fmt(f.subject.p99, f.subject.unit)}), baseline ${fmt(f.baseline.median, f.baseline.unit)} (p99 ${fmt(f.baseline.p99, f.baseline.unit)}).`);
      }
      if (f.note) lines.push(`  ${f.note}.`.replace(/\.\.$/, "."));
    }
    if (r.perQuery) {
      lines.push("", "| query | rows | median | p99 |", "| --- | --- | --- | --- |");
      for (const q of r.perQuery) lines.push(`| ${cell(q.name)} | ${q.rows} | ${fmt(q.median, "ms")} | ${fmt(q.p99, "ms")} |`);
    }
    if (r.context) lines.push("", ...r.context);
    lines.push("");
  }
  if (findings.trim()) lines.push(findings.trim(), "");
  return lines.join("\n");
}

function versions() {
  const read = (p) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", p, "package.json"), "utf8")).version;
    } catch {
      return undefined;
    }
  };
  let python;
  try {
    python = execFileSync("python3", ["--version"], { encoding: "utf8" }).trim().replace(/^Python /, "");
  } catch {
    /* none */
  }
  let sqlite;
  try {
    sqlite = execFileSync(process.execPath, ["-e", "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    /* none */
  }
  return { next: read("next"), python, sqlite };
}

function commitOf() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).trim() ? " + uncommitted changes" : "";
    return `${head}${dirty}`;
  } catch {
    return "unknown";
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    // Re-render docs/BENCHMARKS.md from bench/results/latest.json (e.g. after editing FINDINGS.md).
    const meta = JSON.parse(fs.readFileSync(RESULTS, "utf8"));
    const findings = fs.existsSync(FINDINGS) ? fs.readFileSync(FINDINGS, "utf8") : "";
    const published = fs.existsSync(PUBLISHED) ? fs.readFileSync(PUBLISHED, "utf8") : "";
    fs.writeFileSync(DOC, renderMarkdown({ ...meta, findings, published }));
    console.error(`[bench] rendered ${path.relative(ROOT, DOC)} from ${path.relative(ROOT, RESULTS)}`);
    return;
  }
  if (typeof args.collect === "string") {
    // Single benchmarks' outputs (their stdout JSON), e.g. the side-by-side ones run by hand with
    // real sizes: rendered as a partial run of the commit checked out now (never mixed with
    // another run's figures). A script's own `loadAtStart` is its load column.
    const files = args.collect.split(",");
    const steps = plan({ db: "x.db" });
    const results = files.map((file) => {
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      const step = steps.find((st) => st.id === r.id) ?? { id: r.id };
      return resultOf(step, r, r.loadAtStart === undefined ? null : { waitedSeconds: 0, load: r.loadAtStart }, r.seconds ?? null);
    });
    // --commit: the commit the outputs were measured at, when it is not the one checked out now.
    const commit = typeof args.commit === "string" ? args.commit : commitOf();
    const meta = { machine: { ...machineInfo(), ...versions() }, date: new Date().toISOString(), commit, results, seed: null, quick: false, only: results.map((r) => r.id) };
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, JSON.stringify(meta, null, 2) + "\n");
    const findings = fs.existsSync(FINDINGS) ? fs.readFileSync(FINDINGS, "utf8") : "";
    const published = fs.existsSync(PUBLISHED) ? fs.readFileSync(PUBLISHED, "utf8") : "";
    fs.writeFileSync(DOC, renderMarkdown({ ...meta, findings, published }));
    console.error(`[bench] wrote ${path.relative(ROOT, DOC)} and ${path.relative(ROOT, RESULTS)} from ${files.length} outputs`);
    return;
  }
  const quick = Boolean(args.quick);
  const only = typeof args.only === "string" ? args.only.split(",") : null;
  // The commit measured is the one checked out now (a commit made while the run goes on is not).
  const commit = commitOf();
  const runs = Number(args.runs ?? (quick ? 20_000 : 1_000_000));
  await ensureBuild();
  const dir = tempDir("perfect-bench-all-");
  let db = typeof args.db === "string" ? path.resolve(args.db) : null;
  let seed = null;
  const steps = plan({ db: db ?? path.join(dir, "seeded.db"), runs }).filter((s) => !only || only.includes(s.id));
  const results = [];
  try {
    if (!db && steps.some((s) => s.needsDb)) {
      db = path.join(dir, "seeded.db");
      console.error(`[bench] seeding ${runs.toLocaleString("en-US")} runs into ${db} …`);
      seed = JSON.parse(execFileSync(process.execPath, [path.join(ROOT, "bench", "seed.mjs"), db, "--runs", String(runs)], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
    }
    for (const step of steps) {
      const load = quick ? { waitedSeconds: 0, load: Math.round(os.loadavg()[0] * 100) / 100 } : await waitForQuiet();
      console.error(`[bench] ${step.id} (load ${load.load}) …`);
      const t0 = Date.now();
      const r = await runScript(step.script, quick ? step.quick : step.args);
      results.push(resultOf(step, r, load, Math.round((Date.now() - t0) / 1000)));
      for (const f of r.figures ?? []) console.error(`[bench]   ${f.what}: median ${f.median} ${f.unit ?? ""}, p99 ${f.p99} → ${verdict(f)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const machine = { ...machineInfo(), ...versions() };
  // Every row of the document comes from this one run of this one commit: an --only run
  // writes only its own benchmarks (and says so), never a mix with an older run's figures.
  const meta = { machine, date: new Date().toISOString(), commit, results, seed, quick, only };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(meta, null, 2) + "\n");
  const findings = fs.existsSync(FINDINGS) ? fs.readFileSync(FINDINGS, "utf8") : "";
  const published = fs.existsSync(PUBLISHED) ? fs.readFileSync(PUBLISHED, "utf8") : "";
  fs.writeFileSync(DOC, renderMarkdown({ ...meta, findings, published }));
  console.error(`[bench] wrote ${path.relative(ROOT, DOC)} and ${path.relative(ROOT, RESULTS)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
}
