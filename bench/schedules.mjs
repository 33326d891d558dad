#!/usr/bin/env node
/**
 * Schedules (issue 15), against the built server and the real Python SDK:
 *
 *  1. fire time → task body: `--schedules` (1,000) active schedules, each every 1,000 s, their
 *     anchors one second apart, so one fires every second; one idle Python worker serves the
 *     flow; for `--fires` fire times, the task body reports its wall clock (time.time_ns), and
 *     the latency is that minus the run's scheduledFor (both CLOCK_REALTIME on this machine).
 *     Half a second after each fire, a trigger of the same flow (POST /api/flows/{id}/runs) is
 *     timed the same way, from the wall clock when it is sent: the baseline at the same cadence,
 *     on the same server and worker, so the scheduler's own share is the difference;
 *  2. idle CPU: a server holding `--idle-schedules` (10,000) schedules whose next fire times
 *     are days away, against the same server with none, side by side: CPU seconds over
 *     `--idle-seconds` each, as a share of one core (Linux /proc).
 *
 *   node bench/schedules.mjs [--schedules 1000] [--fires 60] [--idle-schedules 10000] [--idle-seconds 30]
 */
import { BENCH_CLIENT, cpuSeconds, startServer } from "./lib/server.mjs";
import { ceilingFigure, commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient, closedLoop } from "./lib/http.mjs";
import { sleep, summarize } from "./lib/stats.mjs";
import { flowIdOf, startPythonWorker } from "./lib/python-worker.mjs";


