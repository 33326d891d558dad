import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ClientRegistry, parseClientsFile } from "../clients-file";
import { ManualClock } from "../engine/clock";
import type { Engine } from "../engine/engine";
import { summarize } from "../engine/outliers";
import { TEST_CLIENTS, createTestEngine } from "../../test/support/test-engine";

const FLOW = { name: "Perf", description: "", tags: {}, tasks: [{ name: "work", estimatedTime: 1000 }, { name: "tail", estimatedTime: 100 }], parameters: [] };

async function setup(sensitivity: "normal" | "aggressive" | "conservative" = "normal") {
  const clients = TEST_CLIENTS.map((c) => (c.id === "acme" ? { ...c, performanceSensitivity: sensitivity } : c));
  const made = createTestEngine({ clients });
  const reg = await made.engine.register("acme", { worker: {}, flows: [FLOW as any] });
  return { ...made, clock: made.clock as ManualClock, workerId: reg.workerId, flowId: reg.flows[0].id };
}

/** Runs one full run whose "work" task takes `ms` (or fails), advancing the clock for real. */
async function runOnce(e: Engine, clock: ManualClock, workerId: string, flowId: string, ms: number, outcome: "COMPLETED" | "FAILED" = "COMPLETED") {
  const run = await e.triggerRun(flowId, {}, "api");
  await e.claim("acme", workerId, 1);
  await e.applyEvents("acme", run.id, { workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }] });
  clock.advance(ms);
  const end = outcome === "COMPLETED"
    ? [{ seq: 2, type: "task_completed" as const, call: 0, durationMs: ms }, { seq: 3, type: "run_completed" as const }]
    : [{ seq: 2, type: "task_failed" as const, call: 0, durationMs: ms, error: "boom" }, { seq: 3, type: "run_failed" as const, error: "boom" }];
  await e.applyEvents("acme", run.id, { workerId, events: end });
  return run.id;
}

const stat = async (e: Engine) => (await e.listTaskStats()).stats.find((s) => s.taskName === "work")!;

describe("rolling statistics", () => {
  it("are mean, σ and count of COMPLETED durations; failed runs never enter the baseline", async () => {
    const { engine, clock, workerId, flowId } = await setup();
    for (const ms of [1000, 1100, 900]) await runOnce(engine, clock, workerId, flowId, ms);
    await runOnce(engine, clock, workerId, flowId, 50_000, "FAILED");
    const s = (await stat(engine));
    expect(s.samples).toBe(3);
    expect(s.meanMs).toBeCloseTo(1000, 9);
    expect(s.stddevMs).toBeCloseTo(summarize([1000, 1100, 900]).stddev, 9);
    expect(s.recentMs).toEqual([1000, 1100, 900]);
    expect(s.threshold).toBeNull(); // fewer than 5 samples: nothing is judged
  });

  it("roll past 100: only the last 100 completed task runs count", async () => {
    const { engine, clock, workerId, flowId } = await setup();
    for (let i = 1; i <= 130; i++) await runOnce(engine, clock, workerId, flowId, i);
    const s = (await stat(engine));
    expect(s.samples).toBe(100);
    expect(s.meanMs).toBeCloseTo(summarize(Array.from({ length: 100 }, (_, i) => i + 31)).mean, 9);
    expect(s.recentMs[0]).toBe(31);
    expect(s.recentMs.at(-1)).toBe(130);
    expect(s.threshold).toBe(3.3);
  });

  it("the flagged duration is judged against the baseline before it", async () => {
    const { engine, clock, workerId, flowId } = await setup();
    for (const ms of [1000, 1100, 900, 1000, 1000]) await runOnce(engine, clock, workerId, flowId, ms);
    const before = (await stat(engine));
    const slow = await runOnce(engine, clock, workerId, flowId, 1500);
    const t = (await engine.getRun(slow)).taskRuns[0];
    expect(t.warning).toBe("SLOW");
    expect(t.zScore).toBeCloseTo((1500 - before.meanMs) / before.stddevMs, 6);
    expect(t.threshold).toBe(5);
    expect((await stat(engine)).samples).toBe(6); // it enters the baseline afterwards
  });
});

