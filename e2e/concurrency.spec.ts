/**
 * Global concurrency limits on /concurrency: setting a limit in the form (field errors first),
 * a running flow's task calls shown live as the key's holders and queue, changing the limit
 * and deleting it with confirmation. The warehouse flow's task holds its slot until the test
 * opens its gate, so "one holds, one waits" is a state the page is checked in, not a race.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { WAREHOUSE_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

const KEY = "e2e-warehouse";

test.describe("Concurrency limits", () => {
  test.afterEach(async ({ request }) => {
    await request.delete(`/api/concurrency-limits/${KEY}`).catch(() => {});
  });

  test("set a limit, see holders and the queue of a running flow live, change it, delete it", async ({ page, concurrencyPage: cp, api }) => {
    await page.goto("/");
    await page.getByTestId("nav-concurrency").click();
    await expect(page).toHaveURL(/\/concurrency$/);
    await expect(page.getByTestId("nav-concurrency")).toHaveAttribute("aria-current", "page");

    // Field errors, in the browser, before anything is sent.
    await cp.submit.click();
    await expect(cp.error("key")).toBeVisible();
    await expect(cp.error("limit")).toBeVisible();
    await cp.setLimit("not a key", "x");
    await expect(cp.error("key")).toContainText("letters, digits");
    await expect(cp.error("limit")).toContainText("whole number");
    await expect(cp.keyInput).toHaveAttribute("aria-invalid", "true");

    await cp.setLimit(KEY, "1");
    await expect(page.getByTestId("concurrency-saved")).toContainText(`${KEY}: at most 1 at once`);
    await expect(cp.card(KEY).getByTestId("concurrency-limit-value")).toHaveText("1");
    await expect(cp.card(KEY).getByTestId("concurrency-held")).toHaveText("0");

    const gate = path.join(os.tmpdir(), `perfect-e2e-warehouse-${process.pid}-${Date.now()}`);
    try {
      const first = await api.trigger(WAREHOUSE_FLOW, { gate });
      await expect(cp.holders(KEY)).toHaveCount(1);
      await expect(cp.holders(KEY).first()).toHaveAttribute("data-run-id", first.id);
      const second = await api.trigger(WAREHOUSE_FLOW, { gate });
      // Live (no reload): the second call waits in line behind the first.
      await expect(cp.waiters(KEY)).toHaveCount(1);
      await expect(cp.waiters(KEY).first()).toHaveAttribute("data-run-id", second.id);
      await expect(cp.card(KEY).getByTestId("concurrency-waiting-count")).toHaveText("1");
      const holder = cp.holders(KEY).first();
      await expect(holder).toContainText(WAREHOUSE_FLOW);
      await expect(holder).toContainText("warehouse_load");
      await expect(holder.getByTestId("concurrency-holder-run")).toHaveAttribute("href", `/runs/${first.id}`);
      await expect(holder.getByTestId("concurrency-held-for")).toContainText("held");
      expect((await api.run(second.id)).taskRuns[0].state).toBe("PENDING");

      // A raised limit lets the waiter in at once.
      await cp.card(KEY).getByTestId("concurrency-change").click();
      await expect(cp.keyInput).toHaveValue(KEY);
      await expect(cp.limitInput).toHaveValue("1");
      await cp.limitInput.fill("2");
      await cp.submit.click();
      await expect(cp.card(KEY).getByTestId("concurrency-limit-value")).toHaveText("2");
      await expect(cp.holders(KEY)).toHaveCount(2);
      await expect(cp.waiters(KEY)).toHaveCount(0);

      fs.writeFileSync(gate, "open");
      await api.waitForRun(first.id);
      await api.waitForRun(second.id);
      expect((await api.run(first.id)).state).toBe("COMPLETED");
      expect((await api.run(second.id)).state).toBe("COMPLETED");
      await expect(cp.holders(KEY)).toHaveCount(0);
      await expect(cp.card(KEY).getByTestId("concurrency-held")).toHaveText("0");
    } finally {
      fs.rmSync(gate, { force: true });
    }

    // Delete, with confirmation: keeping it first changes nothing.
    await cp.card(KEY).getByTestId("concurrency-delete").click();
    await page.getByRole("button", { name: "Keep it" }).click();
    await expect(cp.card(KEY)).toBeVisible();
    await cp.card(KEY).getByTestId("concurrency-delete").click();
    await cp.card(KEY).getByTestId("concurrency-delete-confirm").click();
    await expect(cp.card(KEY)).toHaveCount(0);
    expect((await page.request.get(`/api/concurrency-limits/${KEY}`)).status()).toBe(404);
  });
});
