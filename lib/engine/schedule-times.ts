/**
 * When a schedule fires: cron expressions (parsed and stepped by croner — never its timers;
 * the scheduler owns time through the engine's clock) and fixed intervals, in an IANA time
 * zone, with the SPEC's DST rule. croner matches the pattern on wall-clock time; this module
 * places each matching wall time in the zone exactly once:
 *  - a wall time inside a gap (clocks jump forward) fires at the first instant after the gap;
 *  - a wall time that occurs twice (clocks go back) fires once, at its first occurrence — also
 *    for hourly and per-second patterns, where Vixie cron (and croner in a zone) fire in both.
 * Pure functions of their inputs; the table of cases is in docs/SCHEDULES.md.
 */
import { Cron } from "croner";
import cronstrue from "cronstrue";
import type { ScheduleSpec } from "../domain/records";

/** Intervals of at most a year; cron patterns are checked by croner. */
export const MAX_INTERVAL_SECONDS = 365 * 24 * 3600;

export class ScheduleSpecError extends Error {
  constructor(
    readonly field: "cron" | "timezone" | "intervalSeconds" | "anchor",
    message: string,
  ) {
    super(message);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's formatter (cached); throws ScheduleSpecError for a name that is not an IANA zone. */
function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: timezone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    } catch {
      throw new ScheduleSpecError("timezone", `unknown time zone "${timezone}" (expected an IANA name such as Europe/Berlin)`);
    }
    if (formatters.size > 1000) formatters.clear();
    formatters.set(timezone, f);
  }
  return f;
}

export function checkTimezone(timezone: string): void {
  if (!timezone || timezone.length > 64) throw new ScheduleSpecError("timezone", "expected an IANA time zone name");
  formatter(timezone);
}

/** The zone's offset from UTC at an instant, in ms (wall clock − UTC). */
export function offsetAt(timezone: string, t: number): number {
  const parts = formatter(timezone).formatToParts(new Date(t));
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return wall - Math.floor(t / 1000) * 1000;
}

/**
 * The instant a wall-clock time (given as ms, read as UTC) names in the zone: its first
 * occurrence when it occurs twice, the first instant after the gap when it does not exist.
 */
export function wallToInstant(timezone: string, wall: number): number {
  const offsets = new Set([offsetAt(timezone, wall - 86_400_000), offsetAt(timezone, wall), offsetAt(timezone, wall + 86_400_000)]);
  let first: number | null = null;
  for (const o of offsets) {
    const t = wall - o;
    if (offsetAt(timezone, t) === o && (first === null || t < first)) first = t;
  }
  if (first !== null) return first;
  // In a gap: the transition lies between the instants the two offsets give; find it.
  const sorted = [...offsets].sort((a, b) => a - b);
  let lo = wall - sorted[sorted.length - 1]; // before the transition
  let hi = wall - sorted[0]; // after it
  const before = offsetAt(timezone, lo);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(timezone, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

const cronCache = new Map<string, Cron>();

/** The parsed pattern (cached); throws ScheduleSpecError naming `cron` or `timezone`. */
function cronOf(pattern: string, timezone: string): Cron {
  const key = `${timezone}\u0000${pattern}`;
  let c = cronCache.get(key);
  if (c) return c;
  const fields = pattern.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new ScheduleSpecError("cron", `expected 5 fields (minute hour day month weekday) or 6 with seconds first, got ${fields.length}`);
  }
  checkTimezone(timezone);
  try {
    c = new Cron(fields.join(" "), { timezone: "Etc/UTC", paused: true });
  } catch (e) {
    const text = e instanceof Error ? e.message.replace(/^CronPattern:\s*/, "") : "invalid pattern";
    throw new ScheduleSpecError("cron", `invalid cron pattern: ${text}`);
  }
  if (cronCache.size > 5000) cronCache.clear();
  cronCache.set(key, c);
  return c;
}

/** Default anchor of an interval: 2020-01-01 00:00 wall-clock time in its zone. */
export function defaultAnchor(timezone: string): number {
  const utc = Date.UTC(2020, 0, 1);
  return utc - offsetAt(timezone, utc);
}

type Timing = Pick<ScheduleSpec, "cron" | "intervalSeconds" | "anchor" | "timezone">;

/** Checks a schedule's timing fields; throws ScheduleSpecError naming the bad one. */
export function checkTiming(s: Timing): void {
  checkTimezone(s.timezone);
  if ((s.cron === null) === (s.intervalSeconds === null)) {
    throw new ScheduleSpecError("cron", "give exactly one of cron or intervalSeconds");
  }
  if (s.cron !== null) {
    if (s.cron.length > 200) throw new ScheduleSpecError("cron", "longer than 200 characters");
    // A pattern that can never fire (30 February) is refused too.
    if (cronOf(s.cron, s.timezone).nextRun(new Date(Date.UTC(2020, 0, 1))) === null) throw new ScheduleSpecError("cron", "this pattern never fires");
  } else {
    const n = s.intervalSeconds!;
    if (!Number.isInteger(n) || n < 1 || n > MAX_INTERVAL_SECONDS) {
      throw new ScheduleSpecError("intervalSeconds", `expected a whole number of seconds from 1 to ${MAX_INTERVAL_SECONDS}`);
    }
  }
}

/** The first fire time strictly after `after` (ms), or null when there is none. */
export function nextFireTime(s: Timing, after: number): number | null {
  if (s.intervalSeconds !== null) {
    const step = s.intervalSeconds * 1000;
    const anchor = s.anchor ?? defaultAnchor(s.timezone);
    const k = Math.floor((after - anchor) / step) + 1;
    return anchor + Math.max(k, 0) * step;
  }
  // The pattern is matched on wall-clock time (croner in UTC), then each wall time is placed
  // in the zone once: that is the whole DST rule. A wall time whose instant is not after
  // `after` already happened (its first occurrence, before the clocks went back): skipped.
  const c = cronOf(s.cron!, s.timezone);
  let wall = after + offsetAt(s.timezone, after);
  for (let guard = 0; guard < 100_000; guard++) {
    const d = c.nextRun(new Date(wall));
    if (!d) return null;
    wall = d.getTime();
    const t = wallToInstant(s.timezone, wall);
    if (t > after) return t;
  }
  return null;
}

/** The next `count` fire times strictly after `after`. */
export function nextFireTimes(s: Timing, after: number, count: number): number[] {
  const out: number[] = [];
  let t: number | null = after;
  while (out.length < count && (t = nextFireTime(s, t)) !== null) out.push(t);
  return out;
}

/** Every fire time in [from, to], at most `max` + 1 of them (the caller refuses more than `max`). */
export function fireTimesBetween(s: Timing, from: number, to: number, max: number): number[] {
  const out: number[] = [];
  let t: number | null = from - 1;
  while ((t = nextFireTime(s, t)) !== null && t <= to) {
    out.push(t);
    if (out.length > max) break;
  }
  return out;
}

function plural(n: number, unit: string): string {
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}

/** Human wording: "At 06:00, Europe/Berlin", "every 15 minutes". */
export function describeSchedule(s: Timing): string {
  if (s.intervalSeconds !== null) {
    const n = s.intervalSeconds;
    const text =
      n % 86400 === 0 ? plural(n / 86400, "day") : n % 3600 === 0 ? plural(n / 3600, "hour") : n % 60 === 0 ? plural(n / 60, "minute") : plural(n, "second");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  let text: string;
  try {
    text = cronstrue.toString(s.cron!, { use24HourTimeFormat: true, verbose: false });
  } catch {
    text = s.cron!;
  }
  return `${text}, ${s.timezone}`;
}
