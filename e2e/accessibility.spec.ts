import { QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test.describe("keyboard and motion", () => {
  test("the trigger panel works from the keyboard, with a visible focus ring", async ({ flowsPage, page }) => {
    await flowsPage.goto();
    const button = flowsPage.card(QUICK_FLOW).getByTestId("trigger-button");
    await button.focus();
    expect(await button.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe("none");
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("trigger-form")).toBeVisible();
    // Focus moved into the panel, onto the first parameter.
    await expect(page.getByTestId("param-label")).toBeFocused();
    await page.keyboard.press("Tab");
    await expect(page.getByTestId("param-limit")).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("trigger-form")).toHaveCount(0);
    // Focus returns to the button that opened it.
    await expect(button).toBeFocused();
  });

  test("animations stop under prefers-reduced-motion", async ({ flowsPage, page }) => {
    await flowsPage.goto();
    const dot = page.getByTestId("flow-client-online").first().locator(".badge-dot");
    const duration = () => dot.evaluate((el) => parseFloat(getComputedStyle(el).animationDuration));
    expect(await duration()).toBeGreaterThan(1);
    await page.emulateMedia({ reducedMotion: "reduce" });
    expect(await duration()).toBeLessThan(0.01);
  });
});
