/**
 * The schedule routes over real HTTP (docs/API.md "Schedules"): shapes, status codes, 400s
 * naming the field with nothing stored, 404, 409 for code schedules, preview, backfill, the
 * history's trigger filter and the `schedule` change on the live stream.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../engine/clock";
import { ETL_FLOW, api, serveTestEngine } from "./helpers";

const T0 = Date.parse("2026-06-01T10:00:00Z");
const { env, fresh } = serveTestEngine();

describe("schedule routes", () => {
  let flowId: string;
  let http: ReturnType<typeof api>;

  beforeEach(async () => {
    fresh({ clock: new ManualClock(T0) });
    http = api(env);
    flowId = (await http.worker().register([ETL_FLOW])).body.flows[0].id;
  });

  const create = (body: unknown) => http.post(`/api/flows/${flowId}/schedules`, body);
  const count = async () => (await http.get(`/api/flows/${flowId}/schedules`)).body.schedules.length;

  it("create → 201 with the documented shape, list, get, patch, delete → 204", async () => {
    const made = await create({ cron: "0 6 * * *", timezone: "Europe/Berlin", parameters: { day: "today" } });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^\d+$/),
      flowId,
      flowName: "Daily Sales ETL",
      cron: "0 6 * * *",
      intervalSeconds: null,
      anchor: null,
      timezone: "Europe/Berlin",
      parameters: { day: "today" },
      active: true,
      catchup: "skip",
      overlap: "allow",
      source: "api",
      description: "At 06:00, Europe/Berlin",
      nextRuns: ["2026-06-02T04:00:00.000Z", "2026-06-03T04:00:00.000Z", "2026-06-04T04:00:00.000Z", "2026-06-05T04:00:00.000Z", "2026-06-06T04:00:00.000Z"],
      nextFireAt: "2026-06-02T04:00:00.000Z",
      lastFiredFor: null,
      createdAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    const id = made.body.id;
    expect((await http.get(`/api/flows/${flowId}/schedules`)).body.schedules.map((s: { id: string }) => s.id)).toEqual([id]);
    expect((await http.get(`/api/schedules/${id}`)).body.cron).toBe("0 6 * * *");
    const patched = await http.call("PATCH", `/api/schedules/${id}`, { intervalSeconds: 3600, overlap: "queue" });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ cron: null, intervalSeconds: 3600, overlap: "queue", description: "Every hour", nextFireAt: "2026-06-01T11:00:00.000Z" });
    const gone = await http.call("DELETE", `/api/schedules/${id}`);
    expect(gone.status).toBe(204);
    expect(gone.body).toBe("");
    expect((await http.get(`/api/schedules/${id}`)).status).toBe(404);
    expect((await http.call("DELETE", `/api/schedules/${id}`)).status).toBe(404);
  });

  it.each([
    [{ cron: "61 * * * *" }, "cron"],
    [{ cron: "* * * *" }, "cron"],
    [{}, "cron"],
    [{ cron: "* * * * *", timezone: "Mars/Olympus" }, "timezone"],
    [{ intervalSeconds: 0 }, "intervalSeconds"],
    [{ intervalSeconds: -5 }, "intervalSeconds"],
    [{ intervalSeconds: 2.5 }, "intervalSeconds"],
    [{ intervalSeconds: 60, anchor: "yesterday" }, "anchor"],
    [{ cron: "* * * * *", parameters: { limit: "many" } }, "parameters.limit"],
    [{ cron: "* * * * *", parameters: { nope: 1 } }, "parameters.nope"],
    [{ cron: "* * * * *", catchup: "sometimes" }, "catchup"],
    [{ cron: "* * * * *", overlap: "maybe" }, "overlap"],
    [{ cron: "* * * * *", active: "yes" }, "active"],
  ])("%j → 400 naming %s, nothing stored", async (body, field) => {
    const r = await create(body);
    expect(r.status).toBe(400);
    expect(r.body.error.details.field).toBe(field);
    expect(r.body.error.message).not.toMatch(/\n\s+at /);
    expect(await count()).toBe(0);
  });

  it("a bad patch is 400 and changes nothing; unknown ids are 404", async () => {
    const { body: s } = await create({ intervalSeconds: 60 });
    const r = await http.call("PATCH", `/api/schedules/${s.id}`, { cron: "nope" });
    expect(r.status).toBe(400);
    expect(r.body.error.details.field).toBe("cron");
    expect((await http.get(`/api/schedules/${s.id}`)).body).toEqual(s);
    expect((await http.call("PATCH", `/api/schedules/999`, { active: false })).status).toBe(404);
    expect((await http.call("PATCH", `/api/schedules/abc`, { active: false })).status).toBe(404);
    expect((await http.get(`/api/flows/999/schedules`)).status).toBe(404);
    expect((await http.post(`/api/flows/999/schedules`, { intervalSeconds: 60 })).status).toBe(404);
  });

  it("code schedules come with the registration; only `active` can change here (409 otherwise)", async () => {
    await http.worker().register([{ ...ETL_FLOW, schedules: [{ cron: "*/5 * * * *" }] }]);
    const [s] = (await http.get(`/api/flows/${flowId}/schedules`)).body.schedules;
    expect(s).toMatchObject({ source: "code", cron: "*/5 * * * *", description: "Every 5 minutes, UTC" });
    expect((await http.call("PATCH", `/api/schedules/${s.id}`, { active: false })).body.active).toBe(false);
    const refused = await http.call("PATCH", `/api/schedules/${s.id}`, { cron: "0 * * * *" });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/defined in code/);
    expect((await http.call("DELETE", `/api/schedules/${s.id}`)).status).toBe(409);
    const bad = await http.worker().register([{ ...ETL_FLOW, schedules: [{ intervalSeconds: 60, timezone: "Nowhere/Land" }] }]);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("flows.0.schedules.0.timezone");
    expect((await http.get(`/api/flows/${flowId}/schedules`)).body.schedules.map((x: { id: string }) => x.id)).toEqual([s.id]);
  });

  it("preview: the next fire times and the wording; bad fields are 400 naming them", async () => {
    const r = await http.get(`/api/schedules/preview?cron=${encodeURIComponent("30 2 * * *")}&timezone=Europe/Berlin&from=2026-03-28T12:00:00Z&count=2`);
    expect(r.body).toEqual({ times: ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"], description: "At 02:30, Europe/Berlin" });
    expect((await http.get(`/api/schedules/preview?intervalSeconds=900`)).body.times[0]).toBe("2026-06-01T10:15:00.000Z");
    for (const [q, field] of [
      ["cron=61+*+*+*+*", "cron"],
      ["cron=*+*+*+*+*&timezone=Nope", "timezone"],
      ["intervalSeconds=0", "intervalSeconds"],
      ["cron=*+*+*+*+*&count=500", "count"],
      ["", "cron"],
    ]) {
      const bad = await http.get(`/api/schedules/preview?${q}`);
      expect([q, bad.status, bad.body.error?.details?.field]).toEqual([q, 400, field]);
    }
  });

  it("backfill: dry run 200 with the count, then 201 with the runs; bounds are 400 naming the field", async () => {
    const { body: s } = await create({ intervalSeconds: 3600 });
    const range = { scheduleId: s.id, from: "2026-05-31T10:00:00Z", to: "2026-06-01T09:00:00Z" };
    const dry = await http.post(`/api/flows/${flowId}/backfill`, { ...range, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ count: 24, skipped: 0 });
    expect(dry.body.times).toHaveLength(24);
    const made = await http.post(`/api/flows/${flowId}/backfill`, range);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ count: 24, skipped: 0 });
    const runs = (await http.get(`/api/runs?trigger=schedule&scheduleId=${s.id}&limit=200`)).body.runs;
    expect(runs.map((r: { id: string }) => r.id).sort()).toEqual([...made.body.runs].sort());
    expect(runs[0]).toMatchObject({ trigger: "schedule", scheduleId: s.id, scheduledFor: "2026-06-01T09:00:00.000Z" });
    for (const [body, field] of [
      [{ ...range, from: "2026-01-01T00:00:00Z" }, "to"],
      [{ ...range, to: "2026-05-01T00:00:00Z" }, "to"],
      [{ ...range, scheduleId: "999" }, "scheduleId"],
      [{ ...range, from: "soon" }, "from"],
    ] as const) {
      const bad = await http.post(`/api/flows/${flowId}/backfill`, body);
      expect([bad.status, bad.body.error.details.field]).toEqual([400, field]);
    }
    expect((await http.get(`/api/runs?trigger=schedule&limit=200`)).body.runs).toHaveLength(24);
  });

  it("history: trigger filter (repeatable or comma-separated); a bad value is 400 naming it", async () => {
    await http.post(`/api/flows/${flowId}/runs`, {}, { "x-perfect-ui": "1" });
    await http.post(`/api/flows/${flowId}/runs`, {});
    const triggers = async (q: string) => (await http.get(`/api/runs?${q}`)).body.runs.map((r: { trigger: string }) => r.trigger);
    expect(await triggers("trigger=ui")).toEqual(["ui"]);
    expect(await triggers("trigger=ui,api")).toEqual(["api", "ui"]);
    expect(await triggers("trigger=schedule&trigger=local")).toEqual([]);
    const bad = await http.get(`/api/runs?trigger=cron`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toMatch(/^trigger/);
  });

  it("refuses a cross-site create like every mutation", async () => {
    const r = await http.post(`/api/flows/${flowId}/schedules`, { intervalSeconds: 60 }, { origin: "https://evil.example", "sec-fetch-site": "cross-site" });
    expect(r.status).toBe(403);
    expect(await count()).toBe(0);
  });
});
