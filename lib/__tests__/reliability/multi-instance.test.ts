/**
 * Several server instances on one PostgreSQL database (issue 14), with real Python workers:
 * any instance answers any request, a trigger through one wakes a worker polling another, an
 * SSE stream on either sees every change, and workers fail over when an instance dies.
 * Runs in npm test's "reliability:postgres" step (PERFECT_TEST_BACKEND=postgres).
 */
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { getJson, onlineFlow, trigger } from "../../../test/support/api-client";
import { attachPostgres, createDatabase } from "../../../test/support/postgres.mjs";
import { PythonWorkers } from "../../../test/support/python-worker";
import { ServerProcess } from "../../../test/support/server-process";
import { openStream } from "../../../test/support/sse";
import { until } from "../../../test/support/wait";

const PG_PORT = process.env.PERFECT_TEST_PG_PORT;
/** The run's cluster folder (test/support/pg-global-setup.ts), for the restart test. */
const PG_DIR = process.env.PERFECT_TEST_PG_DIR;
/**
 * Runs in flight when A is killed. Issue 14's full figure is 4 workers and 2,000 runs: this very
 * test with PERFECT_MULTI_KILL_RUNS=2000 (green on the 2-core dev machine in 312 s; see
 * docs/RELIABILITY.md, "Several instances on PostgreSQL"). npm test's reliability:postgres step
 * runs 500 (4 workers, same assertions; 40–50 s there) to stay a few minutes long.
 */
const KILL_RUNS = Number(process.env.PERFECT_MULTI_KILL_RUNS ?? 500);
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "multi-token" };
const servers: ServerProcess[] = [];
const workers = new PythonWorkers(path.join(__dirname, "rel_worker.py"), CLIENT);
const worker = (url: string, env: Record<string, string>) => workers.start(url, env);

/** Two instances sharing one fresh database. */
async function twoInstances(extraEnv: Record<string, string> = {}): Promise<[ServerProcess, ServerProcess] & { database: string }> {
  const name = `perfect_multi_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const env = {
    PERFECT_DATABASE_URL: await createDatabase(PG_PORT!, name),
    PERFECT_HEARTBEAT_TIMEOUT_MS: "3000",
    PERFECT_RATE_MUTATIONS_PER_SEC: "10000",
    PERFECT_RATE_MUTATIONS_BURST: "10000",
    ...extraEnv,
  };
  const a = new ServerProcess({ clients: [CLIENT], env });
  const b = new ServerProcess({ clients: [CLIENT], env });
  servers.push(a, b);
  await a.start();
  await b.start();
  return Object.assign([a, b] as [ServerProcess, ServerProcess], { database: name });
}

/** Process ids of the backends that LISTEN for Perfect in `database` (one per instance). */
async function listenerPids(database: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: `postgres://perfect@127.0.0.1:${PG_PORT}/postgres` });
  await c.connect();
  try {
    const r = await c.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN perfect_runs%' ORDER BY pid`, [database]);
    return r.rows.map((row) => row.pid as number);
  } finally {
    await c.end().catch(() => {});
  }
}

/** The numbers of the "nap step N/M" lines of a run, in stored order. */
async function napSteps(url: string, id: string): Promise<number[]> {
  return ((await getJson(`${url}/api/runs/${id}/logs?limit=5000`)).logs as any[])
    .filter((l) => /^nap step \d+\/\d+$/.test(l.message))
    .map((l) => Number(/step (\d+)/.exec(l.message)![1]));
}

const FINISHED = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

