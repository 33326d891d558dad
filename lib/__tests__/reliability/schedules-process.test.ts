/**
 * Schedules against the built server as a real process (issue 15): `kill -9` across fire times
 * with each catch-up policy, a restart that never duplicates a fire time, and (PostgreSQL) two
 * instances firing one schedule set exactly once — also when one of them is killed.
 * Every assertion is on which fire times got runs (order and outcome), never on timings: a
 * slower machine only makes the outage longer, which changes nothing asserted here.
 */
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { ServerProcess } from "../../../test/support/server-process";
import { sleep, until } from "../../../test/support/wait";

const PG_PORT = process.env.PERFECT_TEST_PG_PORT;
const CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "sched-token" };
/** A fire time older than this when the scheduler reaches it counts as missed. */
const GRACE_MS = 1500;
const FLOW = { name: "Every Second", tasks: [{ name: "tick" }], parameters: [] };
const servers: ServerProcess[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.kill9();
    s.cleanup();
  }
});

async function call(url: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(url + path, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The fire times (ms) that have a run of the schedule, ascending; duplicates kept, so a test sees them. */
async function fired(url: string, scheduleId: string): Promise<number[]> {
  const out: number[] = [];
  let cursor: string | null = null;
  do {
    const page: { runs: { scheduledFor: string }[]; nextCursor: string | null } = await call(
      url,
      "GET",
      `/api/runs?scheduleId=${scheduleId}&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
    );
    out.push(...page.runs.map((r) => Date.parse(r.scheduledFor)));
    cursor = page.nextCursor;
  } while (cursor);
  return out.sort((a, b) => a - b);
}

/** The same, read from the database of a stopped server (nothing fires while reading). */
async function firedInDatabase(server: { databaseUrl: string | null; dbPath: string }, scheduleId: string): Promise<number[]> {
  const sql = "SELECT scheduled_for AS t FROM runs WHERE schedule_id = $1 ORDER BY scheduled_for";
  if (server.databaseUrl) {
    const c = new pg.Client({ connectionString: server.databaseUrl });
    await c.connect();
    try {
      return (await c.query(sql, [Number(scheduleId)])).rows.map((r) => Number(r.t));
    } finally {
      await c.end();
    }
  }
  const db = new Database(server.dbPath, { readonly: true });
  try {
    return (db.prepare(sql.replace("$1", "?")).all(Number(scheduleId)) as { t: number }[]).map((r) => r.t);
  } finally {
    db.close();
  }
}

/** Fire times one second apart, with no gap and no duplicate, from the first to the last. */
function contiguous(times: number[]): boolean {
  return times.every((t, i) => i === 0 || t - times[i - 1] === 1000);
}

/** Maximal runs of consecutive missing seconds between `first` and `last` of `all` that `some` lacks. */
function missingBlocks(all: number[], some: number[]): number[][] {
  const have = new Set(some);
  const blocks: number[][] = [];
  let cur: number[] = [];
  for (const t of all) {
    if (!have.has(t)) cur.push(t);
    else if (cur.length) {
      blocks.push(cur);
      cur = [];
    }
  }
  if (cur.length) blocks.push(cur);
  return blocks;
}

async function serverWithFlow(env: Record<string, string> = {}, dir?: string) {
  const server = new ServerProcess({
    dir,
    clients: [CLIENT],
    env: { PERFECT_SCHEDULE_GRACE_MS: String(GRACE_MS), PERFECT_RATE_MUTATIONS_PER_SEC: "10000", PERFECT_RATE_MUTATIONS_BURST: "10000", ...env },
  });
  servers.push(server);
  await server.start();
  return server;
}

describe("schedules in a real server process", () => {
  it("kill -9 across fire times: skip runs none of the missed ones, latest the newest, all every one; none twice", async () => {
    const first = await serverWithFlow();
    const reg = await call(first.url, "POST", `/api/worker/${CLIENT.id}/register`, { flows: [FLOW] }, CLIENT.token);
    const flowId = reg.flows[0].id;
    const ids: Record<string, string> = {};
    for (const catchup of ["skip", "latest", "all"]) {
      ids[catchup] = (await call(first.url, "POST", `/api/flows/${flowId}/schedules`, { intervalSeconds: 1, catchup })).id;
    }
    await until("three fires of each schedule", async () => {
      for (const id of Object.values(ids)) if ((await fired(first.url, id)).length < 3) return false;
      return true;
    });
    await first.kill9();
    // Down for well over the grace period: at least two fire times are missed, whatever the speed.
    await sleep(GRACE_MS + 2500);
    await first.start(); // same folder, same database
    const bootedAt = Date.now();
    await until("three fires of each schedule after the restart", async () => {
      for (const id of Object.values(ids)) if ((await fired(first.url, id)).filter((t) => t > bootedAt).length < 3) return false;
      return true;
    });
    // Stopped before reading: the three schedules fire in the same passes, so their lists end together.
    await first.kill9();
    const all = await firedInDatabase(first, ids.all);
    const skip = await firedInDatabase(first, ids.skip);
    const latest = await firedInDatabase(first, ids.latest);

    // `all`: every fire time from the first to the last, once.
    expect(contiguous(all)).toBe(true);
    // `skip`: the outage left a gap (the missed fire times) and nothing ran twice.
    expect(new Set(skip).size).toBe(skip.length);
    const skipped = missingBlocks(all, skip);
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...skipped.map((b) => b.length))).toBeGreaterThanOrEqual(2);
    // `latest`: of each block of missed fire times, exactly the newest ran.
    expect(new Set(latest).size).toBe(latest.length);
    const want = new Set([...skip, ...skipped.map((b) => b[b.length - 1])]);
    expect(latest.filter((t) => t >= all[0] && t <= all[all.length - 1])).toEqual([...want].filter((t) => t >= all[0] && t <= all[all.length - 1]).sort((a, b) => a - b));
  });

  it("a clean restart in the middle of firing makes no duplicate and loses no fire time (catch-up all)", async () => {
    const first = await serverWithFlow();
    const reg = await call(first.url, "POST", `/api/worker/${CLIENT.id}/register`, { flows: [FLOW] }, CLIENT.token);
    const id = (await call(first.url, "POST", `/api/flows/${reg.flows[0].id}/schedules`, { intervalSeconds: 1, catchup: "all" })).id;
    for (let round = 0; round < 3; round++) {
      const before = (await fired(first.url, id)).length;
      await until("two more fires", async () => (await fired(first.url, id)).length >= before + 2);
      await first.stop();
      await first.start();
    }
    await until("two more fires", async () => (await fired(first.url, id)).length >= 8);
    await first.kill9();
    const times = await firedInDatabase(first, id);
    expect(times.length).toBeGreaterThanOrEqual(8);
    expect(contiguous(times)).toBe(true);
  });
});

describe.skipIf(!PG_PORT)("two instances on one PostgreSQL database", () => {
  it("fire each (schedule, fire time) once between them, and go on when one is killed", async () => {
    const name = `perfect_sched_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    execFileSync("/usr/lib/postgresql/15/bin/createdb", ["-h", "127.0.0.1", "-p", PG_PORT!, "-U", "perfect", name]);
    const env = { PERFECT_DATABASE_URL: `postgres://perfect@127.0.0.1:${PG_PORT}/${name}` };
    const a = await serverWithFlow(env);
    const b = await serverWithFlow(env);
    const reg = await call(a.url, "POST", `/api/worker/${CLIENT.id}/register`, { flows: [FLOW] }, CLIENT.token);
    const ids: string[] = [];
    // Created through both instances; every schedule is fired by whichever instance gets to it first.
    for (let i = 0; i < 6; i++) {
      const via = i % 2 ? b : a;
      ids.push((await call(via.url, "POST", `/api/flows/${reg.flows[0].id}/schedules`, { intervalSeconds: 1, catchup: i < 3 ? "skip" : "all" })).id);
    }
    await until("four fires of every schedule", async () => {
      for (const id of ids) if ((await fired(b.url, id)).length < 4) return false;
      return true;
    });
    await a.kill9();
    const killedAt = Date.now();
    await until("four fires of every schedule after A died", async () => {
      for (const id of ids) if ((await fired(b.url, id)).filter((t) => t > killedAt).length < 4) return false;
      return true;
    });
    await b.kill9();
    const reader = { databaseUrl: env.PERFECT_DATABASE_URL, dbPath: b.dbPath };
    for (const id of ids) {
      const times = await firedInDatabase(reader, id);
      // B kept firing on time while A was gone: no gap even for `skip`, and nothing twice.
      expect([id, contiguous(times)]).toEqual([id, true]);
    }
  });
});
