import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SummaryView } from "../lib/contracts/dashboard";
import { LONG_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

/** The strip's four figures as shown. */
async function shown(page: import("@playwright/test").Page) {
  const value = async (id: string) => Number((await page.getByTestId(`summary-${id}-value`).textContent())?.replace(/,/g, ""));
  return { runningNow: await value("running"), failed24h: await value("failed"), late: await value("late"), workersOnline: await value("workers") };
}

test("the summary strip shows what GET /api/summary answers, and follows a run live", async ({ flowsPage, api, page, request }) => {
  const summary = async () => {
    const s = (await (await request.get("/api/summary")).json()) as SummaryView;
    return { runningNow: s.runningNow, failed24h: s.failed24h, late: s.late, workersOnline: s.workersOnline };
  };
  await flowsPage.goto();
  await expect(page.getByTestId("summary-strip")).toHaveAttribute("data-loaded", "true");
  // The suite's server is shared: compare at a moment both agree, never against fixed numbers.
  await expect(async () => expect(await shown(page)).toEqual(await summary())).toPass({ timeout: 20_000 });
  expect((await shown(page)).workersOnline).toBeGreaterThanOrEqual(1); // the suite's workers

  // A run held at its first task by a gate: "running now" counts it without a reload.
  const before = (await summary()).runningNow;
  const gate = path.join(os.tmpdir(), `perfect-e2e-summary-${process.pid}-${Date.now()}`);
  const run = await api.trigger(LONG_FLOW, { seconds: 1, gate });
  await api.waitForRun(run.id, (r) => r.state === "RUNNING");
  await expect.poll(async () => (await shown(page)).runningNow, { timeout: 20_000 }).toBeGreaterThan(before);
  fs.writeFileSync(gate, "open");
  await api.waitForRun(run.id);
  await expect(async () => expect(await shown(page)).toEqual(await summary())).toPass({ timeout: 20_000 });

  fs.rmSync(gate, { force: true });

  // Each figure is a link to where one looks next, read with its label.
  await expect(page.getByTestId("summary-failed")).toHaveAttribute("href", /\/runs\?state=FAILED&from=/);
  await expect(page.getByTestId("summary-workers")).toHaveAttribute("aria-label", /workers online/);
  await page.screenshot({ path: test.info().outputPath("summary-strip.png"), fullPage: false });
});
