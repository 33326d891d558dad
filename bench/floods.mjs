#!/usr/bin/env node
/**
 * Floods: another client's dispatch (trigger → its waiting poll answered) with and without each
 * flood, side by side in one run against one server with the default limits, plus the server's
 * RSS during each. Goal: within 2× of the quiet figure (p50 and p99).
 *
 *   node bench/floods.mjs [--trials 100] [--seconds-cap 60]
 *
 * Floods come from 127.0.0.2 (loopback; the server listens on 127.0.0.1), the measured client
 * from 127.0.0.1, so per-address budgets can tell them apart. Every flood is bounded: it runs
 * only while its phase measures, with a fixed number of lanes.
 *   wrong-token heartbeats  16 lanes, each a closed loop of POST …/heartbeat with a wrong token
 *   2,000 polls             bursts of 2,000 polls of one worker at once (over 500 sockets), again and again
 *   500 idle SSE readers    500 /api/events requests that never read, re-opened when refused (1/s)
 *   anonymous triggers      16 lanes of POST /api/flows/{id}/runs, no credentials at all
 */
import http from "node:http";
import { startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient, request } from "./lib/http.mjs";
import { sleep, summarize } from "./lib/stats.mjs";
import { measureDispatch } from "./dispatch.mjs";

const QUIET = { id: "quiet", name: "Quiet client", performanceSensitivity: "normal", token: "quiet-token" };
const NOISY = { id: "noisy", name: "Noisy client", performanceSensitivity: "normal", token: "noisy-token" };
const FLOOD_FROM = "127.0.0.2";
const NOISY_FLOW = { name: "Noisy flow", tags: {}, tasks: [{ name: "t", estimatedTime: 10 }], parameters: [] };

function floodAgent(maxSockets) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, localAddress: FLOOD_FROM });
}

