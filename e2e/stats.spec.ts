import { QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("statistics show per-task figures and a chart with the mean and threshold lines", async ({ api, statsPage }) => {
  await api.completedRuns(QUICK_FLOW, 5);
  await statsPage.goto();
  const row = statsPage.row(QUICK_FLOW, "quick_extract");
  await expect(row).toBeVisible();
  await expect(row.locator("[data-label=Samples]")).not.toHaveText("0");
  await expect(row.getByTestId("stats-threshold")).toContainText("z ≥ 3");
  await expect(row.getByTestId("stats-threshold")).toContainText("SLOW ≥");
  const chart = row.getByTestId("stats-chart");
  await expect(chart).toBeVisible();
  // uPlot drew it: one canvas, with the mean, SLOW and CRITICAL lines among its series.
  const host = chart.getByTestId("chart-canvas");
  await expect(host).toHaveAttribute("data-ready", "true");
  await expect(host.locator("canvas")).toHaveCount(1);
  const series = (await host.getAttribute("data-series"))!.split("|");
  expect(series.some((s) => s.startsWith("mean "))).toBe(true);
  expect(series.some((s) => s.startsWith("SLOW ≥ "))).toBe(true);
  expect(series.some((s) => s.startsWith("CRITICAL ≥ "))).toBe(true);
  expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThanOrEqual(5);
  // The text alternative states the thresholds.
  await expect(chart.getByTestId("chart-summary")).toContainText(/SLOW at .*CRITICAL at/);
});
