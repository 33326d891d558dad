/**
 * Perfect's side of the side-by-side benchmarks (bench/pg.mjs, bench/peers-pg.mjs,
 * bench/peers-redis.mjs), built so one trial of Perfect and one trial of a peer can alternate in
 * the same process, on the same machine, in the same minute:
 *
 *  - pollDispatcher: idle long polls parked on one instance; fire() triggers through another
 *    (or the same) instance and resolves the time until one poll was answered with the run;
 *  - pythonDispatcher: one idle Python worker (bench/py/bench_worker.py); fire() triggers the
 *    one-task flow and resolves the time until its task body started (CLOCK_MONOTONIC both sides);
 *  - pythonThroughput: Python worker processes spread over the instances; trial(runs) triggers
 *    `runs` one-task runs (8 in flight, round-robin over the instances) and resolves the runs per
 *    second until none is PENDING or RUNNING, checking each ran exactly once.
 */
import { cpuTree } from "../../test/support/launcher.mjs";
import { BENCH_CLIENT } from "./server.mjs";
import { apiClient, closedLoop } from "./http.mjs";
import { nowMs, sleep } from "./stats.mjs";
import { startPollers } from "../dispatch.mjs";
import { flowIdOf, startPythonWorker } from "./python-worker.mjs";

export const ONE_TASK_FLOW = "Bench E2E Dispatch";
/** bench/py/bench_worker.py's ten-task flow: each task body prints "TASK <token> <i>". */
export const TEN_TASK_FLOW = "Bench Ten Tasks";

/**
 * A second client for a second set of Python workers on the same server (e.g. another
 * isolation mode, alternated with the first): runs are claimed per client, so neither set can
 * take the other's runs.
 */
export const BENCH_CLIENT_2 = { id: "bench2", name: "Bench Client 2", performanceSensitivity: "normal", token: "bench2-token" };


/** Waits for `promise`, failing after `ms` with `what`. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * `pollers` registered workers long-polling `pollBase` (bench/dispatch.mjs's startPollers);
 * fire() triggers through `triggerBase`. Checks that no run is handed out twice.
 */
export async function pollDispatcher(pollBase, { triggerBase = pollBase, pollers = 100, waitMs = 25_000 } = {}) {
  const { id: clientId, token } = BENCH_CLIENT;
  const polling = await startPollers(pollBase, { clientId, token, pollers, waitMs });
  const trig = apiClient(triggerBase, { clientId, token });
  let fired = 0;
  return {
    async fire() {
      fired++;
      const t0 = nowMs();
      const run = await trig.trigger(polling.flow.id);
      return (await polling.answeredAt(run.id)) - t0;
    },
    check: () => ({ fired, dispatched: polling.dispatched, exactlyOnce: polling.dispatched === fired }),
    async stop() {
      await polling.stop();
      trig.agent.destroy();
    },
  };
}

/** One idle Python worker on `base`; fire() = trigger → the task body's first line. */
export async function pythonDispatcher(base, { isolation = "process", client = BENCH_CLIENT } = {}) {
  const starts = new Map();
  const waiters = new Map();
  const worker = await startPythonWorker(base, {
    isolation,
    clientId: client.id,
    token: client.token,
    onLine: (line) => {
      const m = /^START (\S+) (\d+)$/.exec(line);
      if (!m) return;
      const at = Number(BigInt(m[2])) / 1e6;
      starts.set(m[1], at);
      waiters.get(m[1])?.(at);
    },
  });
  const api = apiClient(base);
  const flowId = await flowIdOf(api, ONE_TASK_FLOW, client.id);
  await sleep(300); // the worker's first long poll is parked
  let n = 0;
  return {
    async fire() {
      const token = `d${n++}`;
      const started = within(new Promise((r) => waiters.set(token, r)), 10_000, `run ${token} did not start within 10 s\n${worker.stderr()}`);
      const t0 = nowMs();
      await api.trigger(flowId, { token });
      const at = starts.get(token) ?? (await started);
      waiters.delete(token);
      return at - t0;
    },
    async stop() {
      await worker.stop();
      api.agent.destroy();
    },
  };
}

/**
 * `workers` Python worker processes, worker k on bases[k % bases.length], `maxConcurrentRuns`
 * each; trial(runs) → runs/s of the one-task flow, or with `tenTasks` task runs/s of the ten-task flow.
 */
