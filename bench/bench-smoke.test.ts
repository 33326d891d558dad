/**
 * Keeps the benchmark scripts from rotting: each one's core function runs at a tiny size against
 * the in-process harness (real route handlers over real HTTP, a fresh engine). Only correctness
 * is asserted (counts, exactly-once, equal answers) — never a timing.
 *
 * The history check goes further: on a seeded database, every history query the benchmark makes
 * (and a spread of filter combinations) must return exactly the runs a brute-force filter finds,
 * page after page, so the store's planner choices can never change an answer.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../lib/engine/clock";
import { setEngine } from "../lib/server";
import { createTestEngine } from "../test/support/test-engine";
import { startHarness } from "../test/support/http-harness";

// The bench scripts are plain ESM run by node; load them untyped.
const load = (name: string): Promise<any> => import(/* @vite-ignore */ new URL(name, import.meta.url).href);

/** The benchmarks page rendered for `page` (results and options) on one fixed machine, date and commit. */
async function renderPage(page: Record<string, unknown>): Promise<string> {
  const { renderMarkdown } = await load("./run-all.mjs");
  return renderMarkdown({ machine: { cores: 2, cpu: "Test CPU", memoryGb: 4, platform: "Linux", node: "v20" }, date: "2026-01-01T00:00:00.000Z", commit: "abc123", seed: null, ...page });
}

const BENCH = { id: "bench", name: "Bench Client", performanceSensitivity: "normal" as const, token: "bench-token" };
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

let url = "";
let close: () => Promise<void>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-bench-smoke-"));

