import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHATTY_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("the logs panel follows the tail unless the reader scrolled up", async ({ api, runPage, page }) => {
  // The worker pauses after line 60 until the test opens the gate: the second half arrives
  // while the reader is scrolled up, however slow the machine (no race with a timer).
  const gate = path.join(os.tmpdir(), `perfect-e2e-gate-${process.pid}-${Date.now()}`);
  const run = await api.trigger(CHATTY_FLOW, { lines: 150, interval_ms: 20, pause_at: 60, gate });
  await runPage.goto(run.id);
  const box = page.getByTestId("log-lines");
  const distanceFromBottom = () => box.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
  const lineCount = () => runPage.logLines.count();

  // Following: the box scrolls by itself as lines arrive.
  await expect.poll(lineCount).toBeGreaterThan(30);
  await expect.poll(distanceFromBottom).toBeLessThan(30);

  // Scrolled up: new lines keep arriving, the reader's position stays.
  await expect(runPage.logLines).toHaveCount(60, { timeout: 30_000 });
  await box.evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(page.getByTestId("log-follow")).toBeVisible();
  fs.writeFileSync(gate, "open");
  await expect.poll(lineCount, { timeout: 30_000 }).toBeGreaterThan(70);
  expect(await box.evaluate((el) => el.scrollTop)).toBe(0);

  // Back to following.
  await page.getByTestId("log-follow").click();
  await expect.poll(distanceFromBottom).toBeLessThan(30);
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  await expect(runPage.logLines).toHaveCount(150);
  await expect(runPage.logLines.last()).toContainText("chatter line 0150 of 150");
  // Incremental fetching kept every line exactly once, in order.
  const numbers = await page
    .getByTestId("log-message")
    .evaluateAll((ms) => ms.map((m) => Number(/chatter line (\d+)/.exec(m.textContent ?? "")?.[1])));
  expect(numbers).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  fs.rmSync(gate, { force: true });
});
