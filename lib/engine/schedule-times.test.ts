import { describe, expect, it } from "vitest";
import { ScheduleSpecError, checkTiming, describeSchedule, fireTimesBetween, nextFireTimes } from "./schedule-times";

const cron = (c: string, timezone: string) => ({ cron: c, intervalSeconds: null, anchor: null, timezone });
const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());
const at = (s: string) => Date.parse(s);

/**
 * The DST table of docs/SCHEDULES.md: a time in a gap fires at the first instant after it; a
 * wall-clock time that occurs twice fires once, at its first occurrence.
 * 2026: Europe/Berlin 29 Mar 02:00→03:00 (01:00Z), 25 Oct 03:00→02:00 (01:00Z);
 *       America/New_York 8 Mar 02:00→03:00 (07:00Z), 1 Nov 02:00→01:00 (06:00Z).
 */
const TABLE: { name: string; cron: string; tz: string; from: string; want: string[] }[] = [
  { name: "Berlin spring, daily 02:30 (in the gap) → 03:00 CEST", cron: "30 2 * * *", tz: "Europe/Berlin", from: "2026-03-28T12:00:00Z",
    want: ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"] },
  { name: "Berlin spring, hourly: 01:00 CET, then 03:00 CEST (02:00 does not exist)", cron: "0 * * * *", tz: "Europe/Berlin", from: "2026-03-28T23:30:00Z",
    want: ["2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"] },
  { name: "Berlin autumn, daily 02:30 (twice) → once, CEST", cron: "30 2 * * *", tz: "Europe/Berlin", from: "2026-10-24T12:00:00Z",
    want: ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"] },
  { name: "Berlin autumn, hourly: 02:00 CEST once, the repeated 02:00 CET skipped, then 03:00", cron: "0 * * * *", tz: "Europe/Berlin", from: "2026-10-24T23:30:00Z",
    want: ["2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"] },
  { name: "Berlin autumn, every 20 s at 02:30 (6 fields): the first 02:30 minute only", cron: "*/20 30 2 * * *", tz: "Europe/Berlin", from: "2026-10-25T00:00:00Z",
    want: ["2026-10-25T00:30:00.000Z", "2026-10-25T00:30:20.000Z", "2026-10-25T00:30:40.000Z", "2026-10-26T01:30:00.000Z"] },
  { name: "Berlin spring, every 30 s at 02:15 (6 fields, in the gap) → once at 03:00 CEST", cron: "*/30 15 2 * * *", tz: "Europe/Berlin", from: "2026-03-29T00:00:00Z",
    want: ["2026-03-29T01:00:00.000Z", "2026-03-30T00:15:00.000Z", "2026-03-30T00:15:30.000Z"] },
  { name: "New York spring, daily 02:30 (in the gap) → 03:00 EDT", cron: "30 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00Z",
    want: ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"] },
  { name: "New York spring, hourly: 01:00 EST, 03:00 EDT", cron: "0 * * * *", tz: "America/New_York", from: "2026-03-08T05:30:00Z",
    want: ["2026-03-08T06:00:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-08T08:00:00.000Z"] },
  { name: "New York autumn, daily 01:30 (twice) → once, EDT", cron: "30 1 * * *", tz: "America/New_York", from: "2026-10-31T12:00:00Z",
    want: ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"] },
  { name: "New York autumn, hourly: 01:00 EDT once, the repeated 01:00 EST skipped, then 02:00 EST", cron: "0 * * * *", tz: "America/New_York", from: "2026-11-01T04:30:00Z",
    want: ["2026-11-01T05:00:00.000Z", "2026-11-01T07:00:00.000Z", "2026-11-01T08:00:00.000Z"] },
  { name: "New York autumn, every 15 s at 01:59 (6 fields): the EDT minute only", cron: "*/15 59 1 * * *", tz: "America/New_York", from: "2026-11-01T05:58:00Z",
    want: ["2026-11-01T05:59:00.000Z", "2026-11-01T05:59:15.000Z", "2026-11-01T05:59:30.000Z", "2026-11-01T05:59:45.000Z", "2026-11-02T06:59:00.000Z"] },
];

describe("fire times across DST (the table of docs/SCHEDULES.md)", () => {
  for (const row of TABLE) {
    it(row.name, () => {
      expect(iso(nextFireTimes(cron(row.cron, row.tz), at(row.from), row.want.length))).toEqual(row.want);
    });
  }

  it("UTC never skips: hourly through both dates", () => {
    expect(nextFireTimes(cron("0 * * * *", "UTC"), at("2026-10-25T00:30:00Z"), 3)).toEqual([at("2026-10-25T01:00:00Z"), at("2026-10-25T02:00:00Z"), at("2026-10-25T03:00:00Z")]);
  });
});

describe("intervals", () => {
  const every = (intervalSeconds: number, anchor: number | null = null, timezone = "UTC") => ({ cron: null, intervalSeconds, anchor, timezone });

  it("count from the anchor in elapsed time: DST does not move them", () => {
    const s = every(3600, at("2026-10-25T00:00:00Z"), "Europe/Berlin");
    expect(iso(nextFireTimes(s, at("2026-10-25T00:00:00Z"), 3))).toEqual(["2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]);
  });

  it("default to midnight of 2020-01-01 in their zone, so code schedules are stable across registrations", () => {
    expect(iso(nextFireTimes(every(86400, null, "Europe/Berlin"), at("2026-12-01T12:00:00Z"), 1))).toEqual(["2026-12-01T23:00:00.000Z"]);
    expect(iso(nextFireTimes(every(900), at("2026-12-01T12:07:00Z"), 2))).toEqual(["2026-12-01T12:15:00.000Z", "2026-12-01T12:30:00.000Z"]);
  });

  it("are strictly after the given time, also exactly on a fire time", () => {
    expect(nextFireTimes(every(60), at("2026-12-01T12:00:00Z"), 1)).toEqual([at("2026-12-01T12:01:00Z")]);
  });

  it("list a closed range, bounded", () => {
    expect(fireTimesBetween(every(60), at("2026-12-01T12:00:00Z"), at("2026-12-01T12:03:00Z"), 1000)).toHaveLength(4);
    expect(fireTimesBetween(every(1), at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"), 1000)).toHaveLength(1001);
  });
});

describe("checks name the bad field", () => {
  const field = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (e instanceof ScheduleSpecError) return `${e.field}: ${e.message}`;
      throw e;
    }
    return "accepted";
  };
  it.each([
    [{ cron: "61 * * * *", intervalSeconds: null }, /^cron: invalid cron pattern/],
    [{ cron: "* * * *", intervalSeconds: null }, /^cron: expected 5 fields/],
    [{ cron: "0 0 * * * * 2026", intervalSeconds: null }, /^cron: expected 5 fields/],
    [{ cron: "0 0 30 2 *", intervalSeconds: null }, /^cron: this pattern never fires/],
    [{ cron: null, intervalSeconds: 0 }, /^intervalSeconds: /],
    [{ cron: null, intervalSeconds: 1.5 }, /^intervalSeconds: /],
    [{ cron: null, intervalSeconds: null }, /^cron: give exactly one/],
    [{ cron: "* * * * *", intervalSeconds: 60 }, /^cron: give exactly one/],
  ])("%j", (given, want) => {
    expect(field(() => checkTiming({ anchor: null, timezone: "UTC", ...given }))).toMatch(want);
  });
  it("an unknown time zone", () => {
    expect(field(() => checkTiming({ cron: "* * * * *", intervalSeconds: null, anchor: null, timezone: "Mars/Olympus" }))).toMatch(/^timezone: unknown time zone/);
  });
});

describe("descriptions", () => {
  it("say when and where", () => {
    expect(describeSchedule(cron("0 6 * * *", "Europe/Berlin"))).toBe("At 06:00, Europe/Berlin");
    expect(describeSchedule({ cron: null, intervalSeconds: 900, anchor: null, timezone: "UTC" })).toBe("Every 15 minutes");
    expect(describeSchedule({ cron: null, intervalSeconds: 1, anchor: null, timezone: "UTC" })).toBe("Every second");
  });
});
