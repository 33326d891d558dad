/**
 * Perfect against peer job queues, side by side (issue 21's method, used by bench/peers-pg.mjs
 * and bench/peers-redis.mjs):
 *
 *  - pickup latency: one idle worker each (Perfect: one Python worker long-polling; a peer: one
 *    worker process, concurrency 1), trials alternated system by system; ratio per trial =
 *    peer's latency / Perfect's (≥ 0.5 = within 2× of the peer);
 *  - throughput: the same number of worker processes each (2), 4 jobs at a time per process;
 *    Perfect runs one-task flows, a peer empty jobs; 8 enqueues in flight, one job each; trials
 *    alternated; ratio per trial = Perfect's rate / the peer's (goal ≥ 0.5).
 */
import { commandOf, ratioFigure, unavailableFigure } from "./figures.mjs";
import { BENCH_CLIENT } from "./server.mjs";
import { BENCH_CLIENT_2, alternate, pythonDispatcher, pythonThroughput } from "./perfect.mjs";
import { peerDispatcher, peerThroughput } from "./peers.mjs";
import { sleep, summarize } from "./stats.mjs";

export const STORES_MORE =
  "Perfect also stores what the peer does not: every run's history with parameters and tags, task runs, logs, and the duration statistics behind outlier detection, and publishes each change to the dashboard";

/** ratioFigure's subject/baseline p99 is the low tail (for rates); a latency's is the high one. */
function latencyRatio(args) {
  const f = ratioFigure(args);
  f.subject.p99 = Math.round(summarize(args.subject).p99 * 1000) / 1000;
  f.baseline.p99 = Math.round(summarize(args.baseline).p99 * 1000) / 1000;
  return f;
}
const info = (f) => ({ ...f, kind: "info", goal: `context (${f.goal.replace(/^≥ /, "judged figure's goal ≥ ")})`, met: null });

/**
 * Perfect is measured twice, alternated with the peers: with the SDK's default isolation
 * ("process": every run in a process of its own, from a fork server with warm spares) — the
 * judged figures — and with isolation="thread" (the run in a thread of the worker, as the peers'
 * handlers run in theirs) as context.
 */
/** Rows for peers that could not be opened: `{ kind, reason }` each, both metrics. */
export function unavailablePeers(mode, unavailable) {
  return unavailable.flatMap((u) => [
    unavailableFigure({ what: `pickup latency, Perfect (${mode}) against ${u.kind}`, versus: u.kind, reason: u.reason }),
    unavailableFigure({ what: `throughput, Perfect (${mode}) one-task runs/s against ${u.kind} empty jobs/s`, versus: u.kind, reason: u.reason }),
  ]);
}

/** Opens each peer of `kinds` with openPeer(kind, target); one that fails is listed with its reason. */
export async function openPeers(openPeer, kinds, target, setups = {}) {
  const peers = [];
  const unavailable = [];
  for (const kind of kinds) {
    try {
      const p = await openPeer(kind, target);
      if (setups[kind]) p.setup = setups[kind];
      peers.push(p);
    } catch (e) {
      console.error(`[bench] ${kind} cannot be used: ${e?.message ?? e}`);
      unavailable.push({ kind, reason: String(e?.message ?? e).split("\n")[0].slice(0, 300) });
    }
  }
  return { peers, unavailable };
}

/**
 * Throughput trials of several systems, alternated system by system so drift on the machine hits
 * them alike: one warm-up round of `warmupJobs` (not counted), then `trials` rounds of `jobs`
 * each. Every runner has `trial(n) → rate`, `check()` and optionally `cpuShare()`.
 */
export async function alternateTrials(runners, { trials, jobs, warmupJobs }) {
  const rates = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
  for (let t = 0; t < trials + 1; t++) {
    for (const [k, r] of Object.entries(runners)) {
      const rate = await r.trial(t === 0 ? Math.min(jobs, warmupJobs) : jobs);
      if (t > 0) rates[k].push(rate);
      await sleep(300);
    }
  }
  const checks = {};
  const cpu = {};
  for (const [k, r] of Object.entries(runners)) {
    checks[k] = r.check();
    if (r.cpuShare) cpu[k] = r.cpuShare();
  }
  return { rates, checks, cpu };
}

/** A bench script's result: its header (id, load at its start, title, the command to rerun it) and what it measured. */
export function benchResult({ id, loadAtStart, title, script, args }, { figures, context, details }) {
  return { id, loadAtStart, title, command: commandOf(script, args), figures, context, details };
}

