/**
 * The flow page's window figures, runs chart, task statistics and concurrency (issue #20),
 * on the e2e Long Flow (six stages; `seconds` sets their length, `gate` holds the first one
 * until the test opens it). Every figure is compared with what the API answers for the same
 * window, never with a number written here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FlowSummaryView, FlowView, TaskStatView } from "../lib/contracts/dashboard";
import { formatRate } from "../components/charts/format";
import { formatDuration } from "../components/ui/time-format";
import { LONG_FLOW } from "./support/constants";
import { PerfectApi } from "./support/perfect-api";
import type { FlowPage } from "./pages/flow-page";
import { expect, test } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";

const FAST = { seconds: 0.05 };
const STATES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];
// globals.css: --color-st-slow, --color-st-critical, --color-magenta (the mean).
const SLOW = "#facc15";
const CRITICAL = "#ff4fa3";
const MEAN = "#f472d0";

async function summaryOf(request: APIRequestContext, flowId: string, window = "24h"): Promise<FlowSummaryView> {
  const r = await request.get(`/api/flows/${flowId}/summary?window=${window}`);
  expect(r.ok(), await r.text()).toBe(true);
  return (await r.json()) as FlowSummaryView;
}

async function statsOf(request: APIRequestContext, flowId: string): Promise<TaskStatView[]> {
  const r = await request.get(`/api/stats/tasks?flowId=${flowId}`);
  expect(r.ok(), await r.text()).toBe(true);
  return ((await r.json()) as { stats: TaskStatView[] }).stats;
}

/** The page's figures equal the API's summary of the same window. */
async function expectFigures(flowPage: FlowPage, s: FlowSummaryView): Promise<void> {
  await expect(flowPage.figure("total")).toHaveText(String(s.total));
  await expect(flowPage.figure("success-rate")).toHaveText(formatRate(s.successRate));
  await expect(flowPage.figure("p50")).toHaveText(formatDuration(s.p50Ms));
  await expect(flowPage.figure("p95")).toHaveText(formatDuration(s.p95Ms));
  for (const st of STATES) await expect(flowPage.stateCount(st), st).toHaveAttribute("data-value", String(s.counts[st as keyof typeof s.counts] ?? 0));
}

