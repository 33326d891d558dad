import { describe, expect, it } from "vitest";
import { MIN_LANE_TOLERANCE_MS, assignLanes, laneToleranceMs, type LaneSpan } from "@/components/runs/timeline-lanes";

const S = (start: number | null, end: number | null): LaneSpan => ({ start, end });

describe("assignLanes: table", () => {
  const cases: { name: string; spans: LaneSpan[]; lanes: (number | null)[]; count: number }[] = [
    { name: "no task runs", spans: [], lanes: [], count: 0 },
    { name: "nothing started yet", spans: [S(null, null), S(null, null)], lanes: [null, null], count: 0 },
    { name: "sequential, back to back: all on lane 0", spans: [S(0, 10), S(10, 20), S(20, 30)], lanes: [0, 0, 0], count: 1 },
    { name: "sequential with gaps", spans: [S(0, 10), S(15, 20), S(100, 130)], lanes: [0, 0, 0], count: 1 },
    { name: "fully parallel: one lane each", spans: [S(0, 10), S(0, 10), S(0, 10)], lanes: [0, 1, 2], count: 3 },
    { name: "staggered three, then one after they end: back to lane 0", spans: [S(0, 10), S(2, 12), S(4, 14), S(15, 20)], lanes: [0, 1, 2, 0], count: 3 },
    { name: "the lane that frees first is taken again", spans: [S(0, 10), S(1, 3), S(4, 6)], lanes: [0, 1, 1], count: 2 },
    { name: "the lowest free lane, not the one freed last", spans: [S(0, 5), S(1, 4), S(6, 8)], lanes: [0, 1, 0], count: 2 },
    { name: "several free: lowest first", spans: [S(0, 5), S(0, 5), S(0, 20), S(6, 7), S(6, 7)], lanes: [0, 1, 2, 0, 1], count: 3 },
    { name: "a lane freed below a busy one is reused before a new lane", spans: [S(0, 4), S(1, 50), S(2, 50), S(5, 9), S(6, 9)], lanes: [0, 1, 2, 0, 3], count: 4 },
    { name: "equal boundaries: a task starting as another ends shares its lane", spans: [S(0, 10), S(5, 10), S(10, 20), S(10, 20)], lanes: [0, 1, 0, 1], count: 2 },
    { name: "one ms of overlap needs a second lane", spans: [S(0, 11), S(10, 20)], lanes: [0, 1], count: 2 },
    { name: "instants (start = end) at the same time share lane 0", spans: [S(5, 5), S(5, 5), S(5, 5)], lanes: [0, 0, 0], count: 1 },
    { name: "an instant inside a running span goes beside it", spans: [S(0, 10), S(5, 5)], lanes: [0, 1], count: 2 },
    { name: "an end before the start (a skewed clock) is an instant", spans: [S(10, 3), S(10, 20)], lanes: [0, 0], count: 1 },
    { name: "running (no end) holds its lane: later tasks go beside it", spans: [S(0, null), S(5, 10), S(12, 20), S(30, null)], lanes: [0, 1, 1, 1], count: 2 },
    { name: "two running, one finished between them", spans: [S(0, null), S(1, 3), S(2, null), S(4, 6)], lanes: [0, 1, 2, 1], count: 3 },
    {
      // A task retried in place is one task run: its attempts are one span from its first start.
      name: "retries: a task run of attempt 3 spans all its attempts, one lane",
      spans: [S(0, 90), S(10, 20), S(30, 40), S(95, 100)],
      lanes: [0, 1, 1, 0],
      count: 2,
    },
    { name: "not started (PENDING) get no lane and do not count", spans: [S(0, 10), S(null, null), S(5, 15), S(null, null)], lanes: [0, null, 1, null], count: 2 },
    { name: "input order does not matter: by start time", spans: [S(15, 20), S(4, 14), S(0, 10), S(2, 12)], lanes: [0, 2, 0, 1], count: 3 },
    { name: "equal starts keep the input order", spans: [S(0, 30), S(0, 10), S(0, 20)], lanes: [0, 1, 2], count: 3 },
  ];
  it.each(cases)("$name", ({ spans, lanes, count }) => {
    expect(assignLanes(spans)).toEqual({ lanes, count });
  });
});