describe("live evaluation while the task runs (controlled clock)", () => {
  it("SLOW, then CRITICAL as time advances, and CRITICAL stays when it completes", async () => {
    const { engine, clock, workerId, flowId } = await setup();
    for (const ms of [1000, 1100, 900, 1000, 1000]) await runOnce(engine, clock, workerId, flowId, ms);
    const sigma = summarize([1000, 1100, 900, 1000, 1000]).stddev; // ≈ 63 ms, above the 5 % floor
    const run = await engine.triggerRun(flowId, {}, "api");
    await engine.claim("acme", workerId, 1);
    await engine.applyEvents("acme", run.id, { workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }] });
    const changes: string[] = [];
    engine.feed.subscribe((c) => changes.push(c.kind));
    clock.advance(1000 + 4.9 * sigma);
    await engine.tick();
    expect((await engine.getRun(run.id)).taskRuns[0].warning).toBeNull();
    clock.advance(0.2 * sigma);
    await engine.tick();
    let t = (await engine.getRun(run.id)).taskRuns[0];
    expect(t.state).toBe("RUNNING");
    expect(t.warning).toBe("SLOW");
    expect(t.threshold).toBe(5);
    expect((await engine.getRun(run.id)).warning).toBe("SLOW");
    expect(changes).toContain("taskRun");
    clock.advance(5 * sigma);
    await engine.tick();
    t = (await engine.getRun(run.id)).taskRuns[0];
    expect(t.warning).toBe("CRITICAL");
    expect(t.zScore!).toBeGreaterThanOrEqual(10);
    await engine.applyEvents("acme", run.id, {
      workerId,
      events: [{ seq: 2, type: "task_completed", call: 0, durationMs: 1000 + 10.1 * sigma }, { seq: 3, type: "run_completed" }],
    });
    t = (await engine.getRun(run.id)).taskRuns[0];
    expect(t.state).toBe("COMPLETED");
    expect(t.warning).toBe("CRITICAL");
    expect((await engine.listRuns({ state: [], tag: [], limit: 1 } as any)).runs[0].warning).toBe("CRITICAL");
  });

  it("a change to the client's sensitivity affects the next evaluation", async () => {
    const { engine, clock, workerId, flowId } = await setup("conservative");
    for (const ms of [1000, 1000, 1000, 1000, 1000]) await runOnce(engine, clock, workerId, flowId, ms);
    // σ = 0 → floored to 50 ms. Conservative T = 7 → SLOW at 1350; aggressive T = 3 → SLOW at 1150.
    const run = await engine.triggerRun(flowId, {}, "api");
    await engine.claim("acme", workerId, 1);
    await engine.applyEvents("acme", run.id, { workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }] });
    clock.advance(1200);
    await engine.tick();
    expect((await engine.getRun(run.id)).taskRuns[0].warning).toBeNull();
    const aggressive = TEST_CLIENTS.map((c) => ({ ...c, performanceSensitivity: "aggressive" as const }));
    engine.clients.replace(parseClientsFile(JSON.stringify({ clients: aggressive }), "test"));
    await engine.tick();
    expect((await engine.getRun(run.id)).taskRuns[0].warning).toBe("SLOW");
    expect((await engine.listTaskStats()).stats[0].sensitivity).toBe("aggressive");
  });
});

