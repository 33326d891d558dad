#!/usr/bin/env node
/**
 * End to end with the real Python SDK (bench/py/bench_worker.py):
 *
 *  1. dispatch: trigger → the first task body starts in the Python worker (one worker, idle,
 *     long-polling); both sides read CLOCK_MONOTONIC (process.hrtime / time.monotonic_ns);
 *  2. throughput: two Python workers, runs of a 10-task flow triggered in bulk (8 triggers in
 *     flight); task runs per second from the first trigger until every run finished, and a
 *     check that every run and task executed exactly once;
 *  3. SDK overhead per empty task inside a served run (sdk-python/bench_overhead.py).
 *
 *   node bench/e2e.mjs [--dispatch-trials 200] [--runs 500] [--throughput-trials 5]
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT, cpuSeconds, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, rateFigure, runCli } from "./lib/figures.mjs";
import { apiClient, closedLoop } from "./lib/http.mjs";
import { flowIdOf, startPythonWorker } from "./lib/python-worker.mjs";
import { sleep, summarize } from "./lib/stats.mjs";

const OVERHEAD = path.join(ROOT, "sdk-python", "bench_overhead.py");
const monoMs = () => Number(process.hrtime.bigint()) / 1e6;



/** Trigger → first task body, one run at a time, against one idle Python worker. */
export async function measureDispatchE2E(base, { trials = 200, warmup = 10, gapMs = 50 } = {}) {
  const starts = new Map();
  const waiters = new Map();
  const worker = await startPythonWorker(base, {
    onLine: (line) => {
      const m = /^START (\S+) (\d+)$/.exec(line);
      if (!m) return;
      const at = Number(BigInt(m[2])) / 1e6;
      starts.set(m[1], at);
      waiters.get(m[1])?.(at);
    },
  });
  const api = apiClient(base);
  try {
    const flowId = await flowIdOf(api, "Bench E2E Dispatch");
    await sleep(300); // the worker's first long poll is parked
    const latencies = [];
    for (let i = 0; i < warmup + trials; i++) {
      const token = `d${i}`;
      const started = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`run ${token} did not start within 10 s\n${worker.stderr()}`)), 10_000);
        waiters.set(token, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      const t0 = monoMs();
      await api.trigger(flowId, { token });
      const at = starts.get(token) ?? (await started);
      waiters.delete(token);
      if (i >= warmup) latencies.push(at - t0);
      await sleep(gapMs);
    }
    return { latencies, runs: starts.size };
  } finally {
    await worker.stop();
    api.agent.destroy();
  }
}

/**
 * Two workers, `runs` runs of the 10-task flow triggered in bulk, per trial. Returns task runs
 * per second per trial and the exactly-once check over every trial.
 */
export async function measureThroughput(base, { runs = 500, trials = 5, workers = 2, maxConcurrentRuns = 4, triggerConcurrency = 8, serverPid } = {}) {
  const seen = new Map(); // token → Map(task index → count)
  const onLine = (line) => {
    const m = /^TASK (\S+) (\d+)$/.exec(line);
    if (!m) return;
    let t = seen.get(m[1]);
    if (!t) seen.set(m[1], (t = new Map()));
    t.set(m[2], (t.get(m[2]) ?? 0) + 1);
  };
  const procs = [];
  for (let w = 0; w < workers; w++) procs.push(await startPythonWorker(base, { maxConcurrentRuns, onLine }));
  const api = apiClient(base);
  const rates = [];
  const runIds = [];
  // CPU used per process during the trials: shows which side limits the rate.
  const cpu = { wallSeconds: 0, server: 0, workers: procs.map(() => 0), loadgen: 0 };
  try {
    const flowId = await flowIdOf(api, "Bench Ten Tasks");
    await sleep(300);
    for (let trial = 0; trial < trials; trial++) {
      const cpu0 = { server: serverPid ? cpuSeconds(serverPid) : NaN, workers: procs.map((p) => cpuSeconds(p.child.pid)), loadgen: process.cpuUsage() };
      const t0 = monoMs();
      const trig = await closedLoop({
        concurrency: triggerConcurrency,
        count: runs,
        maxMs: 120_000,
        send: async (i) => {
          const r = await api.raw("POST", `/api/flows/${flowId}/runs`, { body: { parameters: { token: `t${trial}_${i}` } } });
          if (r.status === 201) runIds.push(r.body.id);
          return r;
        },
      });
      if (trig.failed) throw new Error(`${trig.failed} triggers failed`);
      // Done when none of the flow's runs is PENDING or RUNNING any more (checked every 20 ms;
      // an SSE subscriber would cost the server a write per change and lower the figure).
      let last = 0;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const open = await api.get(`/api/runs?flowId=${flowId}&state=PENDING&state=RUNNING&limit=1`);
        last = monoMs();
        if (!open.runs.length) break;
        if (Date.now() > deadline) throw new Error("runs did not finish within 120 s");
        await sleep(20);
      }
      rates.push(((runs * 10) / (last - t0)) * 1000);
      cpu.wallSeconds += (last - t0) / 1000;
      cpu.server += serverPid ? cpuSeconds(serverPid) - cpu0.server : NaN;
      procs.forEach((p, k) => (cpu.workers[k] += cpuSeconds(p.child.pid) - cpu0.workers[k]));
      const lg = process.cpuUsage(cpu0.loadgen);
      cpu.loadgen += (lg.user + lg.system) / 1e6;
      await sleep(500);
    }
  } finally {
    for (const p of procs) await p.stop();
  }
  // Exactly once: every token ran each of its ten tasks once; every run is COMPLETED with ten
  // COMPLETED task runs on the server.
  const tokens = trials * runs;
  let duplicates = 0;
  let missing = 0;
  for (let trial = 0; trial < trials; trial++) {
    for (let i = 0; i < runs; i++) {
      const t = seen.get(`t${trial}_${i}`);
      for (let k = 0; k < 10; k++) {
        const n = t?.get(String(k)) ?? 0;
        if (n === 0) missing++;
        if (n > 1) duplicates += n - 1;
      }
    }
  }
  let serverMismatch = 0;
  await closedLoop({
    concurrency: 8,
    count: runIds.length,
    maxMs: 120_000,
    send: async (i) => {
      const r = await api.raw("GET", `/api/runs/${runIds[i]}`);
      const ok = r.status === 200 && r.body.state === "COMPLETED" && r.body.taskRuns.length === 10 && r.body.taskRuns.every((t) => t.state === "COMPLETED");
      if (!ok) serverMismatch++;
      return r;
    },
  });
  api.agent.destroy();
  const share = (x) => Math.round((x / cpu.wallSeconds) * 100) / 100;
  const cpuShare = { server: share(cpu.server), workers: cpu.workers.map(share), loadgen: share(cpu.loadgen) };
  return { rates, tokens, duplicates, missing, serverMismatch, cpuShare, exactlyOnce: duplicates === 0 && missing === 0 && serverMismatch === 0 && seen.size === tokens };
}