describe("assignLanes: an overlap up to the tolerance does not count", () => {
  // Recorded by the e2e suite (ms after the run's start): Daily Sales ETL's load_sales seems to
  // start 1 ms before transform_sales ended; E2E Long Flow's stages three and six 22 and 12 ms
  // before the previous one (the worker's clock offset estimate moved between batches).
  const etl = [S(0, 591), S(591, 896), S(895, 1125)];
  const long = [S(0, 107), S(107, 210), S(188, 291), S(291, 415), S(415, 528), S(516, 627)];
  const cases: { name: string; spans: LaneSpan[]; tolerance: number; lanes: (number | null)[]; count: number }[] = [
    { name: "a sequential flow 1 ms off, no tolerance: a spurious second lane", spans: etl, tolerance: 0, lanes: [0, 0, 1], count: 2 },
    { name: "the same with 5 ms: one lane", spans: etl, tolerance: 5, lanes: [0, 0, 0], count: 1 },
    { name: "six stages up to 22 ms off, no tolerance: lanes that are not there", spans: long, tolerance: 0, lanes: [0, 0, 1, 0, 0, 1], count: 2 },
    { name: "the same with the timeline's tolerance: one lane", spans: long, tolerance: MIN_LANE_TOLERANCE_MS, lanes: [0, 0, 0, 0, 0, 0], count: 1 },
    { name: "an overlap of exactly the tolerance is shared", spans: [S(0, 105), S(100, 200)], tolerance: 5, lanes: [0, 0], count: 1 },
    { name: "one ms more is parallel", spans: [S(0, 106), S(100, 200)], tolerance: 5, lanes: [0, 1], count: 2 },
    { name: "real parallelism is kept", spans: [S(0, 300), S(20, 320), S(40, 340), S(400, 500)], tolerance: 5, lanes: [0, 1, 2, 0], count: 3 },
    { name: "a running task never frees its lane, whatever the tolerance", spans: [S(0, null), S(5, 10), S(1000, 2000)], tolerance: 50, lanes: [0, 1, 1], count: 2 },
  ];
  it.each(cases)("$name", ({ spans, tolerance, lanes, count }) => {
    expect(assignLanes(spans, tolerance)).toEqual({ lanes, count });
  });
});

describe("laneToleranceMs: 50 ms, or 0.2 % of a long axis", () => {
  it.each([
    [0, 50],
    [1000, 50],
    [25_000, 50],
    [50_000, 100],
    [600_000, 1200],
    [Number.NaN, 50],
    [Number.POSITIVE_INFINITY, 50],
  ])("an axis of %s ms: %s ms", (axis, tolerance) => {
    expect(laneToleranceMs(axis)).toBe(tolerance);
  });
});

/** Deterministic pseudo-random numbers in [0, 1) (an LCG): the same 1,000 spans on every run. */
function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const overlaps = (a: LaneSpan, b: LaneSpan) => {
  const end = (s: LaneSpan) => (s.end === null ? Infinity : s.end);
  return a.start! < end(b) && b.start! < end(a);
};

/** The most spans running at one instant: ends before starts at equal times (half-open). */
function maxConcurrency(spans: LaneSpan[]): number {
  const points: [number, number][] = [];
  for (const s of spans) {
    if (s.start === null) continue;
    const end = s.end === null ? Infinity : s.end;
    points.push([s.start, 1], [end, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of points) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

describe("assignLanes: 1,000 task runs", () => {
  it("1,000 sequential tasks: one lane", () => {
    const spans = Array.from({ length: 1000 }, (_, i) => S(i * 10, i * 10 + 10));
    const { lanes, count } = assignLanes(spans);
    expect(count).toBe(1);
    expect(new Set(lanes)).toEqual(new Set([0]));
  });

  it("1,000 started at once: 1,000 lanes, in input order", () => {
    const spans = Array.from({ length: 1000 }, () => S(0, 100));
    const { lanes, count } = assignLanes(spans);
    expect(count).toBe(1000);
    expect(lanes).toEqual(spans.map((_, i) => i));
  });

  it("a map of 1,000 with 8 in parallel (max_parallel_tasks=8): 8 lanes, task i on lane i mod 8", () => {
    const spans = Array.from({ length: 1000 }, (_, i) => S(Math.floor(i / 8) * 10, Math.floor(i / 8) * 10 + 10));
    const { lanes, count } = assignLanes(spans);
    expect(count).toBe(8);
    expect(lanes).toEqual(spans.map((_, i) => i % 8));
  });

  it("1,000 random spans: never two overlapping on a lane, as many lanes as the peak, each on the lowest lane free at its start", () => {
    const next = random(16);
    const spans = Array.from({ length: 1000 }, () => {
      const start = Math.floor(next() * 10_000);
      const r = next();
      // Short tasks, some still running. (Instants are the table's: how many lanes a zero-length
      // span needs depends on which of two equal starts comes first, so no peak formula fits.)
      return S(start, r < 0.05 ? null : start + 1 + Math.floor(next() * 400));
    });
    spans.push(S(null, null), S(null, null));
    const { lanes, count } = assignLanes(spans);
    expect(count).toBe(maxConcurrency(spans));
    expect(lanes.slice(-2)).toEqual([null, null]);
    const byLane = new Map<number, number[]>();
    lanes.forEach((l, i) => {
      if (l !== null) byLane.set(l, [...(byLane.get(l) ?? []), i]);
    });
    expect([...byLane.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    for (const members of byLane.values()) {
      const sorted = [...members].sort((a, b) => spans[a].start! - spans[b].start! || a - b);
      for (let k = 1; k < sorted.length; k++) expect(overlaps(spans[sorted[k - 1]], spans[sorted[k]])).toBe(false);
    }
    // Lowest free: every lane below a span's own is held, at its start, by a span placed before it.
    const before = (a: number, b: number) => spans[a].start! < spans[b].start! || (spans[a].start === spans[b].start && a < b);
    lanes.forEach((lane, i) => {
      if (lane === null) return;
      for (let below = 0; below < lane; below++) {
        const holder = byLane.get(below)!.find((j) => before(j, i) && (spans[j].end === null || spans[j].end! > spans[i].start!));
        expect(holder, `span ${i} on lane ${lane}: lane ${below} was free at its start`).toBeDefined();
      }
    });
  });
});
