import { expect, type Locator, type Page } from "@playwright/test";

export class ClientsPage {
  constructor(readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto("/clients");
    await expect(this.page.getByTestId("client-row").first()).toBeVisible();
  }

  row(clientId: string): Locator {
    return this.page.locator(`[data-testid="client-row"][data-client-id="${clientId}"]`);
  }

  online(clientId: string): Locator {
    return this.row(clientId).getByTestId("client-online");
  }
}