test.describe("flow page", () => {
  let flow: FlowView;
  let made: string[];

  test.beforeAll(async ({ request }) => {
    const api = new PerfectApi(request);
    made = (await api.completedRuns(LONG_FLOW, 5, FAST)).map((r) => r.id);
    flow = await api.flow(LONG_FLOW);
  });

  test("figures, runs chart and task statistics match what the API answers", async ({ flowPage, request }) => {
    await flowPage.gotoSummary(flow.id);
    const summary = await summaryOf(request, flow.id);
    expect(summary.window).toBe("24h");
    await expectFigures(flowPage, summary);
    expect(summary.counts.COMPLETED ?? 0).toBeGreaterThanOrEqual(made.length);

    // The chart was drawn (one canvas, a series per state shown), and its text alternative lists
    // the runs we made, each with the API's duration, as links to the run.
    const canvas = flowPage.runsChart.getByTestId("chart-canvas");
    await expect(canvas).toHaveAttribute("data-ready", "true");
    await expect(canvas.locator("canvas")).toHaveCount(1);
    expect((await canvas.getAttribute("data-series"))?.split("|")).toContain("COMPLETED");
    await expect(flowPage.runsChart.getByTestId("flow-runs-chart-caption")).toContainText(`${summary.total} runs in the last 24 hours`);
    await expect(flowPage.runsTableRows).toHaveCount(summary.runs.length);
    for (const id of made) {
      const point = summary.runs.find((r) => r.id === id);
      expect(point, `run ${id} is in the API's summary`).toBeTruthy();
      const row = flowPage.runsTableRow(id);
      await expect(row).toHaveAttribute("data-state", "COMPLETED");
      await expect(row.getByTestId("flow-runs-table-duration")).toHaveText(formatDuration(point!.durationMs));
      await expect(row.getByTestId("flow-runs-table-link")).toHaveAttribute("href", `/runs/${id}`);
    }
    // Oldest first, as the API gives them.
    expect(await flowPage.runsTableRows.evaluateAll((rs) => rs.map((r) => r.getAttribute("data-run-id")))).toEqual(summary.runs.map((r) => r.id));

    // Each task with its statistics and a duration chart whose threshold lines are drawn.
    const stats = await statsOf(request, flow.id);
    expect(stats.length).toBe(flow.tasks.length);
    for (const stat of stats) {
      const item = flowPage.taskStat(stat.taskName);
      await expect(item.getByTestId("task-stat-mean")).toHaveText(formatDuration(stat.meanMs));
      await expect(item.getByTestId("task-stat-stddev")).toHaveText(formatDuration(stat.stddevMs));
      await expect(item.getByTestId("task-stat-samples")).toHaveText(String(stat.samples));
      expect(stat.slowAtMs, `${stat.taskName} has thresholds after 5 runs`).not.toBeNull();
      await expect(item.getByTestId("task-stat-threshold")).toContainText(`SLOW ≥ ${formatDuration(stat.slowAtMs)}`);
      await expect(item.getByTestId("task-stat-threshold")).toContainText(`CRIT ≥ ${formatDuration(stat.criticalAtMs)}`);
      const chart = item.getByTestId("stats-chart");
      await expect(chart.getByTestId("chart-summary")).toContainText(`mean ${formatDuration(stat.meanMs)}`);
      await expect(chart.getByTestId("chart-summary")).toContainText(`SLOW at ${formatDuration(stat.slowAtMs)}`);
      await expect(chart.getByTestId("chart-summary")).toContainText(`CRITICAL at ${formatDuration(stat.criticalAtMs)}`);
      await expect(chart).toHaveAttribute("data-points", String(stat.recentMs.length));
      const host = chart.getByTestId("chart-canvas");
      await expect(host).toHaveAttribute("data-ready", "true");
      const series = (await host.getAttribute("data-series"))!.split("|");
      expect(series).toContain(`SLOW ≥ ${formatDuration(stat.slowAtMs)}`);
      expect(series).toContain(`CRITICAL ≥ ${formatDuration(stat.criticalAtMs)}`);
    }
    // The lines are on the canvas, in their colours (the y range spans the samples and both
    // thresholds, so the mean, SLOW and CRITICAL lines fall on different pixel rows).
    const first = flowPage.taskStat(flow.tasks[0].name).getByTestId("chart-canvas");
    expect(await flowPage.lineShare(first, MEAN)).toBeGreaterThan(0.4);
    expect(await flowPage.lineShare(first, SLOW)).toBeGreaterThan(0.3);
    expect(await flowPage.lineShare(first, CRITICAL)).toBeGreaterThan(0.3);

    // Concurrency: the flow's own limit and its active runs, as the API counts them.
    await expect(flowPage.concurrency.getByTestId("flow-max-active-runs")).toHaveText(flow.maxActiveRuns === null ? "no limit" : String(flow.maxActiveRuns));
    const active = (await (await request.get(`/api/runs?flowId=${flow.id}&state=RUNNING&state=PENDING&limit=200`)).json()) as { runs: { state: string }[] };
    await expect(flowPage.concurrency.getByTestId("flow-active-running")).toHaveAttribute("data-value", String(active.runs.filter((r) => r.state === "RUNNING").length));
    await expect(flowPage.concurrency.getByTestId("flow-active-pending")).toHaveAttribute("data-value", String(active.runs.filter((r) => r.state === "PENDING").length));
    await expect(flowPage.concurrency.getByRole("link", { name: "concurrency limits" })).toHaveAttribute("href", "/concurrency");
  });

  test("a run is one keyboard step or one click away from the chart", async ({ flowPage, page }) => {
    await flowPage.gotoSummary(flow.id);
    // Keyboard: the text alternative's links; the table shows itself while focus is inside it.
    const table = flowPage.runsChart.getByTestId("flow-runs-table");
    const link = flowPage.runsTableRow(made[0]).getByTestId("flow-runs-table-link");
    await link.focus();
    await expect(table).toBeInViewport();
    expect(await link.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(new RegExp(`/runs/${made[0]}$`));

    // Pointer: a click at the plot's right edge is nearest the newest run.
    await flowPage.gotoSummary(flow.id);
    const newest = await flowPage.runsTableRows.last().getAttribute("data-run-id");
    const over = flowPage.runsChart.locator(".u-over");
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.click(box.x + box.width - 1, box.y + box.height / 2);
    await expect(page).toHaveURL(new RegExp(`/runs/${newest}$`));
  });

  test("the window selector lives in the URL: reload, back and forward keep it", async ({ flowPage, page, request }) => {
    await flowPage.gotoSummary(flow.id);
    await expect(flowPage.windowButton("24h")).toHaveAttribute("aria-pressed", "true");
    await expect(flowPage.windowButton("7d")).toHaveAttribute("aria-pressed", "false");

    // From the keyboard, with a visible focus ring.
    await flowPage.windowButton("7d").focus();
    expect(await flowPage.windowButton("7d").evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/[?&]window=7d$/);
    await expect(flowPage.windowButton("7d")).toHaveAttribute("aria-pressed", "true");
    await expect(flowPage.windowButton("24h")).toHaveAttribute("aria-pressed", "false");
    await expect(flowPage.summary).toHaveAttribute("data-window", "7d");
    await flowPage.summaryLoaded();
    await expectFigures(flowPage, await summaryOf(request, flow.id, "7d"));

    await page.reload();
    await flowPage.summaryLoaded();
    await expect(flowPage.windowButton("7d")).toHaveAttribute("aria-pressed", "true");
    await expect(flowPage.summary).toHaveAttribute("data-window", "7d");

    await flowPage.windowButton("30d").click();
    await expect(page).toHaveURL(/[?&]window=30d$/);
    await flowPage.summaryLoaded();
    await expectFigures(flowPage, await summaryOf(request, flow.id, "30d"));
    await page.goBack();
    await expect(page).toHaveURL(/[?&]window=7d$/);
    await expect(flowPage.windowButton("7d")).toHaveAttribute("aria-pressed", "true");
    await page.goForward();
    await expect(page).toHaveURL(/[?&]window=30d$/);
    await expect(flowPage.windowButton("30d")).toHaveAttribute("aria-pressed", "true");
    await page.goBack();
    await page.goBack();
    await expect(page).toHaveURL(new RegExp(`/flows/${flow.id}$`));
    await expect(flowPage.windowButton("24h")).toHaveAttribute("aria-pressed", "true");

    // An unknown window falls back to the default.
    await flowPage.gotoSummary(flow.id, "1y");
    await expect(flowPage.summary).toHaveAttribute("data-window", "24h");
  });

  test("a run that finishes while the page is open shows up without a reload", async ({ api, flowPage, page, request }) => {
    const gate = path.join(os.tmpdir(), `perfect-e2e-flowpage-${process.pid}-${Date.now()}`);
    try {
      const run = await api.trigger(LONG_FLOW, { ...FAST, gate });
      await api.waitForRun(run.id, (r) => r.state === "RUNNING");
      await flowPage.gotoSummary(flow.id);
      let navigations = 0;
      page.on("framenavigated", (f) => {
        if (f === page.mainFrame()) navigations++;
      });
      const row = flowPage.runsTableRow(run.id);
      await expect(row).toHaveAttribute("data-state", "RUNNING");
      await expect(row.getByTestId("flow-runs-table-duration")).toHaveText("not finished");
      await expect(flowPage.concurrency.getByTestId("flow-active-running")).not.toHaveAttribute("data-value", "0");
      const before = await summaryOf(request, flow.id);
      await expect(flowPage.figure("total")).toHaveText(String(before.total));

      fs.writeFileSync(gate, "open");
      const done = await api.waitForRun(run.id);
      expect(done.state).toBe("COMPLETED");
      await expect(row).toHaveAttribute("data-state", "COMPLETED");
      const after = await summaryOf(request, flow.id);
      const point = after.runs.find((r) => r.id === run.id)!;
      await expect(row.getByTestId("flow-runs-table-duration")).toHaveText(formatDuration(point.durationMs));
      await expectFigures(flowPage, after);
      const active = await api.runs(`flowId=${flow.id}&state=RUNNING`);
      await expect(flowPage.concurrency.getByTestId("flow-active-running")).toHaveAttribute("data-value", String(active.length));
      // The first stage's statistics took the new sample too.
      const stat = (await statsOf(request, flow.id)).find((s) => s.taskName === flow.tasks[0].name)!;
      await expect(flowPage.taskStat(stat.taskName).getByTestId("task-stat-samples")).toHaveText(String(stat.samples));
      expect(navigations).toBe(0);
    } finally {
      fs.rmSync(gate, { force: true });
    }
  });

  test("a history row's flow name opens the flow page", async ({ historyPage, page }) => {
    await historyPage.goto(`flowId=${flow.id}`);
    await historyPage.row(made[0]).getByTestId("history-flow").click();
    await expect(page).toHaveURL(new RegExp(`/flows/${flow.id}$`));
    await expect(page.getByTestId("flow-title")).toHaveText(LONG_FLOW);
  });

  for (const vp of [
    { width: 1280, height: 900 },
    { width: 390, height: 844 },
  ]) {
    test(`screenshot at ${vp.width}px`, async ({ flowPage, page }, testInfo) => {
      await page.setViewportSize(vp);
      await flowPage.gotoSummary(flow.id);
      await expect(flowPage.runsChart.getByTestId("chart-canvas")).toHaveAttribute("data-ready", "true");
      await expect(flowPage.taskStat(flow.tasks[0].name).getByTestId("chart-canvas")).toHaveAttribute("data-ready", "true");
      // Nothing pushes the page wider than the screen (the hidden runs table included).
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(vp.width);
      const file = testInfo.outputPath(`flow-page-${vp.width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`flow-page-${vp.width}`, { path: file, contentType: "image/png" });
    });
  }
});
