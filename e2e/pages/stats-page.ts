import { expect, type Locator, type Page } from "@playwright/test";

export class StatsPage {
  constructor(readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto("/stats");
    await expect(this.page.getByTestId("stats-row").first()).toBeVisible();
  }

  row(flowName: string, taskName: string): Locator {
    return this.page.locator(`[data-testid="stats-row"][data-task="${taskName}"]`).filter({ hasText: flowName });
  }
}
