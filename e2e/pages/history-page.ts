import { expect, type Locator, type Page } from "@playwright/test";

export class HistoryPage {
  constructor(readonly page: Page) {}

  async goto(query = ""): Promise<void> {
    await this.page.goto(`/runs${query ? `?${query}` : ""}`);
    await this.waitForRows();
  }

  /** Rows or the empty state, whichever the filters give. */
  async waitForRows(): Promise<void> {
    await expect(this.page.getByTestId("history-row").first().or(this.page.getByTestId("history-empty"))).toBeVisible();
  }

  get rows(): Locator {
    return this.page.getByTestId("history-row");
  }

  async rowIds(): Promise<string[]> {
    return this.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id") ?? ""));
  }

  row(runId: string): Locator {
    return this.page.locator(`[data-testid="history-row"][data-run-id="${runId}"]`);
  }

  async toggleState(state: string): Promise<void> {
    await this.page.getByTestId(`filter-state-${state}`).click();
  }

  async addTag(tag: string): Promise<void> {
    await this.page.getByTestId("filter-tag").fill(tag);
    await this.page.getByTestId("filter-tag-add").click();
  }

  async filterFlow(text: string): Promise<void> {
    await this.page.getByTestId("filter-flow").fill(text);
    await this.page.getByTestId("filter-flow").press("Enter");
  }

  async selectClient(id: string): Promise<void> {
    await this.page.getByTestId("filter-client").selectOption(id);
  }

  query(): URLSearchParams {
    return new URL(this.page.url()).searchParams;
  }
}
