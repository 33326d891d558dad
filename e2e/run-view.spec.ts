import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHATTY_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

// The run view with a long log: thousands of lines held, a window of them in the DOM, the tail
// followed, and a "Jump to latest" button counting what arrived while the reader was scrolled up.
test("a long log is virtualised, follows its tail and offers to jump to the latest lines", async ({ api, runPage, page }) => {
  const gate = path.join(os.tmpdir(), `perfect-e2e-runview-gate-${process.pid}-${Date.now()}`);
  const run = await api.trigger(CHATTY_FLOW, { lines: 3000, interval_ms: 0, pause_at: 2000, gate });
  await runPage.goto(run.id);
  const box = page.getByTestId("log-lines");
  const held = async () => Number(await box.getAttribute("data-count"));
  const distanceFromBottom = () => box.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);

  // All 2,000 lines before the gate are held; only a window of rows is rendered; the newest shows.
  await expect.poll(held, { timeout: 60_000 }).toBe(2000);
  await expect(box.locator('[data-line="2000"]')).toContainText("chatter line 2000 of 3000");
  await expect.poll(distanceFromBottom).toBeLessThan(30);
  const rendered = await runPage.logLines.count();
  expect(rendered).toBeGreaterThan(0);
  expect(rendered).toBeLessThan(200);
  await page.screenshot({ path: "test-results/run-view-long-log.png" });

  // Scrolled up: the reader stays put while the rest arrives, and the button counts it.
  await box.evaluate((el) => el.scrollTo({ top: el.scrollHeight / 2 }));
  const jump = page.getByTestId("log-follow");
  await expect(jump).toBeVisible();
  await expect(jump).toHaveText("↓ Jump to latest");
  fs.writeFileSync(gate, "open");
  await expect.poll(held, { timeout: 60_000 }).toBe(3000);
  await expect(jump).toHaveText("↓ Jump to latest (1000 new)");
  // Still in the middle of the list, far from the new end.
  expect(await distanceFromBottom()).toBeGreaterThan(20_000);
  await expect(box.locator('[data-line="3000"]')).toHaveCount(0);
  await page.screenshot({ path: "test-results/run-view-jump-to-latest.png" });

  // Keyboard: the button is reachable and Enter takes the reader to the end, following again.
  await jump.focus();
  await page.keyboard.press("Enter");
  await expect(jump).toBeHidden();
  await expect.poll(distanceFromBottom).toBeLessThan(30);
  await expect(box.locator('[data-line="3000"]')).toContainText("chatter line 3000 of 3000");
  expect(await runPage.logLines.count()).toBeLessThan(200);
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  fs.rmSync(gate, { force: true });
});
