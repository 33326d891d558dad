import { describe, expect, it } from "vitest";
import { estimateRemaining, expectedMs, resolveWeights, runProgress, taskFraction, type TaskProgressInput } from "./weighted-progress";

const NOW = 1_000_000;
const t = (over: Partial<TaskProgressInput>): TaskProgressInput => ({
  state: "PENDING",
  weight: 1000,
  reportedProgress: null,
  startedAt: null,
  baseline: null,
  ...over,
});

describe("resolveWeights", () => {
  it.each([
    [[3000, 2000, 1000], [3000, 2000, 1000]],
    [[3000, null, 1000], [3000, 2000, 1000]],
    [[null, null], [1000, 1000]],
    [[], []],
    [[500, undefined, 0], [500, 500, 500]],
  ])("%j → %j", (input, expected) => {
    expect(resolveWeights(input as (number | null)[])).toEqual(expected);
  });
});

describe("taskFraction", () => {
  it.each([
    ["completed", t({ state: "COMPLETED" }), 1],
    ["failed", t({ state: "FAILED" }), 1],
    ["cancelled", t({ state: "CANCELLED" }), 1],
    ["pending", t({ state: "PENDING" }), 0],
    ["running, reported", t({ state: "RUNNING", startedAt: NOW - 100, reportedProgress: 0.4 }), 0.4],
    ["running, half of estimate", t({ state: "RUNNING", startedAt: NOW - 500 }), 0.5],
    ["running, past estimate caps at 0.95", t({ state: "RUNNING", startedAt: NOW - 5000 }), 0.95],
    ["running, mean used at 5 samples", t({ state: "RUNNING", startedAt: NOW - 500, baseline: { mean: 2000, stddev: 10, samples: 5 } }), 0.25],
    ["running, estimate used at 4 samples", t({ state: "RUNNING", startedAt: NOW - 500, baseline: { mean: 2000, stddev: 10, samples: 4 } }), 0.5],
    ["running, not started yet", t({ state: "RUNNING" }), 0],
  ])("%s", (_name, task, expected) => {
    expect(taskFraction(task, NOW)).toBeCloseTo(expected, 10);
  });
});

describe("runProgress", () => {
  it.each([
    ["no tasks", [], 0],
    ["all pending", [t({}), t({})], 0],
    ["weights decide", [t({ state: "COMPLETED", weight: 3000 }), t({ weight: 1000 })], 0.75],
    ["light task done", [t({ state: "COMPLETED", weight: 1000 }), t({ weight: 3000 })], 0.25],
    [
      "mixed",
      [t({ state: "COMPLETED", weight: 3000 }), t({ state: "RUNNING", weight: 2000, reportedProgress: 0.5, startedAt: NOW }), t({ weight: 1000 })],
      (3000 + 1000) / 6000,
    ],
    ["failed counts as finished", [t({ state: "FAILED", weight: 1000 }), t({ weight: 1000 })], 0.5],
  ])("%s", (_name, tasks, expected) => {
    expect(runProgress(tasks as TaskProgressInput[], NOW)).toBeCloseTo(expected as number, 10);
  });
});

describe("estimateRemaining", () => {
  it("sums expected time of pending and the rest of running tasks", () => {
    const eta = estimateRemaining(
      [t({ state: "COMPLETED", weight: 3000 }), t({ state: "RUNNING", weight: 2000, startedAt: NOW - 500 }), t({ weight: 1000 })],
      NOW,
    );
    expect(eta).toEqual({ remainingMs: 1500 + 1000, lowMs: 2500, highMs: 2500 });
  });
  it("uses reported progress to extrapolate a running task", () => {
    const eta = estimateRemaining([t({ state: "RUNNING", weight: 2000, startedAt: NOW - 1000, reportedProgress: 0.25 })], NOW);
    expect(eta.remainingMs).toBeCloseTo(3000, 6);
  });
  it("gives a ±1σ band from historical spread", () => {
    const baseline = { mean: 1000, stddev: 300, samples: 10 };
    const eta = estimateRemaining([t({ baseline }), t({ baseline: { mean: 1000, stddev: 400, samples: 10 } })], NOW);
    expect(eta.remainingMs).toBe(2000);
    expect(eta.lowMs).toBeCloseTo(1500, 6);
    expect(eta.highMs).toBeCloseTo(2500, 6);
  });
  it("is zero when everything finished", () => {
    expect(estimateRemaining([t({ state: "COMPLETED" })], NOW)).toEqual({ remainingMs: 0, lowMs: 0, highMs: 0 });
  });
  it("an overdue running task adds nothing", () => {
    expect(estimateRemaining([t({ state: "RUNNING", startedAt: NOW - 9000 })], NOW).remainingMs).toBe(0);
  });
  it("expectedMs falls back to the weight below 5 samples", () => {
    expect(expectedMs({ weight: 700, baseline: { mean: 100, stddev: 1, samples: 4 } })).toBe(700);
    expect(expectedMs({ weight: 700, baseline: { mean: 100, stddev: 1, samples: 5 } })).toBe(100);
  });
});