/** sdk-python/bench_overhead.py, `trials` times. */
export function measureSdkOverhead({ trials = 5 } = {}) {
  const medians = [];
  const p99s = [];
  for (let i = 0; i < trials; i++) {
    const out = JSON.parse(execFileSync("python3", [OVERHEAD], { cwd: path.dirname(OVERHEAD), encoding: "utf8", timeout: 120_000 }).trim().split("\n").pop());
    medians.push(out.median_ms);
    p99s.push(out.p99_ms);
  }
  return { medians, p99s };
}

export async function main(args = {}) {
  const dispatchTrials = args.dispatchTrials ?? 200;
  const runs = args.runs ?? 500;
  const throughputTrials = args.throughputTrials ?? 5;
  const server = await startServer({});
  try {
    const d = await measureDispatchE2E(server.url, { trials: dispatchTrials });
    const t = await measureThroughput(server.url, { runs, trials: throughputTrials, serverPid: server.pid });
    const o = fs.existsSync(OVERHEAD) ? measureSdkOverhead({ trials: 5 }) : null;
    const figures = [
      latencyFigure({
        what: "dispatch end to end: trigger → first task body starts in the Python worker",
        samples: d.latencies,
        goal: { median: 20, p99: 50 },
        note: "one idle Python worker long-polling; from sending POST /api/flows/{id}/runs to the task body's first line (both clocks CLOCK_MONOTONIC)",
      }),
      rateFigure({
        what: "end to end: two Python workers running 10-task flows, triggered in bulk",
        rates: t.rates,
        min: 1000,
        unit: "task runs/s",
        extraMet: t.exactlyOnce,
        note: `${throughputTrials} trials × ${runs} runs (${runs * 10} task runs each), 8 triggers in flight, max_concurrent_runs 4 per worker; from the first trigger until none of the runs is PENDING or RUNNING (checked every 20 ms); CPU cores busy: server ${t.cpuShare.server}, workers ${t.cpuShare.workers.join(" + ")}, load generator ${t.cpuShare.loadgen}. Exactly once: ${t.exactlyOnce ? "yes" : "NO"} (${t.tokens} runs, ${t.duplicates} duplicate and ${t.missing} missing task executions, ${t.serverMismatch} runs not COMPLETED with 10 COMPLETED task runs)`,
      }),
    ];
    if (o) {
      figures.push({
        ...latencyFigure({ what: "SDK overhead per empty task inside a served run", samples: o.medians, goal: { median: 1, p99: Infinity } }),
        goal: "median ≤ 1 ms",
        p99: Math.max(...o.p99s),
        met: summarize(o.medians).median <= 1,
        note: "sdk-python/bench_overhead.py (1,000 empty tasks in a served run, in-process transport), 5 runs: median of the per-run medians; p99 column is the worst per-run p99",
      });
    }
    return {
      id: "e2e",
      title: "End to end with the Python SDK",
      command: commandOf("e2e.mjs", `--dispatch-trials ${dispatchTrials} --runs ${runs} --throughput-trials ${throughputTrials}`),
      figures,
      details: { dispatch: summarize(d.latencies), throughput: { ...t, rates: summarize(t.rates) }, sdkOverhead: o, serverRssMb: Math.round(server.rss().rss) },
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