/** Each flood: start() → a stop() that ends it and returns what its requests were answered. */
const FLOODS = {
  "wrong-token heartbeats": async (base) => {
    const agent = floodAgent(16);
    const statuses = {};
    let on = true;
    const lanes = Array.from({ length: 16 }, async () => {
      while (on) {
        const r = await request(agent, base, "POST", `/api/worker/${NOISY.id}/heartbeat`, { body: { workerId: "x" }, headers: { authorization: "Bearer wrong-guess" } }).catch(() => ({ status: 0 }));
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    });
    return async () => {
      on = false;
      await Promise.all(lanes);
      agent.destroy();
      return statuses;
    };
  },
  "2,000 polls at once": async (base) => {
    const api = apiClient(base, { clientId: NOISY.id, token: NOISY.token });
    const { workerId } = await api.register([]);
    api.agent.destroy();
    const agent = floodAgent(500);
    const statuses = {};
    let on = true;
    const bursts = (async () => {
      while (on) {
        await Promise.all(
          Array.from({ length: 2000 }, () =>
            request(agent, base, "POST", `/api/worker/${NOISY.id}/poll`, { body: { workerId, waitMs: 3000 }, headers: { authorization: `Bearer ${NOISY.token}` } })
              .catch(() => ({ status: 0 }))
              .then((r) => (statuses[r.status] = (statuses[r.status] ?? 0) + 1)),
          ),
        );
      }
    })();
    return async () => {
      on = false;
      await bursts;
      agent.destroy();
      return statuses;
    };
  },
  "500 idle SSE readers": async (base) => {
    const url = new URL(base);
    const statuses = {};
    const open = new Set();
    let on = true;
    const reader = async () => {
      while (on) {
        const status = await new Promise((resolve) => {
          const req = http.request({ host: url.hostname, port: url.port, path: "/api/events", localAddress: FLOOD_FROM, agent: false }, (res) => {
            if (res.statusCode === 200) res.pause(); // never reads
            else res.resume();
            resolve(res.statusCode);
          });
          req.on("error", () => resolve(0));
          req.end();
          open.add(req);
        });
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) return; // held open, unread, until the phase ends
        await sleep(1000); // refused: try again like a browser's EventSource would
      }
    };
    const readers = Array.from({ length: 500 }, reader);
    return async () => {
      on = false;
      for (const r of open) r.destroy();
      await Promise.all(readers);
      return statuses;
    };
  },
  "anonymous triggers": async (base, { noisyFlowId }) => {
    const agent = floodAgent(16);
    const statuses = {};
    let on = true;
    const lanes = Array.from({ length: 16 }, async () => {
      while (on) {
        const r = await request(agent, base, "POST", `/api/flows/${noisyFlowId}/runs`, { body: { parameters: {} } }).catch(() => ({ status: 0 }));
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    });
    return async () => {
      on = false;
      await Promise.all(lanes);
      agent.destroy();
      return statuses;
    };
  },
};

/** Samples the server's RSS every 250 ms while `fn` runs; resolves { result, rssMaxMb }. */
async function sampling(server, fn) {
  let max = server.rss().rss;
  const timer = setInterval(() => (max = Math.max(max, server.rss().rss)), 250);
  try {
    return { result: await fn(), rssMaxMb: Math.round(max) };
  } finally {
    clearInterval(timer);
  }
}

export async function main(args = {}) {
  const trials = Number(args.trials ?? 100);
  const server = await startServer({
    clients: [QUIET, NOISY],
    // The limits under test are the defaults: undo the bench-wide overrides of bench/lib/server.mjs.
    env: {
      PERFECT_POLLS_PER_ADDRESS: "256",
      PERFECT_RATE_POLLS_PER_SEC: "50",
      PERFECT_RATE_POLLS_BURST: "50",
      PERFECT_RATE_MUTATIONS_PER_SEC: "20",
      PERFECT_RATE_MUTATIONS_BURST: "60",
      PERFECT_RATE_REGISTER_PER_SEC: "10",
      PERFECT_RATE_REGISTER_BURST: "200",
      PERFECT_SSE_MAX_PER_ADDRESS: "32",
      PERFECT_SSE_MAX_STREAMS: "256",
      // The measured client triggers from 127.0.0.1 too: its own (well-behaved) rate must not
      // be what is limited, so the quiet client gets an address budget of its own size.
      ...(args.env ?? {}),
    },
  });
  try {
    const noisy = apiClient(server.url, { clientId: NOISY.id, token: NOISY.token });
    const [noisyFlow] = (await noisy.register([NOISY_FLOW])).flows;
    noisy.agent.destroy();
    // The measured client: 4 pollers waiting, one trigger at a time with a 60 ms gap (~15/s,
    // inside the 20/s dashboard budget of its address).
    const dispatch = () => measureDispatch(server.url, { clientId: QUIET.id, token: QUIET.token, pollers: 4, trials, warmup: 10, gapMs: 60, settleMs: 300 });
    const phases = [];
    for (const [name, start] of Object.entries(FLOODS)) {
      const quiet = await sampling(server, dispatch);
      const stop = await start(server.url, { noisyFlowId: noisyFlow.id });
      await sleep(500); // let the flood reach its steady state
      const loud = await sampling(server, dispatch);
      const statuses = await stop();
      await sleep(1000); // let refused sockets and held polls drain before the next quiet phase
      phases.push({ name, quiet: quiet.result.latencies, loud: loud.result.latencies, quietRss: quiet.rssMaxMb, loudRss: loud.rssMaxMb, statuses, exactlyOnce: quiet.result.exactlyOnce && loud.result.exactlyOnce });
      console.error(`[floods] ${name}: quiet p50 ${summarize(quiet.result.latencies).median.toFixed(2)} ms, flood p50 ${summarize(loud.result.latencies).median.toFixed(2)} ms, answers ${JSON.stringify(statuses)}`);
    }
    const figures = [];
    for (const p of phases) {
      const q = summarize(p.quiet);
      const l = summarize(p.loud);
      const r50 = l.median / q.median;
      const r99 = l.p99 / q.p99;
      figures.push(
        latencyFigure({
          what: `another client's dispatch during ${p.name}`,
          samples: p.loud,
          goal: { median: Math.round(2 * q.median * 10) / 10, p99: Math.round(2 * q.p99 * 10) / 10 },
          note: `side by side: quiet p50 ${q.median.toFixed(2)} ms, p99 ${q.p99.toFixed(2)} ms → ${r50.toFixed(2)}× / ${r99.toFixed(2)}×; the flood's requests were answered ${Object.entries(p.statuses).map(([k, v]) => `${v.toLocaleString("en-US")}× ${k}`).join(", ")}; server RSS max ${p.quietRss} MB quiet, ${p.loudRss} MB during the flood${p.exactlyOnce ? "" : "; NOT every run dispatched exactly once"}`,
        }),
      );
    }
    return {
      id: "floods",
      title: "Floods: another client's dispatch with and without each flood",
      command: commandOf("floods.mjs", `--trials ${trials}`),
      figures,
      details: { phases: phases.map((p) => ({ ...p, quiet: summarize(p.quiet), loud: summarize(p.loud) })) },
      context: [
        "Each flood runs from 127.0.0.2 against the default limits (lib/api/limits.ts); the measured client (4 waiting pollers, one trigger at a time) runs from 127.0.0.1. The goal of each row is twice the quiet figure measured just before it in the same run. Refusals are the front door's (lib/api/front-door.ts): 401/429 before Next routes the request.",
      ],
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
