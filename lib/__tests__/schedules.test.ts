/**
 * The scheduler's rules with a controlled clock, on both backends (SQLite in memory, and a real
 * PostgreSQL of this file's own): fire at the fire time and once, catch-up and overlap policies,
 * pause, code schedules, backfill, lateness. Outcomes and orders are asserted, never timings.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { registerRequestSchema } from "../contracts/worker";
import { ManualClock } from "../engine/clock";
import type { Engine } from "../engine/engine";
import { PerfectError } from "../engine/errors";
import { openPostgresBackend } from "../store/postgres";
import { startTestDatabases, type TestDatabases } from "../store/postgres/test-database";
import { openSqliteBackend } from "../store/sqlite";
import type { Backend } from "../store/store";
import { engineOn } from "../../test/support/test-engine";
import { ETL_FLOW, fullRunEvents } from "./helpers";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const S = 1000;
const GRACE = 30 * S;

let dbs: TestDatabases | undefined;
beforeAll(async () => {
  dbs = await startTestDatabases();
}, 120_000);
afterAll(async () => {
  await dbs?.stop();
});

const BACKENDS: [string, () => Promise<Backend>][] = [
  ["sqlite", async () => openSqliteBackend(":memory:")],
  ["postgres", async () => openPostgresBackend(await dbs!.fresh(), { poolSize: 5 })],
];

describe.each(BACKENDS)("schedules on %s", (_name, open) => {
  let backend: Backend;
  let engine: Engine;
  let clock: ManualClock;
  let flowId: string;
  let workerId: string;

  const at = (ms: number) => new Date(T0 + ms).toISOString();
  const register = async (schedules?: unknown[], flow: object = ETL_FLOW) => {
    const answer = await engine.register("acme", registerRequestSchema.parse({ flows: [{ ...flow, ...(schedules ? { schedules } : {}) }] }));
    workerId = answer.workerId;
    return answer.flows[0].id;
  };
  const scheduledRuns = async () =>
    (await engine.listRuns({ state: [], tag: [], trigger: ["schedule"], limit: 200 })).runs.slice().reverse();
  const fireAt = async (ms: number) => {
    clock.advance(T0 + ms - clock.now());
    return engine.fireDueSchedules();
  };
  const complete = async (runId: string) => {
    await engine.applyEvents("acme", runId, { workerId, events: fullRunEvents() });
  };
  const failsWith = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      if (e instanceof PerfectError) return `${e.code} ${e.message}`;
      throw e;
    }
    return "ok";
  };

  beforeEach(async () => {
    backend = await open();
    clock = new ManualClock(T0);
    ({ engine } = engineOn(backend, { clock, scheduleGraceMs: GRACE }));
    await engine.ready;
    flowId = await register();
  });
  afterEach(async () => {
    engine.stop();
    await backend.close();
  });

  it("creates the run at its fire time, once, with trigger, scheduleId and scheduledFor", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 60, parameters: { day: "2026-01-01" } });
    expect(s.nextFireAt).toBe(at(60 * S));
    expect(s.nextRuns).toEqual([1, 2, 3, 4, 5].map((k) => at(k * 60 * S)));
    expect(await fireAt(60 * S - 1)).toBe(0);
    expect(await fireAt(60 * S)).toBe(1);
    expect(await engine.fireDueSchedules()).toBe(0);
    const [run] = await scheduledRuns();
    expect(run).toMatchObject({ state: "PENDING", trigger: "schedule", scheduleId: s.id, scheduledFor: at(60 * S), parameters: { day: "2026-01-01", limit: 100 }, late: false });
    expect(await engine.getSchedule(s.id)).toMatchObject({ nextFireAt: at(120 * S), lastFiredFor: at(60 * S) });
    // Dispatched at once: a poll of the serving worker claims it.
    expect((await engine.claim("acme", workerId, 5)).map((r) => r.id)).toEqual([run.id]);
  });

  it("two schedulers on one database make one run per fire time", async () => {
    const { engine: other } = engineOn(backend, { clock, scheduleGraceMs: GRACE });
    await engine.createSchedule(flowId, { intervalSeconds: 60 });
    await engine.createSchedule(flowId, { cron: "*/2 * * * *" });
    clock.advance(10 * 60 * S);
    const made = await Promise.all([engine.fireDueSchedules(), other.fireDueSchedules(), engine.fireDueSchedules(), other.fireDueSchedules()]);
    // Ten minutes late (past the grace period, catch-up "skip"): the fire time at 10:00 runs.
    expect(made.reduce((a, b) => a + b, 0)).toBe(2);
    expect((await scheduledRuns()).map((r) => r.scheduledFor)).toEqual([at(600 * S), at(600 * S)]);
  });

  it("a fire time that already has a run never gets a second (the unique key), even when the schedule is set back", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 60 });
    await fireAt(60 * S);
    // As after a crash between the run's insert and the schedule's update.
    await backend.store.updateSchedule(Number(s.id), { nextFireAt: T0 + 60 * S });
    expect(await engine.fireDueSchedules()).toBe(0);
    expect(await scheduledRuns()).toHaveLength(1);
    expect((await engine.getSchedule(s.id)).nextFireAt).toBe(at(120 * S));
  });

  // Down from just after 00:00 until 00:10:15: fire times 00:01 … 00:09 were missed (older than
  // the 30 s grace when the scheduler came back), 00:10 is within it.
  it.each([
    ["skip", [600]],
    ["latest", [540, 600]],
    ["all", [60, 120, 180, 240, 300, 360, 420, 480, 540, 600]],
  ] as const)("catch-up %s after downtime", async (catchup, want) => {
    await engine.createSchedule(flowId, { intervalSeconds: 60, catchup });
    await fireAt(615 * S);
    expect((await scheduledRuns()).map((r) => r.scheduledFor)).toEqual(want.map((t) => at(t * S)));
    expect(await engine.fireDueSchedules()).toBe(0);
  });

  it("catch-up all runs at most the newest 1,000 missed fire times", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 1, catchup: "all" });
    expect(await fireAt(3 * 3600 * S)).toBe(1000);
    const page = await engine.listRuns({ state: [], tag: [], trigger: [], scheduleId: Number(s.id), limit: 1 });
    expect(page.runs[0].scheduledFor).toBe(at(3 * 3600 * S));
  }, 60_000);

  it("overlap skip: no run while the previous one is PENDING or RUNNING", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60, overlap: "skip" });
    await fireAt(60 * S);
    await fireAt(120 * S); // first still PENDING
    const [first] = await engine.claim("acme", workerId, 5);
    await fireAt(180 * S); // first RUNNING
    await complete(first.id);
    await fireAt(240 * S);
    expect((await scheduledRuns()).map((r) => r.scheduledFor)).toEqual([at(60 * S), at(240 * S)]);
  });

  it("overlap queue: each run waits PENDING until the earlier runs of its schedule finished", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60, overlap: "queue" });
    await fireAt(60 * S);
    await fireAt(120 * S);
    await fireAt(180 * S);
    const runs = await scheduledRuns();
    expect(runs).toHaveLength(3);
    expect((await engine.claim("acme", workerId, 5)).map((r) => r.id)).toEqual([runs[0].id]);
    expect(await engine.claim("acme", workerId, 5)).toEqual([]);
    await complete(runs[0].id);
    expect((await engine.claim("acme", workerId, 5)).map((r) => r.id)).toEqual([runs[1].id]);
    await engine.cancelRun(runs[1].id);
    await engine.applyEvents("acme", runs[1].id, { workerId, events: [{ seq: 1, type: "run_cancelled" }] });
    expect((await engine.claim("acme", workerId, 5)).map((r) => r.id)).toEqual([runs[2].id]);
  });

  it("overlap cancel_running: the earlier runs are cancelled (PENDING at once, RUNNING at the worker)", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60, overlap: "cancel_running" });
    await fireAt(60 * S);
    const [first] = await engine.claim("acme", workerId, 5);
    await fireAt(120 * S);
    await fireAt(180 * S);
    const [a, b, c] = await scheduledRuns();
    expect(a).toMatchObject({ id: first.id, state: "RUNNING", cancelRequested: true });
    expect(b.state).toBe("CANCELLED");
    expect(c.state).toBe("PENDING");
  });

  it("allow (the default) runs every fire time whatever is still running", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60 });
    await fireAt(60 * S);
    await fireAt(120 * S);
    expect((await scheduledRuns()).map((r) => r.state)).toEqual(["PENDING", "PENDING"]);
  });

  it("a paused schedule never fires; resumed, it starts from now (paused fire times are not caught up)", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 60, catchup: "all" });
    const paused = await engine.updateSchedule(s.id, { active: false });
    expect(paused).toMatchObject({ active: false, nextRuns: [], nextFireAt: null });
    await fireAt(600 * S);
    expect(await scheduledRuns()).toEqual([]);
    const resumed = await engine.updateSchedule(s.id, { active: true });
    expect(resumed.nextFireAt).toBe(at(660 * S));
    await fireAt(660 * S);
    expect((await scheduledRuns()).map((r) => r.scheduledFor)).toEqual([at(660 * S)]);
  });

  it("code schedules: registered with the flow, unchanged ones kept (with their pause), dropped ones deleted", async () => {
    await register([{ cron: "0 6 * * *", timezone: "Europe/Berlin" }, { intervalSeconds: 900 }]);
    const first = (await engine.listSchedules(flowId)).schedules;
    expect(first.map((s) => [s.source, s.description])).toEqual([
      ["code", "At 06:00, Europe/Berlin"],
      ["code", "Every 15 minutes"],
    ]);
    await engine.updateSchedule(first[0].id, { active: false });
    expect(await failsWith(engine.updateSchedule(first[0].id, { cron: "0 7 * * *" }))).toMatch(/^conflict .*defined in code/);
    expect(await failsWith(engine.deleteSchedule(first[0].id))).toMatch(/^conflict /);
    await register([{ cron: "0 6 * * *", timezone: "Europe/Berlin" }, { intervalSeconds: 900 }]);
    const again = (await engine.listSchedules(flowId)).schedules;
    expect(again.map((s) => [s.id, s.active])).toEqual([
      [first[0].id, false],
      [first[1].id, true],
    ]);
    await register([{ intervalSeconds: 900 }]);
    expect((await engine.listSchedules(flowId)).schedules.map((s) => s.id)).toEqual([first[1].id]);
    await register();
    expect((await engine.listSchedules(flowId)).schedules).toEqual([]);
  });

  it("a bad code schedule fails the registration naming the field; nothing is stored", async () => {
    expect(await failsWith(register([{ intervalSeconds: 60 }, { cron: "61 * * * *" }]))).toMatch(/^validation_error flows\.0\.schedules\.1\.cron: invalid cron/);
    expect(await failsWith(register([{ cron: "* * * * *", parameters: { limit: "many" } }]))).toMatch(/^validation_error flows\.0\.schedules\.0\.parameters\.limit: /);
    expect((await engine.listSchedules(flowId)).schedules).toEqual([]);
  });

  it("parameters that no longer fit the re-registered flow make a FAILED run that says so", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60, parameters: { limit: 5 } });
    await register(undefined, { ...ETL_FLOW, parameters: [{ name: "limit", type: "str", required: true }] });
    await fireAt(60 * S);
    const [run] = await scheduledRuns();
    expect(run.state).toBe("FAILED");
    expect(run.error).toMatch(/^the schedule's parameters no longer fit the flow: parameters\.limit: /);
  });

  it("DST: a daily 02:30 Europe/Berlin fires at 03:00 CEST on the spring date, once", async () => {
    clock.advance(Date.parse("2026-03-28T12:00:00Z") - clock.now());
    const s = await engine.createSchedule(flowId, { cron: "30 2 * * *", timezone: "Europe/Berlin" });
    expect(s.nextRuns.slice(0, 2)).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
  });

  it("backfill: a run per fire time in the range that has none, a dry run counts, over 1,000 is refused", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 3600 });
    await fireAt(3600 * S);
    const range = { scheduleId: Number(s.id), from: T0 - 24 * 3600 * S, to: T0 + 3600 * S };
    expect(await engine.backfill(flowId, { ...range, dryRun: true })).toMatchObject({ count: 25, skipped: 1 });
    expect(await scheduledRuns()).toHaveLength(1);
    const made = await engine.backfill(flowId, range);
    expect(made).toMatchObject({ count: 25, skipped: 1 });
    expect(await engine.backfill(flowId, range)).toMatchObject({ count: 0, skipped: 26 });
    const runs = await scheduledRuns();
    expect(runs).toHaveLength(26);
    expect(new Set(runs.map((r) => r.scheduledFor)).size).toBe(26);
    // Created now: not late at once.
    expect(runs.every((r) => !r.late)).toBe(true);
    expect(await failsWith(engine.backfill(flowId, { ...range, from: T0 - 1001 * 3600 * S }))).toMatch(/^validation_error to: /);
    expect(await failsWith(engine.backfill(flowId, { ...range, scheduleId: 999 }))).toMatch(/^validation_error scheduleId: /);
  });

  it("a scheduled run PENDING longer than the grace period is late; started in time it is not", async () => {
    await engine.createSchedule(flowId, { intervalSeconds: 60 });
    await fireAt(60 * S);
    clock.advance(GRACE + 1);
    const [late] = await scheduledRuns();
    expect(late).toMatchObject({ late: true, lateByMs: GRACE + 1 });
    expect(await engine.getRun(late.id)).toMatchObject({ late: true });
    await engine.claim("acme", workerId, 1);
    await fireAt(120 * S);
    await engine.claim("acme", workerId, 1);
    const [, onTime] = await scheduledRuns();
    expect(onTime).toMatchObject({ late: false, lateByMs: 0, state: "RUNNING" });
  });

  it("history filters by trigger and by schedule", async () => {
    const a = await engine.createSchedule(flowId, { intervalSeconds: 60 });
    const b = await engine.createSchedule(flowId, { intervalSeconds: 120 });
    await engine.triggerRun(flowId, {}, "ui");
    await fireAt(60 * S);
    await fireAt(120 * S);
    const list = (q: object) => engine.listRuns({ state: [], tag: [], trigger: [], limit: 200, ...q }).then((p) => p.runs.map((r) => [r.trigger, r.scheduleId]));
    expect(await list({ trigger: ["ui"] })).toEqual([["ui", null]]);
    expect((await list({ trigger: ["schedule"] })).length).toBe(3);
    expect(await list({ scheduleId: Number(b.id) })).toEqual([["schedule", b.id]]);
    expect((await list({ trigger: ["schedule", "ui"], scheduleId: Number(a.id) })).length).toBe(2);
  });

  it("max_active_runs: a limited flow's scheduled runs wait PENDING while its slots are taken, across workers", async () => {
    const limited = await register([{ intervalSeconds: 60 }], { ...ETL_FLOW, maxActiveRuns: 1 });
    expect((await engine.getFlow(limited)).maxActiveRuns).toBe(1);
    const first = workerId;
    await register(undefined, { ...ETL_FLOW, maxActiveRuns: 1, schedules: [{ intervalSeconds: 60 }] });
    const second = workerId;
    await fireAt(60 * S);
    await fireAt(120 * S);
    await fireAt(180 * S);
    const runs = await scheduledRuns();
    expect(runs).toHaveLength(3);
    const claims = await Promise.all([engine.claim("acme", first, 5), engine.claim("acme", second, 5), engine.claim("acme", first, 5)]);
    expect(claims.flat().map((r) => r.id)).toEqual([runs[0].id]);
    expect(await engine.getRun(runs[1].id)).toMatchObject({ state: "PENDING", waitingForSlot: true });
    workerId = claims[0].length ? first : claims[1].length ? second : first;
    await complete(runs[0].id);
    const next = [...(await engine.claim("acme", second, 5)), ...(await engine.claim("acme", first, 5))];
    expect(next.map((r) => r.id)).toEqual([runs[1].id]);
  });

  it("deleting a schedule keeps its runs; the flow's deletion of schedules is per schedule", async () => {
    const s = await engine.createSchedule(flowId, { intervalSeconds: 60 });
    await fireAt(60 * S);
    await engine.deleteSchedule(s.id);
    expect(await failsWith(engine.getSchedule(s.id))).toMatch(/^not_found /);
    await fireAt(120 * S);
    expect((await scheduledRuns()).map((r) => r.scheduleId)).toEqual([s.id]);
  });
});
