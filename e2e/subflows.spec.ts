import { SUBFLOW_CHILD, SUBFLOW_PARENT } from "./support/constants";
import { expect, test } from "./fixtures";

test("the run view shows a run's subflows, and a subflow links back to its parent", async ({ api, runPage, page, historyPage }) => {
  const parent = await api.trigger(SUBFLOW_PARENT, { label: "tree" });
  await runPage.goto(parent.id);
  // Live: the child appears in the parent's Subflows panel and completes there.
  const row = page.getByTestId("subflow-row");
  await expect(row).toHaveCount(1, { timeout: 30_000 });
  await expect(row.getByTestId("subflow-link")).toContainText(SUBFLOW_CHILD);
  await expect(row).toHaveAttribute("data-state", "COMPLETED", { timeout: 30_000 });
  await expect(row.getByTestId("subflow-progress-text")).toHaveText("100%");
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  await expect(page.getByTestId("parent-run")).toHaveCount(0);
  // The subflow is a task call of the parent, named after the child flow.
  await expect(runPage.taskRow(SUBFLOW_CHILD)).toBeVisible();

  const done = await api.run(parent.id);
  expect(done.childRuns).toHaveLength(1);
  const childId = done.childRuns[0].id;
  await row.getByTestId("subflow-link").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${childId}$`));
  await expect(page.getByTestId("parent-run")).toHaveText(`Subflow of run #${parent.id} (${SUBFLOW_PARENT})`);
  await expect(runPage.taskRow("child_step")).toBeVisible();
  await expect(page.getByTestId("subflows")).toHaveCount(0);
  const child = await api.run(childId);
  expect(child).toMatchObject({ parentRunId: parent.id, trigger: "subflow", state: "COMPLETED", parameters: { label: "tree" } });

  // The history marks child runs with their parent.
  await historyPage.goto(`trigger=subflow`);
  await expect(historyPage.row(childId).getByTestId("history-subflow-of")).toHaveText(`subflow of #${parent.id}`);
  await historyPage.row(childId).getByTestId("history-subflow-of").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${parent.id}$`));
});
