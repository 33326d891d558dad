import { ProtocolWorker } from "../test/support/protocol-worker";
import { E2E_CLIENT, E2E_TOKEN, LONG_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

/**
 * Parallel task runs on parallel lanes. A worker speaking the protocol itself (no SDK in
 * between, so the task runs' times are exactly the ones sent) starts three tasks that overlap,
 * then a fourth after they have all ended: three lanes, the fourth back on lane 0. The run's
 * weighted progress, computed by the server, is unchanged by the drawing: exact while the
 * fourth task runs, 1 at the end. And a sequential flow run by the Python SDK, whose recorded
 * times can seem to overlap by a few tens of ms (timeline-lanes.ts), stays on one lane.
 */
const FLOW = "E2E Lanes Flow";
// Weights: 1000 + 1000 + 2000 + 4000 = 8000 ms.
const DEFINITION = {
  name: FLOW,
  description: "Three overlapping tasks, then one after them (timeline-lanes.spec.ts).",
  tasks: [
    { name: "extract_a", estimatedTime: 1000 },
    { name: "extract_b", estimatedTime: 1000 },
    { name: "extract_c", estimatedTime: 2000 },
    { name: "load", estimatedTime: 4000 },
  ],
};

test("three overlapping task runs take three lanes, the one after them lane 0; the weighted progress stays exact", async ({ api, runPage, page, baseURL }) => {
  const worker = new ProtocolWorker(baseURL!, E2E_CLIENT, E2E_TOKEN);
  await worker.register([DEFINITION]);
  const running: string[] = [];
  // The suite's heartbeat timeout is 3 s: keep this worker alive while the page is looked at.
  const beat = setInterval(() => void worker.heartbeat(running).catch(() => {}), 500);
  try {
    const run = await api.trigger(FLOW);
    await expect.poll(async () => (await worker.poll(1)).map((r) => r.id), { intervals: [100, 200, 300] }).toEqual([run.id]);
    running.push(run.id);

    // Event times lie between the claim and the batch (the server caps them at its receipt); a
    // completed task run starts at its end minus its duration, so the two agree here.
    const t0 = Date.now();
    await page.waitForTimeout(600);
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    let seq = 0;
    const send = async (events: Record<string, unknown>[]) => {
      const r = await worker.events(run.id, events.map((e) => ({ seq: ++seq, ...e })), { sentAt: new Date().toISOString() });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.applied).toBe(events.length);
    };
    await send([
      { type: "task_started", call: 0, task: "extract_a", ts: at(0) },
      { type: "task_started", call: 1, task: "extract_b", ts: at(20) },
      { type: "task_started", call: 2, task: "extract_c", ts: at(40) },
      { type: "task_completed", call: 0, durationMs: 300, ts: at(300) },
      { type: "task_completed", call: 1, durationMs: 300, ts: at(320) },
      { type: "task_completed", call: 2, durationMs: 300, ts: at(340) },
      { type: "task_started", call: 3, task: "load", ts: at(400) },
      { type: "task_progress", call: 3, progress: 0.5, ts: at(450) },
    ]);

    await runPage.goto(run.id);
    await expect(runPage.state).toHaveText("RUNNING");
    await expect(runPage.timeline).toHaveAttribute("data-lanes", "3");
    await expect(runPage.timelineLanes).toHaveCount(3);
    const lanes = { extract_a: "0", extract_b: "1", extract_c: "2", load: "0" };
    for (const [name, lane] of Object.entries(lanes)) await expect(runPage.timelineBar(name)).toHaveAttribute("data-lane", lane);
    // Each bar keeps its accessible name (and tooltip), wherever its lane.
    await expect(page.getByRole("img", { name: /^extract_b: COMPLETED, / })).toHaveAttribute("data-lane", "1");
    await expect(page.getByRole("img", { name: /^load: RUNNING, / })).toHaveAttribute("data-lane", "0");
    await expect(page.getByRole("group", { name: "Lane 3" }).getByRole("img")).toHaveCount(1);
    // (1000 + 1000 + 2000 + 0.5 · 4000) / 8000: what the server says, to the digit.
    await expect(runPage.progressBar).toHaveAttribute("data-progress", "0.7500");
    expect((await api.run(run.id)).progress).toBe(0.75);

    await send([
      { type: "task_completed", call: 3, durationMs: 100, ts: at(500) },
      { type: "run_completed", ts: at(500) },
    ]);
    await expect(runPage.state).toHaveText("COMPLETED");
    await expect(runPage.progressBar).toHaveAttribute("data-progress", "1.0000");
    await expect(page.getByRole("img", { name: /^load: COMPLETED, / })).toHaveAttribute("data-lane", "0");
    await expect(runPage.timeline).toHaveAttribute("data-lanes", "3");
    const done = await api.run(run.id);
    expect(done.progress).toBe(1);
    expect(done.taskRuns.map((t) => [t.name, t.state])).toEqual([
      ["extract_a", "COMPLETED"],
      ["extract_b", "COMPLETED"],
      ["extract_c", "COMPLETED"],
      ["load", "COMPLETED"],
    ]);
  } finally {
    clearInterval(beat);
  }
});

test("a sequential flow run by the Python SDK stays on lane 0", async ({ api, runPage }) => {
  const stages = ["one", "two", "three", "four", "five", "six"].map((n) => `long_stage_${n}`);
  const run = await api.trigger(LONG_FLOW, { seconds: 0.1 });
  const done = await api.waitForRun(run.id);
  expect(done.state).toBe("COMPLETED");
  expect(done.taskRuns.map((t) => t.name)).toEqual(stages);
  const t0 = Date.parse(done.taskRuns[0].startedAt!);
  const spans = done.taskRuns.map((t) => `${t.name} ${Date.parse(t.startedAt!) - t0}..${Date.parse(t.endedAt!) - t0}`).join(", ");
  await runPage.goto(run.id);
  await expect(runPage.timeline, spans).toHaveAttribute("data-lanes", "1");
  for (const name of stages) await expect(runPage.timelineBar(name)).toHaveAttribute("data-lane", "0");
});
