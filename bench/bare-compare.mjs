#!/usr/bin/env node
/**
 * Perfect (embedded SQLite, one `next start`) against the same-protocol bare baseline
 * (bench/lib/bare-server.mjs: node:http + better-sqlite3, same schema and pragmas, the worker
 * protocol's minimum work, no framework), both driven by the real Python worker, side by side in
 * one invocation with alternated trials (issue 21):
 *
 *  - dispatch: trigger → first task body starts, one idle Python worker each; trials alternate
 *    system by system; ratio per trial = bare's latency / Perfect's (≥ 0.5 = within 2×);
 *  - throughput: 2 Python worker processes each, max_concurrent_runs 4, runs triggered 8 in
 *    flight; (a) runs of ten empty tasks (task runs/s, as bench/e2e.mjs) and (b) one-task runs
 *    (runs/s, as the peer comparisons); ratio per trial = Perfect's rate / bare's (goal ≥ 0.5).
 *
 * Both with the SDK's default isolation="process" (the judged rows) and isolation="thread"
 * (context rows), as the peer comparisons do.
 *
 *   node bench/bare-compare.mjs [--dispatch-trials 100] [--runs 300] [--throughput-trials 3]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { BENCH_CLIENT_2, alternate, pythonDispatcher, pythonThroughput } from "./lib/perfect.mjs";
import { ratioFigure, runCli } from "./lib/figures.mjs";
import { alternateTrials, benchResult } from "./lib/compare.mjs";
import { spawnBare } from "./lib/bare-server.mjs";
import { summarize } from "./lib/stats.mjs";

const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(" / ");
const BARE = "bare baseline (same protocol, node:http + SQLite)";
const BARE_DOES =
  "The bare server does per request what the engine must: one BEGIN IMMEDIATE transaction that persists the run, its task runs, logs, states and last_seq (same schema, same pragmas), an in-process wake-up of the parked long poll on trigger; it leaves out what Perfect adds: zod validation, statistics and outlier detection, alerts, the change feed (SSE), schedules, concurrency limits, access roles, Next's routing";

const latencyRatio = (args) => {
  const f = ratioFigure(args);
  f.subject.p99 = Math.round(summarize(args.subject).p99 * 1000) / 1000;
  f.baseline.p99 = Math.round(summarize(args.baseline).p99 * 1000) / 1000;
  return f;
};
const info = (f) => ({ ...f, kind: "info", goal: `context (${f.goal.replace(/^≥ /, "judged figure's goal ≥ ")})`, met: null });

export async function compareBare({ perfectBase, perfectPid, bareBase, barePid, dispatchTrials, runs, throughputTrials, workers = 2, concurrency = 4, isolations = ["process", "thread"], log = () => {} }) {
  const figures = [];
  const details = {};
  const clients = { process: BENCH_CLIENT, thread: BENCH_CLIENT_2 };
  // Dispatch: all four (2 systems × 2 isolations) alternated trial by trial.
  const dispatchers = {};
  let lat;
  try {
    for (const iso of isolations) {
      dispatchers[`perfect-${iso}`] = await pythonDispatcher(perfectBase, { isolation: iso, client: clients[iso] });
      dispatchers[`bare-${iso}`] = await pythonDispatcher(bareBase, { isolation: iso, client: clients[iso] });
    }
    log(`dispatch: ${dispatchTrials} alternated trials`);
    lat = await alternate(Object.fromEntries(Object.entries(dispatchers).map(([k, v]) => [k, v.fire])), { trials: dispatchTrials, warmup: 10, gapMs: 30 });
  } finally {
    for (const d of Object.values(dispatchers)) await d.stop();
  }
  for (const iso of isolations) {
    const f = latencyRatio({
      versus: BARE,
      what: `dispatch, Perfect (embedded SQLite) against the bare baseline: trigger → first task body starts, one idle Python worker each${iso === "process" ? "" : ', isolation="thread"'}`,
      ratios: lat[`perfect-${iso}`].map((x, i) => lat[`bare-${iso}`][i] / x),
      min: 0.5,
      subject: lat[`perfect-${iso}`],
      baseline: lat[`bare-${iso}`],
      unit: "ms",
      note: `bare's latency / Perfect's per alternated trial (≥ 0.5 = Perfect within 2× of the bare server); ${dispatchTrials} trials each after 10 warm-ups, one at a time; the same Python worker (bench/py/bench_worker.py, isolation="${iso}") against each. ${BARE_DOES}.`,
    });
    figures.push(iso === "process" ? f : info(f));
    details[`dispatch-${iso}`] = { perfect: summarize(lat[`perfect-${iso}`]), bare: summarize(lat[`bare-${iso}`]) };
  }
  // Throughput: per (flow, isolation), Perfect's and bare's workers up together, trials alternated.
  for (const tenTasks of [true, false]) {
    for (const iso of isolations) {
      const runners = {};
      let rates, checks, cpu;
      try {
        runners.perfect = await pythonThroughput([perfectBase], { workers, maxConcurrentRuns: concurrency, isolation: iso, client: clients[iso], serverPids: perfectPid ? [perfectPid] : [], tenTasks });
        runners.bare = await pythonThroughput([bareBase], { workers, maxConcurrentRuns: concurrency, isolation: iso, client: clients[iso], serverPids: barePid ? [barePid] : [], tenTasks });
        log(`throughput ${tenTasks ? "ten-task" : "one-task"} ${iso}: ${throughputTrials} alternated trials × ${runs} runs`);
        ({ rates, checks, cpu } = await alternateTrials(runners, { trials: throughputTrials, jobs: runs, warmupJobs: 50 }));
      } finally {
        for (const r of Object.values(runners)) await r.stop();
      }
      const unit = tenTasks ? "task runs/s" : "runs/s";
      const cores = (k) => `${k}: server ${cpu[k].servers.join(" + ") || "?"}, workers ${cpu[k].workers.join(" + ")}`;
      const f = ratioFigure({
        versus: BARE,
        what: `throughput, Perfect (embedded SQLite) against the bare baseline: ${tenTasks ? "runs of ten empty tasks, task runs/s" : "one-task runs/s"}, ${workers} Python worker processes each${iso === "process" ? "" : ', isolation="thread"'}`,
        ratios: rates.perfect.map((x, i) => x / rates.bare[i]),
        min: 0.5,
        subject: rates.perfect,
        baseline: rates.bare,
        unit,
        note: `Perfect's rate / bare's per alternated trial; ${throughputTrials} trials × ${runs} runs each (after a warm-up), 8 triggers in flight, max_concurrent_runs ${concurrency}, isolation="${iso}"; until none is PENDING or RUNNING (checked every 20 ms). Exactly once: Perfect ${checks.perfect.exactlyOnce ? "yes" : "NO"}, bare ${checks.bare.exactlyOnce ? "yes" : "NO"}. Cores busy during the trials — ${cores("perfect")}; ${cores("bare")}. ${BARE_DOES}.`,
      });
      figures.push(iso === "process" ? f : info(f));
      details[`throughput-${tenTasks ? "ten" : "one"}-${iso}`] = { perfect: summarize(rates.perfect), bare: summarize(rates.bare), checks, cpu };
    }
  }
  return { figures, details };
}

export async function main(args = {}) {
  const dispatchTrials = args.dispatchTrials ?? 100;
  const runs = args.runs ?? 300;
  const throughputTrials = args.throughputTrials ?? 3;
  const log = (m) => console.error(`[bare-compare] ${m}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-bare-"));
  const load0 = loadAverage();
  const loadAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  const server = await startServer({ clients: [BENCH_CLIENT, BENCH_CLIENT_2] });
  const bare = await spawnBare(path.join(dir, "bare.db"));
  try {
    const { figures, details } = await compareBare({ perfectBase: server.url, perfectPid: server.pid, bareBase: bare.base, barePid: bare.pid, dispatchTrials, runs, throughputTrials, log });
    const header = { id: "bare-compare", loadAtStart, title: "Perfect (embedded SQLite) against the same-protocol bare baseline", script: "bare-compare.mjs", args: `--dispatch-trials ${dispatchTrials} --runs ${runs} --throughput-trials ${throughputTrials}` };
    return benchResult(header, {
      figures,
      context: [
        `Setup: one \`next start\` on its SQLite file, and bench/lib/bare-server.mjs (node:http + better-sqlite3, drizzle migrations, the server's pragmas) in a process of its own, each with its own Python workers (the real SDK, bench/py/bench_worker.py). Trials alternate system by system. Load average at the start ${load0}, at the end ${loadAverage()}.`,
      ],
      details,
    });
  } finally {
    await bare.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runCli(import.meta.url, main);
