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
  // The list is virtualised: the panel holds every line fetched (data-count), the DOM a window.
  const lineCount = async () => Number(await box.getAttribute("data-count"));
  // Each rendered row's chatter number equals its position in the list: nothing lost, duplicated
  // or out of order in the window shown.
  const windowInOrder = async () =>
    box.getByTestId("log-line").evaluateAll((rows) =>
      rows.every((r) => Number(/chatter line (\d+)/.exec(r.textContent ?? "")?.[1]) === Number(r.getAttribute("data-line"))),
    );

  // Following: the box scrolls by itself as lines arrive.
  await expect.poll(lineCount).toBeGreaterThan(30);
  await expect.poll(distanceFromBottom).toBeLessThan(30);

  // Scrolled up: new lines keep arriving, the reader's position stays.
  await expect.poll(lineCount, { timeout: 30_000 }).toBe(60);
  await box.evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(page.getByTestId("log-follow")).toBeVisible();
  fs.writeFileSync(gate, "open");
  await expect.poll(lineCount, { timeout: 30_000 }).toBeGreaterThan(70);
  expect(await box.evaluate((el) => el.scrollTop)).toBe(0);

  // Back to following.
  await page.getByTestId("log-follow").click();
  await expect.poll(distanceFromBottom).toBeLessThan(30);
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  await expect.poll(lineCount).toBe(150);
  await expect(page.getByTestId("log-follow")).toBeHidden();
  await expect(box.locator('[data-line="150"]')).toContainText("chatter line 0150 of 150");
  // Incremental fetching kept every line exactly once, in order: 150 held, and the rows shown at
  // either end are the lines of their positions. Only a window of them is in the DOM.
  expect(await windowInOrder()).toBe(true);
  expect(await runPage.logLines.count()).toBeLessThan(150);
  await box.evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(box.locator('[data-line="1"]')).toContainText("chatter line 0001 of 150");
  expect(await windowInOrder()).toBe(true);
  fs.rmSync(gate, { force: true });
});
