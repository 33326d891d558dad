import { expect, type Locator, type Page } from "@playwright/test";

/** /concurrency: the limit form and one card per key (holders, queue, change, delete). */
export class ConcurrencyPage {
  constructor(readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto("/concurrency");
    await expect(this.form).toBeVisible();
  }

  get form(): Locator {
    return this.page.getByTestId("concurrency-form");
  }
  get keyInput(): Locator {
    return this.page.getByTestId("concurrency-key-input");
  }
  get limitInput(): Locator {
    return this.page.getByTestId("concurrency-limit-input");
  }
  get submit(): Locator {
    return this.page.getByTestId("concurrency-submit");
  }
  error(field: "key" | "limit"): Locator {
    return this.page.getByTestId(`concurrency-${field}-error`);
  }

  async setLimit(key: string, limit: string): Promise<void> {
    await this.keyInput.fill(key);
    await this.limitInput.fill(limit);
    await this.submit.click();
  }

  card(key: string): Locator {
    return this.page.locator(`[data-testid="concurrency-limit"][data-key="${key}"]`);
  }
  holders(key: string): Locator {
    return this.card(key).getByTestId("concurrency-holder");
  }
  waiters(key: string): Locator {
    return this.card(key).getByTestId("concurrency-waiter");
  }
}