/** Every run of the database, through `url` (all pages). */
async function allRuns(url: string): Promise<any[]> {
  const out: any[] = [];
  let cursor = "";
  for (;;) {
    const page = await getJson(`${url}/api/runs?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    out.push(...page.runs);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

afterEach(() => workers.kill9All());
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    s.cleanup();
  }
});

describe.skipIf(!PG_PORT)("two instances on one PostgreSQL database", () => {
  it("a trigger through B reaches a worker polling A, and an SSE stream on B sees the run to its end", async () => {
    const [a, b] = await twoInstances();
    worker(a.url, { REL_FLOWS: "Alpha", REL_NAME: "A" });
    const alpha = await onlineFlow(b.url, "Alpha"); // B sees what A's worker registered (and that it is online)
    // Open (answered 200) before the trigger. Every run change, filtered once the run's id is
    // known: the worker may claim it (RUNNING) before the trigger's answer arrives here.
    const stream = await openStream(b.url);
    const runId = (await trigger(b.url, alpha, {})).id;
    const states = () => stream.changes.filter((c) => c.kind === "run" && c.runId === runId).map((c) => c.state);
    await until("run COMPLETED on A", async () => (await getJson(`${a.url}/api/runs/${runId}`)).state === "COMPLETED");
    await until("B's stream saw COMPLETED", async () => states().includes("COMPLETED"));
    await stream.close();
    expect(states().at(-1)).toBe("COMPLETED");
    expect(states()).toContain("RUNNING");
    const logs = ((await getJson(`${b.url}/api/runs/${runId}/logs`)).logs as any[]).map((l) => l.message);
    expect(logs).toEqual(["executed Alpha by A"]);
  }, 180_000);

  it(`kill -9 of A under load: workers fail over to B; every run completes once, every step logged once in order (${KILL_RUNS} runs)`, async () => {
    const [a, b] = await twoInstances();
    for (let i = 0; i < 4; i++) worker(`${a.url},${b.url}`, { REL_FLOWS: "Sleepy", REL_MAX: "4" });
    const sleepy = await onlineFlow(b.url, "Sleepy");
    const ids: string[] = [];
    // Half a second (5 logged steps) each: many runs, each still mid-flight for a while.
    for (let i = 0; i < KILL_RUNS; i++) ids.push((await trigger(i % 2 ? b.url : a.url, sleepy, { seconds: 0.5 })).id);
    await until("some runs RUNNING", async () => ((await getJson(`${b.url}/api/runs?state=RUNNING&limit=200`)).runs as any[]).length >= 4);
    await a.kill9();
    await until("all runs finished", async () => {
      const runs = await allRuns(b.url);
      return runs.length === KILL_RUNS && runs.every((r: any) => FINISHED.has(r.state));
    }, 240_000 + KILL_RUNS * 200);
    const runs = await allRuns(b.url);
    expect(runs.filter((r: any) => r.state !== "COMPLETED").map((r: any) => [r.id, r.state, r.error])).toEqual([]);
    for (const id of ids) expect(await napSteps(b.url, id), `run ${id}`).toEqual([1, 2, 3, 4, 5]); // each once, in order
    // No run executed twice: one "started" line per run across all workers' output.
    const started = workers.all.flatMap((w) => [...(w as any).log.matchAll(/run (\d+) \(Sleepy\) started/g)].map((m: RegExpMatchArray) => m[1]));
    expect(started.length).toBe(KILL_RUNS);
    expect(new Set(started).size).toBe(KILL_RUNS);
  }, 300_000 + KILL_RUNS * 300);

  it.skipIf(!PG_DIR)("a PostgreSQL restart mid-run: both instances reconnect (LISTEN too), workers buffer, nothing is lost or doubled", async () => {
    // A 10-minute long poll: after the restart a worker waiting on A is handed a run triggered
    // through B by a wake-up, and wake-ups from B only travel over A's re-established LISTEN.
    // A generous heartbeat timeout: this test is about losing nothing, and the seconds the
    // database is away must not count as the workers' silence.
    const pair = await twoInstances({ PERFECT_LONG_POLL_MS: "600000", PERFECT_HEARTBEAT_TIMEOUT_MS: "60000" });
    const [a, b] = pair;
    // Both workers know only A: while the database is away they cannot fail over, they buffer.
    for (let i = 0; i < 2; i++) worker(a.url, { REL_FLOWS: "Sleepy,Alpha", REL_MAX: "4", REL_NAME: "A" });
    const sleepy = await onlineFlow(b.url, "Sleepy");
    const alpha = await onlineFlow(b.url, "Alpha");
    const before = await listenerPids(pair.database);
    expect(before).toHaveLength(2); // one LISTEN connection per instance
    const streamA = await openStream(a.url);
    const streamB = await openStream(b.url);

    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await trigger(i % 2 ? b.url : a.url, sleepy, { seconds: 6 })).id);
    // Mid-run: every run RUNNING and past its first logged steps, none near its end.
    await until("every run mid-flight", async () => {
      for (const id of ids) {
        if ((await getJson(`${b.url}/api/runs/${id}`)).state !== "RUNNING") return false;
        if ((await napSteps(b.url, id)).length < 2) return false;
      }
      return true;
    });
    await attachPostgres(PG_DIR!).restart();

    // Each instance listens again, on a new connection (the old backends are gone)...
    const after = await until("both instances LISTENing again", async () => {
      const pids = await listenerPids(pair.database);
      return pids.length === 2 && pids.every((p) => !before.includes(p)) ? pids : undefined;
    });
    expect(after).toHaveLength(2);
    expect(a.output).toContain("LISTEN connection lost");
    expect(b.output).toContain("LISTEN connection lost");
    // ...and then resyncs: every SSE stream is ended so its browser reopens it and refetches.
    await until("the streams ended by the resync", async () => streamA.ended && streamB.ended);

    await until("all runs finished", async () => ids.length === (await allRuns(b.url)).filter((r) => FINISHED.has(r.state)).length, 180_000);
    const runs = await allRuns(b.url);
    expect(runs.filter((r: any) => r.state !== "COMPLETED").map((r: any) => [r.id, r.state, r.error])).toEqual([]);
    for (const id of ids) expect(await napSteps(a.url, id), `run ${id}`).toEqual(Array.from({ length: 60 }, (_, i) => i + 1)); // each once, in order
    const started = workers.all.flatMap((w) => [...(w as any).log.matchAll(/run (\d+) \(Sleepy\) started/g)].map((m: RegExpMatchArray) => m[1]));
    expect(started.sort()).toEqual([...ids].sort()); // none executed twice

    // After the restart: a trigger through B reaches a worker waiting on A (A's new LISTEN), and
    // a stream opened on B now sees the run to its end (B's new LISTEN carries A's changes).
    const stream = await openStream(b.url);
    const late = (await trigger(b.url, alpha, {})).id;
    await until("the late run COMPLETED", async () => (await getJson(`${a.url}/api/runs/${late}`)).state === "COMPLETED");
    await until("B's new stream saw it COMPLETED", async () => stream.changes.some((c) => c.kind === "run" && c.runId === late && c.state === "COMPLETED"));
    await stream.close();
    await streamA.close();
    await streamB.close();
    expect(((await getJson(`${b.url}/api/runs/${late}/logs`)).logs as any[]).map((l) => l.message)).toEqual(["executed Alpha by A"]);
  }, 300_000);
});
