import { QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test.describe("connection loss", () => {
  test("while the live stream is down a banner shows; once it opens the page catches up", async ({ api, historyPage, page }) => {
    // The stream cannot connect at all; everything else works.
    await page.route("**/api/events", (route) => route.abort());
    await historyPage.goto("tag=kind%3Aquick");
    await expect(page.getByTestId("connection-banner")).toContainText("Live updates disconnected");

    // A change nobody announces to this page…
    const run = await api.trigger(QUICK_FLOW, { label: "while disconnected" });
    await api.waitForRun(run.id);
    await expect(historyPage.row(run.id)).toHaveCount(0);

    // …shows once the stream opens, because the page revalidates everything then.
    await page.unroute("**/api/events");
    await expect(historyPage.row(run.id)).toBeVisible({ timeout: 15_000 });
    await expect(historyPage.row(run.id)).toHaveAttribute("data-state", "COMPLETED");
    await expect(page.getByTestId("connection-banner")).toHaveCount(0);
  });

  test("offline: a banner, then a refresh when the network is back", async ({ api, historyPage, page }) => {
    await historyPage.goto("tag=kind%3Aquick");
    await expect(page.getByTestId("connection-banner")).toHaveCount(0);
    await page.context().setOffline(true);
    await expect(page.getByTestId("connection-banner")).toContainText("offline");
    await page.context().setOffline(false);
    await expect(page.getByTestId("connection-banner")).toHaveCount(0);
    const run = await api.trigger(QUICK_FLOW, { label: "after offline" });
    await expect(historyPage.row(run.id)).toBeVisible({ timeout: 5000 });
  });
});
