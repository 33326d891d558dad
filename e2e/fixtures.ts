/**
 * The suite's test object: the server URL from the global setup, the API helper, the page
 * objects, and a guard that fails any test during which a JavaScript dialog opened (an XSS
 * payload that ran would call alert()).
 */
import { test as base, expect } from "@playwright/test";
import { ClientsPage } from "./pages/clients-page";
import { ConcurrencyPage } from "./pages/concurrency-page";
import { FlowPage } from "./pages/flow-page";
import { FlowsPage } from "./pages/flows-page";
import { HistoryPage } from "./pages/history-page";
import { RunPage } from "./pages/run-page";
import { StatsPage } from "./pages/stats-page";
import { PerfectApi } from "./support/perfect-api";

interface Fixtures {
  api: PerfectApi;
  flowsPage: FlowsPage;
  flowPage: FlowPage;
  runPage: RunPage;
  historyPage: HistoryPage;
  statsPage: StatsPage;
  clientsPage: ClientsPage;
  concurrencyPage: ConcurrencyPage;
}

export const test = base.extend<Fixtures>({
  baseURL: async ({}, use) => {
    const url = process.env.PERFECT_E2E_URL;
    if (!url) throw new Error("PERFECT_E2E_URL is not set: the global setup did not run");
    await use(url);
  },
  page: async ({ page }, use) => {
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    await use(page);
    expect(dialogs, "a JavaScript dialog opened: something ran that should have been text").toEqual([]);
  },
  api: async ({ request }, use) => use(new PerfectApi(request)),
  flowsPage: async ({ page }, use) => use(new FlowsPage(page)),
  flowPage: async ({ page }, use) => use(new FlowPage(page)),
  runPage: async ({ page }, use) => use(new RunPage(page)),
  historyPage: async ({ page }, use) => use(new HistoryPage(page)),
  statsPage: async ({ page }, use) => use(new StatsPage(page)),
  clientsPage: async ({ page }, use) => use(new ClientsPage(page)),
  concurrencyPage: async ({ page }, use) => use(new ConcurrencyPage(page)),
});

export { expect };
