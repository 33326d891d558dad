import { E2E_CLIENT, EXAMPLE_CLIENT, LONG_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

/**
 * Kills the e2e worker with SIGKILL (no goodbye): the server notices the silence after
 * PERFECT_HEARTBEAT_TIMEOUT_MS (3 s in the suite), fails the run and shows the client offline.
 * Runs last (its own Playwright project): the e2e worker stays dead afterwards.
 */
test("a killed worker fails its run and shows its client offline", async ({ api, runPage, clientsPage, flowsPage, page }) => {
  const pid = Number(process.env.PERFECT_E2E_WORKER_PID);
  expect(pid, "the global setup exports the e2e worker's pid").toBeGreaterThan(0);
  // A gate that never opens: the first stage is still running when the worker is killed.
  const run = await api.trigger(LONG_FLOW, { seconds: 5, gate: "/nonexistent/perfect-e2e-gate-never-opened" });
  await runPage.goto(run.id);
  await expect(runPage.state).toHaveText("RUNNING");
  await expect(runPage.taskRow("long_stage_one").getByTestId("task-state")).toHaveText("RUNNING");

  process.kill(pid, "SIGKILL");

  await expect(runPage.state).toHaveText("FAILED", { timeout: 15_000 });
  await expect(page.getByTestId("run-error")).toContainText("client heartbeat lost");
  await expect(runPage.taskRow("long_stage_one").getByTestId("task-state")).toHaveText("FAILED");
  await expect(runPage.logLines.filter({ hasText: "client heartbeat lost" })).toBeVisible();

  await clientsPage.goto();
  await expect(clientsPage.online(E2E_CLIENT)).toHaveText("offline");
  await expect(clientsPage.online(EXAMPLE_CLIENT)).toHaveText("online");
  await expect(clientsPage.row(E2E_CLIENT).getByTestId("client-last-seen")).toContainText(/last heartbeat \d+ s ago/);

  await flowsPage.goto();
  await expect(flowsPage.card(LONG_FLOW).getByTestId("flow-client-online")).toHaveAttribute("data-online", "false");
});