export async function pythonThroughput(bases, { workers = 2, maxConcurrentRuns = 4, isolation = "process", client = BENCH_CLIENT, triggerConcurrency = 8, serverPids = [], tenTasks = false } = {}) {
  // One-task runs (the flow's task prints START) or ten-task runs (each task prints TASK <i>):
  // a token counts once per task body, so `seen` holds task bodies per token.
  const seen = new Map();
  const perRun = tenTasks ? 10 : 1;
  const onLine = (line) => {
    const m = tenTasks ? /^TASK (\S+) (\d+)$/.exec(line) : /^START (\S+) (\d+)$/.exec(line);
    if (m) seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  };
  const procs = [];
  for (let w = 0; w < workers; w++) procs.push(await startPythonWorker(bases[w % bases.length], { maxConcurrentRuns, isolation, clientId: client.id, token: client.token, onLine }));
  const apis = bases.map((b) => apiClient(b));
  const flowId = await flowIdOf(apis[0], tenTasks ? TEN_TASK_FLOW : ONE_TASK_FLOW, client.id);
  await sleep(300);
  let trialNo = 0;
  let tokens = 0;
  // CPU seconds per process during the trials (Linux /proc; with their descendants: the
  // server's `next-server` child, a worker's run processes): shows which side limits the rate.
  const cpu = { wallSeconds: 0, servers: serverPids.map(() => 0), workers: procs.map(() => 0), loadgen: 0 };
  const sampleCpu = () => ({ servers: serverPids.map(cpuTree), workers: procs.map((p) => cpuTree(p.child.pid)), loadgen: process.cpuUsage() });
  return {
    async trial(runs) {
      const tn = trialNo++;
      // Fresh connections per trial: a keep-alive socket left idle through the other systems'
      // trials may be closed by the server just as it is reused (ECONNRESET on a trigger).
      for (const a of apis) a.agent.destroy();
      apis.splice(0, apis.length, ...bases.map((b) => apiClient(b)));
      const c0 = sampleCpu();
      const t0 = nowMs();
      const trig = await closedLoop({
        concurrency: triggerConcurrency,
        count: runs,
        maxMs: 120_000,
        send: (i) => apis[i % apis.length].raw("POST", `/api/flows/${flowId}/runs`, { body: { parameters: { token: `t${tn}_${i}` } } }),
      });
      if (trig.failed) throw new Error(`${trig.failed} triggers failed`);
      tokens += runs;
      let last = 0;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const open = await apis[0].get(`/api/runs?flowId=${flowId}&state=PENDING&state=RUNNING&limit=1`);
        last = nowMs();
        if (!open.runs.length) break;
        if (Date.now() > deadline) throw new Error("runs did not finish within 120 s");
        await sleep(20);
      }
      const c1 = sampleCpu();
      cpu.wallSeconds += (last - t0) / 1000;
      c1.servers.forEach((x, k) => (cpu.servers[k] += x - c0.servers[k]));
      c1.workers.forEach((x, k) => (cpu.workers[k] += x - c0.workers[k]));
      const lg = process.cpuUsage(c0.loadgen);
      cpu.loadgen += (lg.user + lg.system) / 1e6;
      return ((runs * perRun) / (last - t0)) * 1000;
    },
    /** Cores busy per process over all trials (CPU seconds / wall seconds). */
    cpuShare() {
      const share = (x) => Math.round((x / cpu.wallSeconds) * 100) / 100;
      return { servers: cpu.servers.map(share), workers: cpu.workers.map(share), loadgen: share(cpu.loadgen) };
    },
    check() {
      const ran = [...seen].filter(([tok]) => tok.startsWith("t"));
      const duplicates = ran.reduce((s, [, n]) => s + Math.max(n - perRun, 0), 0);
      // A run that never started, or one whose tasks did not all run, is missing.
      const missing = tokens - ran.length + ran.filter(([, n]) => n < perRun).length;
      return { runs: tokens, duplicates, missing, exactlyOnce: duplicates === 0 && missing === 0 };
    },
    async stop() {
      for (const p of procs) await p.stop();
      for (const a of apis) a.agent.destroy();
    },
  };
}

/**
 * Alternates the dispatchers' fire() one trial each, `warmup` + `trials` rounds, `gapMs` between
 * fires: every system measured in the same minutes. Returns { name: [ms, …] }.
 */
export async function alternate(systems, { trials, warmup = 10, gapMs = 30 }) {
  const out = Object.fromEntries(Object.keys(systems).map((k) => [k, []]));
  for (let i = 0; i < warmup + trials; i++) {
    for (const [name, s] of Object.entries(systems)) {
      const v = await s();
      if (i >= warmup) out[name].push(v);
      await sleep(gapMs);
    }
  }
  return out;
}