async function createSchedules(api, flowId, bodies) {
  const ids = new Array(bodies.length);
  const r = await closedLoop({
    concurrency: 16,
    count: bodies.length,
    maxMs: 600_000,
    send: async (i) => {
      const res = await api.raw("POST", `/api/flows/${flowId}/schedules`, { body: bodies[i] });
      if (res.status !== 201) throw new Error(`create schedule: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      ids[i] = res.body.id;
      return res;
    },
  });
  if (r.failed) throw new Error(`${r.failed} schedules could not be created`);
  return ids;
}

/** Fire time → first task body, with `count` schedules active and one firing each second. */
export async function measureFireLatency({ schedules = 1000, fires = 60 } = {}) {
  const server = await startServer({});
  const reported = new Map();
  const worker = await startPythonWorker(server.url, {
    onLine: (line) => {
      const m = /^FIRED (\S+) (\d+)$/.exec(line);
      if (m && !reported.has(m[1])) reported.set(m[1], Number(BigInt(m[2]) / 1000n) / 1000);
    },
  });
  const api = apiClient(server.url);
  try {
    const flowId = await flowIdOf(api, "Bench Scheduled");
    // Anchors one second apart from a whole second well after the creations finish.
    const base = Math.ceil(Date.now() / 1000) * 1000 + 3000 + schedules * 20;
    const bodies = Array.from({ length: schedules }, (_, i) => ({
      intervalSeconds: 1000,
      anchor: new Date(base + (i % 1000) * 1000).toISOString(),
      parameters: { token: `s${i}` },
    }));
    const ids = await createSchedules(api, flowId, bodies);
    const n = Math.min(fires, schedules);
    const lastFire = base + (n - 1) * 1000;
    // The baseline: a trigger half-way between two fires, timed from its send (wall clock, sub-ms).
    const wallNow = () => performance.timeOrigin + performance.now();
    const sentAt = new Map();
    for (let i = 0; i < n; i++) {
      const at = base + i * 1000 + 500;
      while (wallNow() < at - 20) await sleep(10);
      const t0 = wallNow();
      const res = await api.raw("POST", `/api/flows/${flowId}/runs`, { body: { parameters: { token: `t${i}` } } });
      if (res.status !== 201) throw new Error(`trigger: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      sentAt.set(`t${i}`, t0);
    }
    while (Date.now() < lastFire + 3000) await sleep(250);
    // Pause them all before reading: nothing fires while the figures are read.
    await closedLoop({ concurrency: 16, count: ids.length, maxMs: 600_000, send: (i) => api.raw("PATCH", `/api/schedules/${ids[i]}`, { body: { active: false } }) });
    const latencies = [];
    let missing = 0;
    for (let i = 0; i < Math.min(fires, schedules); i++) {
      const runs = (await api.get(`/api/runs?scheduleId=${ids[i]}&limit=5`)).runs;
      const at = reported.get(`s${i}`);
      if (runs.length !== 1 || at === undefined) {
        missing++;
        continue;
      }
      latencies.push(at - Date.parse(runs[0].scheduledFor));
    }
    const triggered = [];
    for (const [token, t0] of sentAt) {
      const at = reported.get(token);
      if (at === undefined) missing++;
      else triggered.push(at - t0);
    }
    return { latencies, triggered, missing, serverRssMb: Math.round(server.rss().rss) };
  } finally {
    await worker.stop();
    api.agent.destroy();
    await server.stop();
  }
}

/** CPU share of one core of an idle server: with `count` schedules (days away), and with none. */
export async function measureIdleCpu({ count = 10_000, seconds = 30 } = {}) {
  const shares = { empty: 0, loaded: 0 };
  for (const which of ["empty", "loaded"]) {
    const server = await startServer({});
    const api = apiClient(server.url, { clientId: BENCH_CLIENT.id, token: BENCH_CLIENT.token });
    try {
      // A flow holds at most 1,000 API schedules: spread them over as many flows as needed.
      const flows = Math.max(1, Math.ceil(count / 1000));
      const reg = await api.register(Array.from({ length: flows }, (_, f) => ({ name: `Idle Scheduled ${f}`, tasks: [{ name: "t" }], parameters: [] })));
      if (which === "loaded") {
        const dayMs = 86_400_000;
        const base = Date.now() + 2 * dayMs;
        for (let f = 0; f < flows; f++) {
          const n = Math.min(1000, count - f * 1000);
          await createSchedules(
            api,
            reg.flows[f].id,
            Array.from({ length: n }, (_, i) => ({ intervalSeconds: 30 * 86400, anchor: new Date(base + (f * 1000 + i) * 60_000).toISOString() })),
          );
        }
      }
      await sleep(3000); // settle after the creations
      const c0 = cpuSeconds(server.pid);
      const t0 = Date.now();
      await sleep(seconds * 1000);
      shares[which] = ((cpuSeconds(server.pid) - c0) / ((Date.now() - t0) / 1000)) * 100;
    } finally {
      api.agent.destroy();
      await server.stop();
    }
  }
  return shares;
}

const fmtMs = (ms) => `${Math.round(ms * 10) / 10} ms`;

export async function main(args = {}) {
  const schedules = args.schedules ?? 1000;
  const fires = args.fires ?? 60;
  const idleSchedules = args.idleSchedules ?? 10_000;
  const idleSeconds = args.idleSeconds ?? 30;
  const f = await measureFireLatency({ schedules, fires });
  const idle = await measureIdleCpu({ count: idleSchedules, seconds: idleSeconds });
  return {
    id: "schedules",
    title: "Schedules: on time, and cheap while idle",
    command: commandOf("schedules.mjs", `--schedules ${schedules} --fires ${fires} --idle-schedules ${idleSchedules} --idle-seconds ${idleSeconds}`),
    figures: [
      latencyFigure({
        what: `fire time → task body starts in the Python worker, ${schedules.toLocaleString("en-US")} active schedules`,
        samples: f.latencies,
        goal: { median: 20, p99: 100 },
        note: `one idle Python worker (process per run); one schedule fires each second; ${fires} fire times, ${f.missing} without exactly one run and one task start. Prefect's pickup of a scheduled run waits for a worker poll: up to ~10–15 s`,
      }),
      latencyFigure({
        what: "baseline at the same cadence: trigger → task body starts, half a second after each fire, same server and worker",
        samples: f.triggered,
        goal: { median: 20, p99: 100 },
        note: `the scheduler's own share is the difference to the figure above: median ${fmtMs(summarize(f.latencies).median - summarize(f.triggered).median)}`,
      }),
      ceilingFigure({
        what: `server CPU while idle, holding ${idleSchedules.toLocaleString("en-US")} schedules`,
        samples: [idle.loaded],
        max: 2,
        unit: "% of a core",
        note: `${idleSeconds} s each; the same server with no schedule: ${Math.round(idle.empty * 100) / 100} % (measured in the same run)`,
      }),
    ],
    details: { fire: { ...summarize(f.latencies), missing: f.missing, serverRssMb: f.serverRssMb }, trigger: summarize(f.triggered), idleCpuPercent: idle },
  };
}

runCli(import.meta.url, main);