describe("stall detection", () => {
  async function stallSetup() {
    const s = await setup();
    for (const ms of [1000, 1000, 1000, 1000, 1000]) await runOnce(s.engine, s.clock, s.workerId, s.flowId, ms);
    const run = await s.engine.triggerRun(s.flowId, {}, "api");
    await s.engine.claim("acme", s.workerId, 1);
    await s.engine.applyEvents("acme", run.id, {
      workerId: s.workerId,
      events: [
        { seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 },
        { seq: 2, type: "task_progress", call: 0, progress: 0.2 },
      ],
    });
    return { ...s, runId: run.id };
  }
  // Baseline σ = 0 → floored 50 ms; normal T = 5 below 20 samples → CRITICAL at 1000 + 10·50 = 1500 ms.

  it("heartbeats continue, progress frozen past the CRITICAL duration → stalled", async () => {
    const { engine, clock, workerId, runId } = await stallSetup();
    for (let i = 0; i < 4; i++) {
      clock.advance(400);
      await engine.heartbeat("acme", { workerId, runIds: [runId] });
      await engine.tick();
    }
    expect((await engine.getRun(runId)).taskRuns[0].stalled).toBe(true);
    expect((await engine.getRun(runId)).stalled).toBe(true);
    expect((await engine.getRun(runId)).state).toBe("RUNNING"); // stalled is not "client lost"
  });

  it("progress moving → not stalled (and a stalled task recovers when progress moves again)", async () => {
    const { engine, clock, workerId, runId } = await stallSetup();
    for (let i = 0; i < 6; i++) {
      clock.advance(400);
      await engine.applyEvents("acme", runId, { workerId, events: [{ seq: 3 + i, type: "task_progress", call: 0, progress: 0.3 + i * 0.1 }] });
      await engine.tick();
      expect((await engine.getRun(runId)).taskRuns[0].stalled).toBe(false);
    }
    clock.advance(1600);
    await engine.heartbeat("acme", { workerId, runIds: [runId] });
    await engine.tick();
    expect((await engine.getRun(runId)).taskRuns[0].stalled).toBe(true);
    await engine.applyEvents("acme", runId, { workerId, events: [{ seq: 9, type: "task_progress", call: 0, progress: 0.95 }] });
    expect((await engine.getRun(runId)).taskRuns[0].stalled).toBe(false);
  });
});

describe("ETA from history", () => {
  it("uses the mean with ≥ 5 samples and gives a ±1σ band", async () => {
    const { engine, clock, workerId, flowId } = await setup();
    for (const ms of [2000, 2200, 1800, 2000, 2000]) await runOnce(engine, clock, workerId, flowId, ms);
    const run = await engine.triggerRun(flowId, {}, "api");
    const sigma = summarize([2000, 2200, 1800, 2000, 2000]).stddev;
    expect(run.etaMs).toBe(2000 + 100); // "work" from history, "tail" from its estimate
    expect(run.etaLowMs).toBe(Math.round(2100 - sigma));
    expect(run.etaHighMs).toBe(Math.round(2100 + sigma));
  });
});

describe("clients file", () => {
  it("an invalid file names the field", async () => {
    expect(() => parseClientsFile(JSON.stringify({ clients: [{ id: "x", name: "X", token: "t", performanceSensitivity: "wild" }] }), "c.json")).toThrow(
      /clients\.0\.performanceSensitivity/,
    );
    expect(() => parseClientsFile(JSON.stringify({ clients: [{ id: "x", name: "X" }] }), "c.json")).toThrow(/clients\.0\.token/);
    expect(() => parseClientsFile("{", "c.json")).toThrow(/not valid JSON/);
  });
  it("compares tokens in constant time and refuses unknown clients", async () => {
    const reg = new ClientRegistry(parseClientsFile(JSON.stringify({ clients: TEST_CLIENTS }), "t"));
    expect(reg.authenticate("acme", "acme-token")).toBe(true);
    expect(reg.authenticate("acme", "acme-token ")).toBe(false);
    expect(reg.authenticate("acme", null)).toBe(false);
    expect(reg.authenticate("nobody", "acme-token")).toBe(false);
  });
  it("the shipped clients.json is valid and holds the example client", async () => {
    const cs = parseClientsFile(fs.readFileSync(path.join(process.cwd(), "clients.json"), "utf8"), "clients.json");
    expect(cs.map((c) => [c.id, c.sensitivity, c.devToken])).toEqual([["perfect_example", "normal", true]]);
  });
});
