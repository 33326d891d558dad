#!/usr/bin/env node
/**
 * Dispatch, server side: with N idle workers holding long polls, how long from sending a trigger
 * (POST /api/flows/{id}/runs) until one waiting poll is answered with that run.
 *
 *   node bench/dispatch.mjs [--pollers 1000] [--trials 300]
 *
 * Each poller is its own registered worker with its own keep-alive connection; a woken poller
 * polls again at once, so N stay waiting. Triggers go one at a time, spaced by a short gap.
 */
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient, makeAgent } from "./lib/http.mjs";
import { nowMs, sleep, summarize } from "./lib/stats.mjs";

export const DISPATCH_FLOW = {
  name: "Bench Dispatch",
  description: "one short task",
  tags: { team: "bench" },
  tasks: [{ name: "noop", estimatedTime: 10 }],
  parameters: [],
};

/** Registers `n` workers serving `flows` (a run is claimed only by a worker that registered its flow), `concurrency` at a time. */
export async function registerWorkers(api, n, concurrency = 25, flows = [DISPATCH_FLOW]) {
  const ids = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        ids[i] = (await api.register(flows, { hostname: `bench-poller-${i}`, pid: i })).workerId;
      }
    }),
  );
  return ids;
}

/**
 * `pollers` registered workers, each long-polling `base` on its own keep-alive connection; a
 * woken poller polls again at once, so all of them stay waiting. Resolves once every poll is
 * parked in the server's waiter set. answeredAt(runId) is when a poll was answered with that run
 * (waiting up to 10 s for it); a run handed out twice throws.
 */
export async function startPollers(base, { clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token, pollers = 1000, waitMs = 25_000, settleMs } = {}) {
  const pollAgent = makeAgent(pollers + 10);
  const polls = apiClient(base, { agent: pollAgent, clientId, token });
  const api = apiClient(base, { clientId, token });
  const [flow] = (await api.register([DISPATCH_FLOW])).flows;
  const workers = await registerWorkers(api, pollers);

  const answered = new Map(); // runId → { at, workerId }
  const waiting = new Map(); // runId → resolve
  let stopping = false;
  let inFlight = 0;
  let errors = 0;
  const loop = async (workerId) => {
    while (!stopping) {
      inFlight++;
      let body;
      try {
        body = await polls.poll(workerId, 1, waitMs);
      } catch (e) {
        if (!stopping && errors++ < 3) console.error(`[dispatch] poll failed: ${e.message}`);
        if (!stopping) await sleep(100);
        continue;
      } finally {
        inFlight--;
      }
      const at = nowMs();
      for (const r of body.runs) {
        if (answered.has(r.id)) throw new Error(`run ${r.id} was handed out twice`);
        answered.set(r.id, { at, workerId });
        waiting.get(r.id)?.(at);
      }
    }
  };
  const loops = workers.map((w) => loop(w));
  // Every poll must be parked in the server's waiter set before the first trigger.
  while (inFlight < pollers) await sleep(20);
  await sleep(settleMs ?? Math.max(500, pollers * 2));
  return {
    flow,
    /** Registers and triggers through `base` (its own connection). */
    api,
    get dispatched() {
      return answered.size;
    },
    async answeredAt(runId) {
      const at =
        answered.get(runId)?.at ??
        (await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`run ${runId} was not dispatched within 10 s`)), 10_000);
          waiting.set(runId, (a) => {
            clearTimeout(timer);
            resolve(a);
          });
        }));
      waiting.delete(runId);
      return at;
    },
    async stop() {
      stopping = true;
      pollAgent.destroy();
      await Promise.allSettled(loops);
      api.agent.destroy();
    },
  };
}

/**
 * The core: returns per-trial latencies (trigger sent → poll answered) and checks that every run
 * went to exactly one poll answer.
 */
export async function measureDispatch(base, { clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token, pollers = 1000, trials = 300, warmup = 20, gapMs = 15, waitMs = 25_000, settleMs } = {}) {
  const polling = await startPollers(base, { clientId, token, pollers, waitMs, settleMs });
  const latencies = [];
  const triggerMs = [];
  for (let i = 0; i < warmup + trials; i++) {
    const t0 = nowMs();
    const run = await polling.api.trigger(polling.flow.id);
    const t1 = nowMs();
    const at = await polling.answeredAt(run.id);
    if (i >= warmup) {
      latencies.push(at - t0);
      triggerMs.push(t1 - t0);
    }
    await sleep(gapMs);
  }
  await polling.stop();
  const triggered = warmup + trials;
  return {
    pollers,
    triggered,
    dispatched: polling.dispatched,
    exactlyOnce: polling.dispatched === triggered,
    latencies,
    triggerResponse: summarize(triggerMs),
  };
}

export async function main(args = {}) {
  const pollers = args.pollers ?? 1000;
  const trials = args.trials ?? 300;
  const server = await startServer({ env: args.env });
  try {
    const r = await measureDispatch(server.url, { pollers, trials });
    const rss = server.rss();
    return {
      id: "dispatch-server",
      title: "Dispatch, server side",
      command: commandOf("dispatch.mjs", `--pollers ${pollers} --trials ${trials}`),
      figures: [
        latencyFigure({
          what: `dispatch, server side: trigger → a waiting worker's long poll answered, ${pollers.toLocaleString("en-US")} idle pollers`,
          samples: r.latencies,
          goal: { median: 5, p99: 25 },
          note: `measured by the load generator: from sending POST /api/flows/{id}/runs to receiving the poll answer; the trigger's own answer took p50 ${r.triggerResponse.median.toFixed(2)} ms; ${r.dispatched}/${r.triggered} runs dispatched exactly once`,
        }),
      ],
      details: { ...r, latencies: summarize(r.latencies), serverRssMb: Math.round(rss.rss) },
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
