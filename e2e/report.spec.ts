import fs from "node:fs";
import { QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("the run report downloads with the flow name and the task table", async ({ api, runPage, page }) => {
  const [run] = await api.completedRuns(QUICK_FLOW, 1, { label: "report" });
  await runPage.goto(run.id);
  await expect(runPage.state).toHaveText("COMPLETED");
  const [download] = await Promise.all([page.waitForEvent("download"), runPage.reportLink.click()]);
  expect(download.suggestedFilename()).toBe(`perfect-run-${run.id}.html`);
  const html = fs.readFileSync((await download.path())!, "utf8");
  expect(html).toContain(QUICK_FLOW);
  expect(html).toMatch(/<table/i);
  for (const task of ["quick_extract", "quick_transform", "quick_load"]) expect(html).toContain(task);
  expect(html).toContain("COMPLETED");
});
