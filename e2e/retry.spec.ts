import { CHATTY_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test("Retry starts a new run with the same parameters, and the two link to each other", async ({ api, runPage, page }) => {
  // The chatty flow: a few log lines, no task statistics other specs count on.
  const first = await api.trigger(CHATTY_FLOW, { lines: 3, interval_ms: 1 });
  await api.waitForRun(first.id);
  await runPage.goto(first.id);
  await expect(runPage.state).toHaveText("COMPLETED");
  await page.getByTestId("retry-button").click();

  await page.waitForURL((url) => /\/runs\/\d+$/.test(url.pathname) && !url.pathname.endsWith(`/runs/${first.id}`));
  const retryId = page.url().split("/").pop()!;
  await expect(page.getByTestId("retry-of")).toHaveText(`retry of #${first.id}`);
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 30_000 });
  const retried = await api.run(retryId);
  expect(retried).toMatchObject({ retryOf: first.id, trigger: "ui", parameters: first.parameters });

  await page.getByTestId("retry-of").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${first.id}$`));
  await expect(page.getByTestId("retried-as")).toHaveText(`retried as #${retryId}`);
});
