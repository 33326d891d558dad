/**
 * The lanes of a run's timeline: task runs whose [start, end) intervals overlap are drawn on
 * different rows. Greedy interval partitioning by start time, each task run to the lowest lane
 * free at its start: no more lanes than task runs ever running at once (the fewest possible),
 * sequential tasks all on lane 0, and a lane freed at t takes a task starting at t (half-open
 * intervals: a task that starts as the previous one ends follows it on the same row).
 * Pure (no React): the timeline recomputes it on each tick of its clock, O(n log n).
 *
 * `toleranceMs`: an overlap up to this long does not count. Recorded times are not exact: a
 * completed task run starts at its end minus its duration, and each batch of events is shifted
 * by the worker's clock offset as estimated when it arrived (the least latency seen lately), so
 * when that estimate moves between two batches, a task of a sequential flow seems to start
 * before the previous one ended — by 1 ms, and by 20 ms seen in the e2e suite on one machine.
 */

/** A task run's interval in ms; start null: not started (no lane); end null: still running. */
export interface LaneSpan {
  start: number | null;
  end: number | null;
}

export interface LaneLayout {
  /** Per input span, in input order: its lane (0 = the top row), or null when not started. */
  lanes: (number | null)[];
  /** How many lanes the started spans need. */
  count: number;
}

export function assignLanes(spans: readonly LaneSpan[], toleranceMs = 0): LaneLayout {
  const lanes: (number | null)[] = spans.map(() => null);
  const order: number[] = [];
  spans.forEach((s, i) => {
    if (s.start !== null && Number.isFinite(s.start)) order.push(i);
  });
  // By start time; equal starts keep the input order (the task runs' positions), so the first
  // of several tasks started together gets the top lane.
  order.sort((a, b) => spans[a].start! - spans[b].start! || a - b);
  const busy = new MinHeap<{ end: number; lane: number }>((a, b) => a.end - b.end || a.lane - b.lane);
  const free = new MinHeap<number>((a, b) => a - b);
  let count = 0;
  for (const i of order) {
    const { start, end } = spans[i] as { start: number; end: number | null };
    while (busy.size && busy.peek()!.end <= start + toleranceMs) free.push(busy.pop()!.lane);
    const lane = free.size ? free.pop()! : count++;
    lanes[i] = lane;
    // A running task (no end) holds its lane for good; an end before the start (a skewed
    // clock) is read as an instant at the start.
    busy.push({ end: end === null || Number.isNaN(end) ? Infinity : Math.max(end, start), lane });
  }
  return { lanes, count };
}

/**
 * The tolerance the timeline uses for an axis `axisMs` long: 50 ms, above the offset jitter of
 * a sequential flow's recorded times, or 0.2 % of the axis on a long run (never a visible
 * width). Task runs submitted together overlap by far more, and keep their lanes.
 */
export const MIN_LANE_TOLERANCE_MS = 50;
export function laneToleranceMs(axisMs: number): number {
  return Number.isFinite(axisMs) ? Math.max(MIN_LANE_TOLERANCE_MS, axisMs / 500) : MIN_LANE_TOLERANCE_MS;
}

/** A binary min-heap: the lanes freed so far and the ends of the busy ones. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(a[i], a[parent]) >= 0) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.compare(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.compare(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
