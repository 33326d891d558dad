import { expect, type Locator, type Page } from "@playwright/test";

export class RunPage {
  constructor(readonly page: Page) {}

  async goto(id: string): Promise<void> {
    await this.page.goto(`/runs/${id}`);
    await expect(this.page.getByTestId("run-view")).toBeVisible();
  }

  get title(): Locator {
    return this.page.getByTestId("run-title");
  }
  get state(): Locator {
    return this.page.getByTestId("run-state");
  }
  get progressBar(): Locator {
    return this.page.getByTestId("run-progress");
  }
  get progressText(): Locator {
    return this.page.getByTestId("run-progress-text");
  }
  get eta(): Locator {
    return this.page.getByTestId("run-eta");
  }
  get headerWarning(): Locator {
    return this.page.getByTestId("run-warning");
  }
  get taskRows(): Locator {
    return this.page.getByTestId("task-row");
  }
  taskRow(name: string): Locator {
    return this.page.locator(`[data-testid="task-row"][data-task-name="${name}"]`);
  }
  get timeline(): Locator {
    return this.page.getByTestId("timeline");
  }
  get timelineLanes(): Locator {
    return this.page.getByTestId("timeline-lane");
  }
  /** A task run's bar on the timeline (its lane is in data-lane). */
  timelineBar(name: string): Locator {
    return this.page.locator(`[data-testid="timeline-bar"][data-task-name="${name}"]`);
  }
  get logLines(): Locator {
    return this.page.getByTestId("log-line");
  }
  get reportLink(): Locator {
    return this.page.getByTestId("report-link");
  }

  /** The bar's value (0..100) as the page shows it. */
  async progress(): Promise<number> {
    return Number(await this.progressBar.getAttribute("aria-valuenow"));
  }

  async filterLogsByTask(taskName: string): Promise<void> {
    const select = this.page.getByTestId("log-task-filter");
    const value = await select.locator("option", { hasText: taskName }).first().getAttribute("value");
    await select.selectOption(value!);
  }

  async toggleLogLevel(level: "DEBUG" | "INFO" | "WARNING" | "ERROR"): Promise<void> {
    await this.page.getByTestId(`log-level-${level}`).click();
  }

  async cancel(): Promise<void> {
    await this.page.getByTestId("cancel-button").click();
    await this.page.getByTestId("cancel-confirm").click();
  }
}
