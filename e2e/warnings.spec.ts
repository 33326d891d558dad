import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DRIFT_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("a task that drags on gets a SLOW/CRITICAL badge while it is still running", async ({ api, runPage, flowsPage, page }) => {
  // A fast baseline (aggressive sensitivity: threshold z ≥ 3 under 20 samples)…
  await api.completedRuns(DRIFT_FLOW, 6, { delay_ms: 200 });
  // …then a run whose only task drags on until the test opens its gate: still RUNNING while
  // its badge is checked, however slow the machine.
  const gate = path.join(os.tmpdir(), `perfect-e2e-drift-${process.pid}-${Date.now()}`);
  const run = await api.trigger(DRIFT_FLOW, { delay_ms: 200, gate });
  await runPage.goto(run.id);
  const row = runPage.taskRow("drift_step");
  const badge = row.getByTestId("task-warning");
  await expect(badge).toBeVisible({ timeout: 30_000 });
  await expect(badge).toHaveText(/SLOW|CRITICAL/);
  await expect(row.getByTestId("task-state")).toHaveText("RUNNING");
  await expect(runPage.headerWarning).toBeVisible();

  // The explanation shows on hover and on keyboard focus, and is the badge's description.
  const tip = row.getByTestId("task-warning-tip");
  await expect(tip).toBeHidden();
  await badge.hover();
  await expect(tip).toBeVisible();
  await page.mouse.move(0, 0);
  await expect(tip).toBeHidden();
  await badge.focus();
  await expect(tip).toBeVisible();
  await expect(tip).toContainText(/z-score \d+\.\d\d/);
  await expect(tip).toContainText("threshold 3");
  await expect(badge).toHaveAccessibleDescription(/z-score/);
  await page.keyboard.press("Escape");
  await expect(tip).toBeHidden();

  // It upgrades to CRITICAL as the task drags on, and stays after it completes.
  await expect(badge).toHaveText(/CRITICAL/, { timeout: 30_000 });
  fs.writeFileSync(gate, "open");
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  await expect(badge).toHaveText(/CRITICAL/);

  await flowsPage.goto();
  await expect(flowsPage.card(DRIFT_FLOW).getByTestId("flow-last-run-warning")).toBeVisible();
  await page.goto("/runs?tag=kind%3Adrift");
  await expect(page.locator(`[data-testid="history-row"][data-run-id="${run.id}"]`).getByTestId("history-warning")).toBeVisible();
  fs.rmSync(gate, { force: true });
});
