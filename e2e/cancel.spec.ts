import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LONG_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("a long run moves live and can be cancelled", async ({ flowsPage, runPage, page }) => {
  await flowsPage.goto();
  // The first stage runs until the test opens its gate: it is still RUNNING when checked and
  // when cancelled, however slow the machine (no race with a timer).
  const gate = path.join(os.tmpdir(), `perfect-e2e-cancel-${process.pid}-${Date.now()}`);
  const form = await flowsPage.openTrigger(LONG_FLOW);
  await form.fill("seconds", "2.5");
  await form.fill("gate", gate);
  const runId = await form.submitAndOpenRun();

  await expect(runPage.state).toHaveText("RUNNING");
  await expect(runPage.eta).toContainText("left");
  await expect.poll(() => runPage.progress(), { timeout: 10_000 }).toBeGreaterThan(0);
  const first = await runPage.progress();
  await expect.poll(() => runPage.progress(), { timeout: 10_000 }).toBeGreaterThan(first);
  await expect(runPage.taskRow("long_stage_one").getByTestId("task-state")).toHaveText("RUNNING");

  await runPage.cancel();
  await expect(page.getByTestId("cancel-requested")).toBeVisible();
  await expect(page.getByTestId("cancel-button")).toHaveCount(0);
  fs.writeFileSync(gate, "open"); // the stage ends: the worker stops at this task boundary
  await expect(runPage.state).toHaveText("CANCELLED", { timeout: 20_000 });
  await expect(runPage.taskRow("long_stage_six").getByTestId("task-state")).toHaveText("CANCELLED");
  await expect(runPage.logLines.filter({ hasText: "cancel" }).first()).toBeVisible();
  expect(page.url()).toContain(`/runs/${runId}`);
  fs.rmSync(gate, { force: true });
});