beforeAll(async () => {
  const h = await startHarness();
  url = h.url;
  close = h.close;
});
afterAll(async () => {
  setEngine(undefined);
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function freshEngine(opts: Parameters<typeof createTestEngine>[0] = {}) {
  const made = createTestEngine({ clock: systemClock, clients: [BENCH], ...opts });
  setEngine(made.engine);
  return made;
}


describe("bench scripts (tiny sizes, correctness only)", () => {
  it("dispatch: every triggered run reaches exactly one waiting poller", async () => {
    freshEngine();
    const { measureDispatch } = await load("./dispatch.mjs");
    const r = await measureDispatch(url, { pollers: 10, trials: 5, warmup: 1, gapMs: 5, settleMs: 100 });
    expect(r.exactlyOnce).toBe(true);
    expect(r.dispatched).toBe(6);
    expect(r.latencies).toHaveLength(5);
  });

  it("ingest: batched and single events are all stored, beside the raw baseline", async () => {
    freshEngine();
    const { measureIngest } = await load("./ingest.mjs");
    const r = await measureIngest(url, { trials: 1, concurrency: 2, batchRequests: 4, singleRequests: 10, warmup: false, dir });
    expect(r.stored).toBe(true);
    expect(r.missing).toBe(0);
    expect(r.sentEvents).toBe(4 * 100 + 10);
    expect(r.batch.ratio).toHaveLength(1);
    expect(r.single.ratio).toHaveLength(1);
    expect(r.single.failed).toBe(0);
  });

  it("sse: each change reaches every connected dashboard", async () => {
    freshEngine();
    const { measureSse } = await load("./sse.mjs");
    const r = await measureSse(url, { dashboards: 3, trials: 3, warmup: 0, gapMs: 5 });
    expect(r.missing).toBe(0);
    expect(r.latencies).toHaveLength(9);
  });

  describe("on a seeded history", () => {
    const file = path.join(dir, "seeded.db");
    let seed: any;

    beforeAll(async () => {
      seed = await load("./seed.mjs");
    });

    it("seed: writes the requested runs with task runs, tags, logs and statistics", () => {
      const r = seed.seedDatabase(file, { runs: 1000 });
      expect(r.runs).toBe(1000);
      expect(Object.values(r.states as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1000);
      const db = new Database(file, { readonly: true });
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count("SELECT count(*) AS n FROM runs")).toBe(1000);
      expect(count("SELECT count(DISTINCT run_id) AS n FROM task_runs")).toBe(1000);
      expect(count("SELECT count(*) AS n FROM runs r WHERE (SELECT count(*) FROM task_runs t WHERE t.run_id = r.id) NOT BETWEEN 3 AND 5")).toBe(0);
      expect(count("SELECT count(*) AS n FROM runs WHERE id > 1 AND created_at < (SELECT created_at FROM runs p WHERE p.id = runs.id - 1)")).toBe(0);
      expect(count("SELECT count(DISTINCT client_id) AS n FROM runs")).toBe(3);
      expect(count("SELECT count(*) AS n FROM run_tags")).toBe(r.runTags);
      expect(count("SELECT count(*) AS n FROM logs")).toBe(r.logs);
      expect(count("SELECT count(*) AS n FROM task_stats")).toBeGreaterThan(0);
      db.close();
    });

    it("history: every benchmark query and filter combination answers exactly what a brute-force filter finds", async () => {
      freshEngine({ file, clients: [...seed.SEED_CLIENTS, BENCH] });
      const { describeDatabase, historyQueries, measureHistory } = await load("./history.mjs");
      const info = describeDatabase(file);
      const results = await measureHistory(url, info, { reps: 1 });
      expect(results).toHaveLength(historyQueries(info).length);

      // Brute force: every run with its tags and flow name, newest first.
      const db = new Database(file, { readonly: true });
      const all = db.prepare("SELECT id, state, client_id AS client, flow_id AS flowId, flow_name AS flow, created_at AS createdAt FROM runs ORDER BY id DESC").all() as {
        id: number; state: string; client: string; flowId: number; flow: string; createdAt: number;
      }[];
      const tags = new Map<number, Map<string, string>>();
      for (const t of db.prepare("SELECT run_id AS runId, key, value FROM run_tags").all() as { runId: number; key: string; value: string }[]) {
        if (!tags.has(t.runId)) tags.set(t.runId, new Map());
        tags.get(t.runId)!.set(t.key, t.value);
      }
      db.close();
      const expected = (qs: string) => {
        const p = new URLSearchParams(qs);
        const states = p.getAll("state");
        const flow = p.get("flow")?.toLowerCase();
        const client = p.get("client");
        const from = p.get("from") ? Date.parse(p.get("from")!) : -Infinity;
        const to = p.get("to") ? Date.parse(p.get("to")!) : Infinity;
        const tagFilters = p.getAll("tag").map((t) => [t.slice(0, t.indexOf(":")), t.slice(t.indexOf(":") + 1)]);
        return all
          .filter((r) => (!states.length || states.includes(r.state)) && (!flow || r.flow.toLowerCase().includes(flow)) && (!client || r.client === client))
          .filter((r) => r.createdAt >= from && r.createdAt <= to && tagFilters.every(([k, v]) => tags.get(r.id)?.get(k) === v))
          .map((r) => String(r.id));
      };
      const walk = async (qs: string) => {
        const ids: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 100; page++) {
          const res = await fetch(`${url}/api/runs?${qs}&limit=37${cursor ? `&cursor=${cursor}` : ""}`);
          expect(res.status).toBe(200);
          const body = (await res.json()) as { runs: { id: string }[]; nextCursor: string | null };
          ids.push(...body.runs.map((r) => r.id));
          cursor = body.nextCursor;
          if (!cursor) break;
        }
        return ids;
      };
      const span = info.maxCreated - info.minCreated;
      const iso = (f: number) => new Date(info.minCreated + span * f).toISOString();
      const combos = [
        ...historyQueries(info).map((q: { path: string }) => new URL(q.path, url).searchParams.toString().replace(/&?(limit|cursor)=[^&]*/g, "")),
        "state=RUNNING&state=PENDING",
        "state=COMPLETED&client=acme_etl",
        "client=infra_ops&tag=team:sre",
        "tag=team:data-eng&tag=priority:high",
        "flow=sync&tag=env:prod&state=FAILED",
        `client=ml_platform&from=${iso(0.2)}&to=${iso(0.7)}`,
        `tag=backfill:true&from=${iso(0.5)}`,
        "flow=report&client=acme_etl",
        "tag=env:nowhere",
      ];
      for (const qs of combos) expect(await walk(qs), qs).toEqual(expected(qs));
    });

    it("memory: samples RSS idle and under ingestion on the seeded history", async () => {
      freshEngine({ file, clients: [...seed.SEED_CLIENTS, BENCH] });
      const { measureMemory } = await load("./memory.mjs");
      const server = { url, rss: () => ({ rss: process.memoryUsage().rss / 2 ** 20 }) };
      const r = await measureMemory(server, { seconds: 0.5, idleSeconds: 0.3, concurrency: 2 });
      expect(r.idle.length).toBeGreaterThan(0);
      expect(r.load.length).toBeGreaterThan(0);
      expect(r.events).toBeGreaterThan(0);
    });
  });

  it("e2e: Python workers dispatch and run every run exactly once; SDK overhead runs", async () => {
    freshEngine();
    const { measureDispatchE2E, measureThroughput, measureSdkOverhead } = await load("./e2e.mjs");
    const d = await measureDispatchE2E(url, { trials: 3, warmup: 1, gapMs: 10 });
    expect(d.latencies).toHaveLength(3);
    expect(d.runs).toBe(4);
    const t = await measureThroughput(url, { runs: 10, trials: 1 });
    expect(t.exactlyOnce).toBe(true);
    expect(t.rates).toHaveLength(1);
    const o = measureSdkOverhead({ trials: 1 });
    expect(o.medians).toHaveLength(1);
  });

  it("parallel: a map's runs and task runs all complete; submit() is timed inside served runs", async () => {
    freshEngine();
    const { measureMap, measureSubmit } = await load("./parallel.mjs");
    const m = await measureMap(url, { tasks: 20, trials: 1, warmup: 0 });
    expect(m.complete).toBe(true);
    expect(m.spanRates).toHaveLength(1);
    const s = await measureSubmit(url, { submits: 20, trials: 2, warmup: 0 });
    expect(s.complete).toBe(true);
    expect(s.perTask).toHaveLength(2);
  });

  it("schedules: every fire time makes one run whose task starts in the Python worker; idle CPU is read", async () => {
    const { measureFireLatency, measureIdleCpu } = await load("./schedules.mjs");
    const f = await measureFireLatency({ schedules: 5, fires: 2 });
    expect(f.missing).toBe(0);
    expect(f.latencies).toHaveLength(2);
    const idle = await measureIdleCpu({ count: 20, seconds: 1 });
    expect(Number.isFinite(idle.empty) && Number.isFinite(idle.loaded)).toBe(true);
  });

  it("auth: the same GET answers with no credential before setup, with a session and with a token after", async () => {
    const { main } = await load("./auth.mjs");
    const r = await main({ trials: 5 });
    expect(r.figures.map((f: { trials: number }) => f.trials)).toEqual([5, 5, 5, 5, 5]);
    expect(r.figures.every((f: { median: number }) => Number.isFinite(f.median) && f.median > 0)).toBe(true);
  });

  // The Chromium benchmarks need the built app and /usr/bin/chromium: this file runs in the
  // post-build step of npm test (vitest.reliability.config.ts), where both are there.
  it("live-ui and history-ui: the run page and the history page update and page in Chromium", async () => {
    const { startServer } = await load("./lib/server.mjs");
    const seed = await load("./seed.mjs");
    const file = path.join(dir, "ui.db");
    seed.seedDatabase(file, { runs: 300 });
    const server = await startServer({ dbPath: file, clients: [...seed.SEED_CLIENTS, BENCH], timeoutMs: 30_000, attempts: 1 });
    try {
      const { measureLiveUi } = await load("./live-ui.mjs");
      const live = await measureLiveUi(server.url, { trials: 1, warmup: 0 });
      expect(live.latencies).toHaveLength(1);
      const { measureHistoryUi } = await load("./history-ui.mjs");
      const ui = await measureHistoryUi(server.url, { reps: 0, pages: [{ name: "no filter", q: "" }] });
      expect(ui.rows["no filter"]).toBe(50);
    } finally {
      await server.stop();
    }
  }, 90_000);

  it("run-all renders every figure into the benchmarks page", async () => {
    const md = await renderPage({
      results: [
        { id: "a", title: "A", command: "node bench/a.mjs", figures: [{ what: "latency thing", unit: "ms", goal: "p99 ≤ 25 ms", trials: 3, median: 1.5, p99: 3, met: true }] },
        { id: "b", title: "B", command: "node bench/b.mjs", figures: [{ what: "ratio thing", unit: "×", goal: "≥ 0.5 of the baseline", trials: 3, median: 0.25, p99: 0.2, met: false }] },
        { id: "c", title: "C", command: "node bench/c.mjs", figures: [{ what: "pending thing", goal: "p99 ≤ 1 ms", trials: 0, median: null, p99: null, met: null }] },
      ],
    });
    expect(md).toContain("| latency thing | p99 ≤ 25 ms | 1.50 ms | 3.00 ms | met |");
    expect(md).toContain("| ratio thing | ≥ 0.5 of the baseline | 0.25× | 0.20× | **missed** |");
    expect(md).toContain("| pending thing | p99 ≤ 1 ms | — | — | pending |");
    expect(md).toContain("2 cores, Test CPU");
    expect(md).toContain("Rerun: `node bench/a.mjs`");
  });

  it("run-all keeps the plan's id for every result (a script's own id never replaces it)", async () => {
    const { plan, resultOf } = await load("./run-all.mjs");
    const steps = plan({ db: "x.db" });
    const rows = steps.map((st: { id: string }) => resultOf(st, { id: `${st.id}-server`, figures: [] }, { load: 0, waitedSeconds: 0 }, 1));
    expect(rows.map((r: { id: string }) => r.id)).toEqual(steps.map((st: { id: string }) => st.id));
  });

  it("a partial run says so in its header", async () => {
    const md = await renderPage({
      results: [],
      only: ["dispatch"],
    });
    expect(md).toContain("**Partial run** (`--only dispatch`)");
  });

  it("the plan runs the PostgreSQL and peer benchmarks, full and quick", async () => {
    const { plan } = await load("./run-all.mjs");
    const steps = plan({ db: "x.db" });
    for (const id of ["pg", "peers-pg", "peers-redis", "bare-compare", "parallel", "first-visit"]) {
      const step = steps.find((st: { id: string }) => st.id === id);
      expect(step, id).toBeTruthy();
      expect(fs.existsSync(path.join(ROOT, "bench", step.script))).toBe(true);
      expect(step.quick.length).toBeGreaterThan(0);
    }
  });

  it("bare baseline: the real Python worker runs runs end to end against it (one-task dispatch, ten-task runs)", async () => {
    const { startBare } = await load("./lib/bare-server.mjs");
    const { pythonDispatcher, pythonThroughput } = await load("./lib/perfect.mjs");
    const bare = await startBare(path.join(dir, "bare-e2e.db"));
    const base = `http://127.0.0.1:${bare.port}`;
    try {
      const d = await pythonDispatcher(base, { isolation: "thread" });
      try {
        const ms = await d.fire();
        expect(ms).toBeGreaterThan(0);
      } finally {
        await d.stop();
      }
      const t = await pythonThroughput([base], { workers: 1, maxConcurrentRuns: 2, isolation: "process", tenTasks: true });
      try {
        expect(await t.trial(2)).toBeGreaterThan(0);
        expect(t.check()).toMatchObject({ runs: 2, duplicates: 0, missing: 0, exactlyOnce: true });
      } finally {
        await t.stop();
      }
      // What the bare server persisted: every triggered run COMPLETED through the worker's
      // events, with its ten declared task runs COMPLETED, in order, and the seqs applied.
      const runs = bare.db.prepare("SELECT id, flow_name, state, progress, last_seq, started_at, ended_at FROM runs WHERE worker_id != 'bare' ORDER BY id").all();
      expect(runs.map((r: { flow_name: string; state: string }) => [r.flow_name, r.state])).toEqual([
        ["Bench E2E Dispatch", "COMPLETED"],
        ["Bench Ten Tasks", "COMPLETED"],
        ["Bench Ten Tasks", "COMPLETED"],
      ]);
      for (const r of runs) {
        expect(r.progress).toBe(1);
        expect(r.last_seq).toBeGreaterThan(0);
        expect(r.ended_at).toBeGreaterThanOrEqual(r.started_at);
      }
      const tasks = bare.db.prepare("SELECT name, state, call_index FROM task_runs WHERE run_id = ? ORDER BY position").all(runs[1].id);
      expect(tasks.map((x: { name: string }) => x.name)).toEqual(Array.from({ length: 10 }, (_, i) => `step_${i}`));
      expect(tasks.every((x: { state: string; call_index: number }, i: number) => x.state === "COMPLETED" && x.call_index === i)).toBe(true);
      // The protocol's refusals: a seq gap is 409 with the expected seq, a repeat is a duplicate.
      const { request, makeAgent } = await load("./lib/http.mjs");
      const agent = makeAgent();
      const post = (p: string, body: unknown, token = "bench-token") => request(agent, base, "POST", p, { body, headers: { authorization: `Bearer ${token}` } });
      const runId = bare.runIds[0];
      const ok = await post(`/api/worker/bench/runs/${runId}/events`, { workerId: "bare", events: [{ seq: 1, type: "log", level: "INFO", message: "<b>kept as text</b>" }] });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ applied: 1, lastSeq: 1 });
      const again = await post(`/api/worker/bench/runs/${runId}/events`, { workerId: "bare", events: [{ seq: 1, type: "log", level: "INFO", message: "x" }] });
      expect(again.body).toMatchObject({ applied: 0, duplicates: 1, lastSeq: 1 });
      const gap = await post(`/api/worker/bench/runs/${runId}/events`, { workerId: "bare", events: [{ seq: 5, type: "log", level: "INFO", message: "x" }] });
      expect(gap.status).toBe(409);
      expect(gap.body.error).toMatchObject({ code: "seq_gap", details: { expectedSeq: 2 } });
      expect((await post("/api/worker/bench/poll", { workerId: "nobody" })).status).toBe(404);
      expect((await post("/api/worker/bench/poll", { workerId: "bare" }, "wrong")).status).toBe(401);
      expect(bare.db.prepare("SELECT message FROM logs WHERE run_id = ?").pluck().all(runId)).toEqual(["<b>kept as text</b>"]);
      agent.destroy();
    } finally {
      await bare.close();
      bare.db.close();
    }
  });

  it("a peer that cannot be opened is a row saying so, never skipped", async () => {
    const { comparePeers, openPeers } = await load("./lib/compare.mjs");
    const { openPeer } = await load("./lib/peers.mjs");
    const opened = await openPeers(openPeer, ["no-such-queue"], "x");
    expect(opened.peers).toEqual([]);
    expect(opened.unavailable).toEqual([{ kind: "no-such-queue", reason: "unknown peer no-such-queue" }]);
    const { figures } = await comparePeers({ perfectBase: "http://127.0.0.1:1", mode: "embedded SQLite", peers: [], unavailable: opened.unavailable, dispatchTrials: 1, jobs: 1, throughputTrials: 1 });
    expect(figures.map((f: { kind: string; versus: string }) => [f.kind, f.versus])).toEqual([
      ["unavailable", "no-such-queue"],
      ["unavailable", "no-such-queue"],
    ]);
    const md = await renderPage({
      results: [{ id: "peers-redis", title: "R", command: "node bench/peers-redis.mjs", figures }],
    });
    expect(md).toContain("| no-such-queue | pickup latency: trigger → task body starts (peer: enqueue → handler) | SQLite | — | — | — | — | — | not measured: unknown peer no-such-queue |");
  });

  it("run-all leads with the ratio table (peers and bare baseline, judged rows first), then the published figures, then the absolute ones", async () => {
    const ratio = (what: string, versus: string | undefined, median: number, kind = "ratio") => ({
      what,
      versus,
      unit: "×",
      kind,
      goal: "≥ 0.5 of the baseline",
      trials: 3,
      median,
      p99: median / 2,
      met: kind === "info" ? null : median >= 0.5,
      subject: { unit: "ms", median: 10, p99: 20 },
      baseline: { unit: "ms", median: 5, p99: 8 },
    });
    const md = await renderPage({
      published: "## Published, not measured here\n\n| system | figure |",
      results: [
        { id: "dispatch", title: "D", command: "node bench/dispatch.mjs", load: { load: 1.5 }, figures: [{ what: "latency thing", unit: "ms", goal: "p99 ≤ 25 ms", trials: 3, median: 1.5, p99: 3, met: true }] },
        {
          id: "peers-pg",
          title: "P",
          command: "node bench/peers-pg.mjs",
          load: { load: 2.25 },
          figures: [
            ratio('pickup latency, Perfect (PostgreSQL) against pg-boss 10.4.2: trigger → task body starts / enqueue → handler starts, one idle worker, Perfect with isolation="thread"', undefined, 0.9, "info"),
            ratio("throughput, Perfect (PostgreSQL) one-task runs/s against graphile-worker 0.17.3 empty jobs/s, 2 worker processes each", "graphile-worker 0.17.3", 0.25),
          ],
        },
        { id: "bare-compare", title: "B", command: "node bench/bare-compare.mjs", error: "exit 1" },
      ],
    });
    const at = (s: string) => {
      const i = md.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    const judged = at("| graphile-worker 0.17.3 | throughput: one-task runs/s (peer: empty jobs/s) | PostgreSQL, process | 0.25× | 0.13× | 10.0 ms (20.0 ms) | 5.00 ms (8.00 ms) | ≥ 0.5× | **missed** |");
    const context = at("| pg-boss 10.4.2 | pickup latency: trigger → task body starts (peer: enqueue → handler) | PostgreSQL, thread | 0.90× | 0.45× |");
    const failed = at("| bare-compare | all | — | — | — | — | — | — | benchmark failed: exit 1 |");
    expect(at("## Perfect against its peers and the bare baseline")).toBeLessThan(judged);
    expect(judged).toBeLessThan(context);
    expect(context).toBeLessThan(failed);
    expect(failed).toBeLessThan(at("## Published, not measured here"));
    expect(at("## Published, not measured here")).toBeLessThan(at("| latency thing | p99 ≤ 25 ms | 1.50 ms | 3.00 ms | met | 1.5 |"));
    expect(md).toContain("- **Commit:** abc123");
  });

  it("every bench library parses (node --check)", () => {
    for (const f of fs.readdirSync(path.join(ROOT, "bench", "lib")).filter((n) => n.endsWith(".mjs"))) {
      execFileSync(process.execPath, ["--check", path.join(ROOT, "bench", "lib", f)]);
    }
  });

  it("every bench script parses (node --check)", () => {
    for (const f of fs.readdirSync(path.join(ROOT, "bench")).filter((n) => n.endsWith(".mjs"))) {
      execFileSync(process.execPath, ["--check", path.join(ROOT, "bench", f)]);
    }
  });
});
