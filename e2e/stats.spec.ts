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
  await expect(chart.getByTestId("chart-mean-line")).toHaveCount(1);
  await expect(chart.getByTestId("chart-slow-line")).toHaveCount(1);
  await expect(chart.getByTestId("chart-critical-line")).toHaveCount(1);
  expect(await chart.locator("circle").count()).toBeGreaterThanOrEqual(5);
  await expect(chart).toHaveAttribute("aria-label", /SLOW at/);
});
