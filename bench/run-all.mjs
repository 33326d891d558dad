#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark against the built server, one after another, each in its own
 * process (the server is always another process again), then docs/BENCHMARKS.md.
 *
 *   node bench/run-all.mjs [--quick] [--only dispatch,ingest,...] [--db seeded.db] [--runs 1000000]
 *   node bench/run-all.mjs --render     (docs/BENCHMARKS.md again from bench/results/latest.json)
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

/** docs/BENCHMARKS.md from the results (pure: the smoke test renders synthetic results). */
export function renderMarkdown({ machine, date, commit, results, seed, findings = "", quick = false, only = null }) {
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
  lines.push("| what | goal | median | p99 | verdict |");
  lines.push("| --- | --- | --- | --- | --- |");
  for (const r of results) {
    for (const f of r.figures ?? []) {
      lines.push(`| ${cell(f.what)} | ${cell(f.goal)} | ${fmt(f.median, f.unit)} | ${fmt(f.p99, f.unit)} | ${verdict(f)} |`);
    }
    if (r.error) lines.push(`| ${cell(r.id)} | — | — | — | failed: ${cell(r.error)} |`);
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
    fs.writeFileSync(DOC, renderMarkdown({ ...meta, findings }));
    console.error(`[bench] rendered ${path.relative(ROOT, DOC)} from ${path.relative(ROOT, RESULTS)}`);
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
  fs.writeFileSync(DOC, renderMarkdown({ ...meta, findings }));
  console.error(`[bench] wrote ${path.relative(ROOT, DOC)} and ${path.relative(ROOT, RESULTS)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
}