export async function comparePeers({ perfectBase, perfectPid, mode, peers, unavailable = [], dispatchTrials, jobs, throughputTrials, workers = 2, concurrency = 4 }) {
  const figures = unavailablePeers(mode, unavailable);
  const details = {};
  if (!peers.length) return { figures, details };
  const PERFECTS = [["perfect", "process", BENCH_CLIENT], ["perfect-thread", "thread", BENCH_CLIENT_2]];
  // Latency.
  const dispatchers = {};
  let lat;
  try {
    for (const [k, isolation, client] of PERFECTS) dispatchers[k] = await pythonDispatcher(perfectBase, { isolation, client });
    for (const p of peers) dispatchers[p.kind] = await peerDispatcher(p);
    lat = await alternate(Object.fromEntries(Object.entries(dispatchers).map(([k, v]) => [k, v.fire])), { trials: dispatchTrials, warmup: 10, gapMs: 30 });
  } finally {
    for (const d of Object.values(dispatchers)) await d.stop();
  }
  // Throughput.
  const runners = {};
  let rates, checks, cpu;
  try {
    for (const [k, isolation, client] of PERFECTS) runners[k] = await pythonThroughput([perfectBase], { workers, maxConcurrentRuns: concurrency, isolation, client, serverPids: perfectPid ? [perfectPid] : [] });
    for (const p of peers) runners[p.kind] = await peerThroughput(p, { workers, concurrency });
    ({ rates, checks, cpu } = await alternateTrials(runners, { trials: throughputTrials, jobs, warmupJobs: 100 }));
  } finally {
    for (const r of Object.values(runners)) await r.stop();
  }
  const cpuNote = (k) => (cpu[k] ? ` Cores busy during Perfect's trials: server ${cpu[k].servers.join(" + ") || "?"}, workers ${cpu[k].workers.join(" + ")}, load generator ${cpu[k].loadgen}.` : "");
  for (const p of peers) {
    const name = `${p.kind} ${p.version ?? ""}`.trim();
    const setup = `${p.kind}: one worker process (concurrency 1)${p.setup ? `, ${p.setup}` : ""}`;
    for (const [k, isolation] of PERFECTS) {
      const judged = k === "perfect";
      const tag = judged ? "" : ", Perfect with isolation=\"thread\"";
      const lf = latencyRatio({
        versus: name,
        what: `pickup latency, Perfect (${mode}) against ${name}${tag}: trigger → task body starts / enqueue → handler starts, one idle worker`,
        ratios: lat[k].map((x, i) => lat[p.kind][i] / x),
        min: 0.5,
        subject: lat[k],
        baseline: lat[p.kind],
        unit: "ms",
        note: `${p.kind}'s latency / Perfect's per alternated trial (≥ 0.5 = within 2× of the peer); ${dispatchTrials} trials each after 10 warm-ups, one at a time; Perfect: one Python worker long-polling (isolation="${isolation}"${judged ? ", the SDK's default: the run goes to a process of its own" : ""}), trigger by POST /api/flows/{id}/runs; ${setup}. ${STORES_MORE}`,
      });
      const tf = ratioFigure({
        versus: name,
        what: `throughput, Perfect (${mode}) one-task runs/s against ${name} empty jobs/s, ${workers} worker processes each${tag}`,
        ratios: rates[k].map((x, i) => x / rates[p.kind][i]),
        min: 0.5,
        subject: rates[k],
        baseline: rates[p.kind],
        unit: "jobs/s",
        note: `Perfect's rate / ${p.kind}'s per alternated trial; ${throughputTrials} trials × ${jobs} jobs each (after a warm-up), 8 enqueues in flight one job each, ${concurrency} jobs at a time per worker process (Perfect: max_concurrent_runs ${concurrency}, isolation="${isolation}"); until none is waiting or running (checked every 20 ms). Exactly once: Perfect ${checks[k].exactlyOnce ? "yes" : "NO"}, ${p.kind} ${checks[p.kind].exactlyOnce ? "yes" : "NO"}.${cpuNote(k)} ${STORES_MORE}`,
      });
      figures.push(judged ? lf : info(lf), judged ? tf : info(tf));
    }
  }
  for (const k of Object.keys(lat)) details[k] = { latency: summarize(lat[k]), throughput: summarize(rates[k]), check: checks[k], cpu: cpu[k] };
  return { figures, details };
}
