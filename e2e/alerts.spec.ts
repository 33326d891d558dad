/**
 * The Alerts page: the rules of alerts.json in force (the global setup writes one), each
 * destination's health, and "Send test alert" going through the outbox to a real receiver —
 * the delivery appears in the log and turns DELIVERED live (no reload), with its attempt's
 * status code; a destination nobody listens on shows the failed attempt and the next retry.
 */
import { expect, test } from "./fixtures";

test.describe("Alerts", () => {
  test("rules and destinations; a test alert is delivered live, a dead destination shows its retry", async ({ page }) => {
    await page.goto("/");
    await page.getByTestId("nav-alerts").click();
    await expect(page).toHaveURL(/\/alerts$/);
    await expect(page.getByTestId("nav-alerts")).toHaveAttribute("aria-current", "page");
    await expect(page.getByTestId("alert-rule").first()).toContainText("run.failed");
    await expect(page.getByTestId("alert-rule").first()).toContainText("e2e-hook");
    const hook = page.locator('[data-testid="alert-destination"][data-destination="e2e-hook"]');
    const down = page.locator('[data-testid="alert-destination"][data-destination="e2e-down"]');
    await expect(hook).toContainText("Webhook, signed");
    await expect(down).toContainText("Webhook, unsigned");

    const tests = (destination: string) => page.locator(`[data-testid="alert-delivery"][data-type="alert.test"][data-destination="${destination}"]`);
    const before = await tests("e2e-hook").count();
    await hook.getByTestId("alert-send-test").click();
    await expect(hook.getByTestId("alert-test-result")).toContainText("Test alert queued");
    await expect(tests("e2e-hook")).toHaveCount(before + 1);
    const delivered = tests("e2e-hook").first();
    await expect(delivered).toHaveAttribute("data-state", "DELIVERED");
    await expect(delivered.getByTestId("alert-attempt-status").last()).toHaveText("204");
    await expect(hook.getByTestId("alert-last-success")).not.toHaveText("never");

    await down.getByTestId("alert-send-test").click();
    const failing = tests("e2e-down").first();
    await expect(failing.getByTestId("alert-attempt-status").first()).toHaveText("no answer");
    await expect(failing).toHaveAttribute("data-state", "PENDING");
    await expect(failing.getByTestId("alert-next-retry")).toBeVisible();
    await expect(down.getByTestId("alert-last-failure")).not.toHaveText("never");

    // The log filters by state: only DELIVERED rows remain.
    await page.getByTestId("alert-filter-state").selectOption("DELIVERED");
    await expect(page.locator('[data-testid="alert-delivery"][data-state="PENDING"]')).toHaveCount(0);
    await expect(tests("e2e-hook").first()).toHaveAttribute("data-state", "DELIVERED");
  });
});
