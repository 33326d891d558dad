#!/usr/bin/env node
/**
 * Global concurrency limits (issue 16): how soon a waiting task call gets a slot once it frees.
 *
 * Protocol-level clients (no Python): one worker claims two runs of a one-task flow; a key has a
 * limit of 1. One run holds the slot, the other long-polls POST …/slots (WAITING, parked on the
 * server). A trial is the time from sending the holder's DELETE …/slots/{id} to the waiter's
 * answer HELD; then the roles swap (the old holder asks again and waits). Trials alternate
 * between a SQLite instance and a PostgreSQL instance (a throw-away cluster,
 * test/support/postgres.mjs), in the same minutes. Every answer is checked: a trial whose waiter
 * is not answered HELD, or in which the key ever shows two holders, fails the benchmark.
 *
 *   node bench/concurrency.mjs [--trials 300]
 */
import { startPostgres } from "../test/support/postgres.mjs";
import { commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient, request } from "./lib/http.mjs";
import { alternate } from "./lib/perfect.mjs";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { nowMs, sleep, summarize } from "./lib/stats.mjs";

const KEY = "bench-slot";
const FLOW = { name: "Bench Concurrency", tasks: [{ name: "hold" }] };

/** Two RUNNING runs of one worker on `base`, and a fire() that measures one hand-over. */
async function handOver(base) {
  const { id: clientId, token } = BENCH_CLIENT;
  const api = apiClient(base, { clientId, token });
  const auth = { authorization: `Bearer ${token}` };
  const reg = await api.register([FLOW]);
  const workerId = reg.workerId;
  const flowId = reg.flows[0].id;
  const put = await request(api.agent, base, "PUT", `/api/concurrency-limits/${KEY}`, { body: { limit: 1 } });
  if (put.status !== 200) throw new Error(`PUT limit: HTTP ${put.status}`);
  const runs = [];
  for (let i = 0; i < 2; i++) {
    await api.trigger(flowId);
    const [run] = (await api.poll(workerId, 1, 5000)).runs;
    if (!run) throw new Error("no run claimed");
    runs.push(run.id);
  }
  // The runs stay this worker's: heartbeats list both (the monitor would requeue them otherwise).
  const beat = setInterval(() => {
    request(api.agent, base, "POST", `/api/worker/${clientId}/heartbeat`, { body: { workerId, runIds: runs }, headers: auth }).catch(() => {});
  }, 1000);
  const slot = (runId, call, waitMs) =>
    request(api.agent, base, "POST", `/api/worker/${clientId}/runs/${runId}/slots`, {
      body: { workerId, key: KEY, call, task: "hold", waitMs },
      headers: auth,
      timeoutMs: waitMs + 30_000,
    });
  let call = 0;
  let holder = 0;
  const first = await slot(runs[0], call, 0);
  if (first.body.state !== "HELD") throw new Error(`the first slot was not granted: ${JSON.stringify(first.body)}`);
  let held = first.body.slotId;
  let trials = 0;
  let overHeld = 0;
  return {
    async fire() {
      const waiter = 1 - holder;
      call++;
      const asked = slot(runs[waiter], call, 20_000);
      // Parked: the server lists the waiter in the key's line before the release is sent.
      for (;;) {
        const view = await request(api.agent, base, "GET", `/api/concurrency-limits/${KEY}`);
        if (view.body.holders.length > 1) overHeld++;
        if (view.body.waiting.length === 1) break;
        await sleep(1);
      }
      const t0 = nowMs();
      const del = request(api.agent, base, "DELETE", `/api/worker/${clientId}/runs/${runs[holder]}/slots/${held}`, { headers: auth });
      const answer = await asked;
      const ms = nowMs() - t0;
      if ((await del).status !== 204) throw new Error("release was not answered 204");
      if (answer.status !== 200 || answer.body.state !== "HELD") throw new Error(`the waiter was answered ${answer.status} ${JSON.stringify(answer.body)}`);
      trials++;
      held = answer.body.slotId;
      holder = waiter;
      return ms;
    },
    check: () => ({ trials, overHeld }),
    async stop() {
      clearInterval(beat);
      api.agent.destroy();
    },
  };
}

export async function main(args = {}) {
  const trials = Number(args.trials ?? 300);
  const cluster = await startPostgres();
  const stops = [];
  try {
    const lite = await startServer({});
    stops.push(lite.stop);
    const pg = await startServer({ env: { PERFECT_DATABASE_URL: cluster.url } });
    stops.push(pg.stop);
    console.error(`[concurrency] ${trials} hand-overs of a limit-1 key, alternating SQLite and PostgreSQL …`);
    const liteH = await handOver(lite.url);
    stops.push(liteH.stop);
    const pgH = await handOver(pg.url);
    stops.push(pgH.stop);
    const out = await alternate({ sqlite: liteH.fire, pg: pgH.fire }, { trials, warmup: 10, gapMs: 10 });
    const liteCheck = liteH.check();
    const pgCheck = pgH.check();
    if (liteCheck.overHeld || pgCheck.overHeld) throw new Error(`a limit-1 key showed two holders (sqlite ${liteCheck.overHeld}, pg ${pgCheck.overHeld})`);
    const note = (check) =>
      `protocol-level clients: from sending DELETE /api/worker/{client}/runs/{run}/slots/{id} of the only holder to the answer HELD of the waiter's parked POST …/slots long poll; ${check.trials} hand-overs, each answered HELD, never two holders in the key's view`;
    const figures = [
      latencyFigure({ what: "concurrency slot hand-over on SQLite: holder releases → waiting long poll answered HELD", samples: out.sqlite, goal: { median: 10, p99: 50 }, note: note(liteCheck) }),
      latencyFigure({
        what: "concurrency slot hand-over on PostgreSQL: holder releases → waiting long poll answered HELD",
        samples: out.pg,
        goal: { median: 10, p99: 50 },
        note: `${note(pgCheck)}; the grant runs under pg_advisory_xact_lock on the key, the waiter is woken in-process (and other instances over LISTEN/NOTIFY)`,
      }),
    ];
    return {
      id: "concurrency",
      title: "Global concurrency limits: slot hand-over",
      command: commandOf("concurrency.mjs", `--trials ${trials}`),
      figures,
      context: [
        "Setup: one SQLite `next start` and one `next start` with `PERFECT_DATABASE_URL` on a throw-away PostgreSQL 15 cluster (fsync off, as for tests); the clients are plain HTTP from this process on the same 2-core machine, alternating trial by trial.",
      ],
      details: { sqlite: summarize(out.sqlite), pg: summarize(out.pg) },
    };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    await cluster.stop();
  }
}

runCli(import.meta.url, main);
