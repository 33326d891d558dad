import { expect, type Locator, type Page } from "@playwright/test";

export class FlowsPage {
  constructor(readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto("/");
    await expect(this.page.getByTestId("flow-card").first()).toBeVisible();
  }

  cards(): Locator {
    return this.page.getByTestId("flow-card");
  }

  card(flowName: string): Locator {
    return this.cards().filter({ has: this.page.getByRole("heading", { name: flowName, exact: true }) });
  }

  /** Follows the card's link to the flow page. */
  async openFlowPage(flowName: string): Promise<void> {
    await this.card(flowName).getByTestId("flow-link").click();
    await this.page.waitForURL(/\/flows\/\d+$/);
    await expect(this.page.getByTestId("flow-page")).toBeVisible();
  }

  async openTrigger(flowName: string): Promise<TriggerForm> {
    await this.card(flowName).getByTestId("trigger-button").click();
    const form = this.page.getByTestId("trigger-form");
    await expect(form).toBeVisible();
    return new TriggerForm(this.page, form);
  }
}

export class TriggerForm {
  constructor(
    readonly page: Page,
    readonly root: Locator,
  ) {}

  field(name: string): Locator {
    return this.root.getByTestId(`param-${name}`);
  }

  error(name: string): Locator {
    return this.root.getByTestId(`param-error-${name}`);
  }

  async fill(name: string, value: string): Promise<void> {
    await this.field(name).fill(value);
  }

  async submit(): Promise<void> {
    await this.root.getByTestId("trigger-submit").click();
  }

  /** Submits and waits for the run page the dashboard navigates to; returns the run id. */
  async submitAndOpenRun(): Promise<string> {
    await this.submit();
    await this.page.waitForURL(/\/runs\/\d+$/);
    return this.page.url().split("/").pop()!;
  }
}
