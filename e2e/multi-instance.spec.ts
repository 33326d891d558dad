/**
 * Two instances on one PostgreSQL database (PERFECT_TEST_BACKEND=postgres: the global setup
 * starts a second `next start`, PERFECT_E2E_URL_B). The workers poll only the first instance
 * (A); the browser watches the run on B. Selected by playwright.config.ts only on PostgreSQL
 * (SQLite has one instance), so it never runs without B.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHATTY_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

const URL_B = process.env.PERFECT_E2E_URL_B;

test("a run triggered through B and executed by a worker polling A goes live to COMPLETED on B's run page, with its logs", async ({ api, page, request }) => {
  expect(URL_B, "the PostgreSQL setup starts instance B (PERFECT_E2E_URL_B)").toBeTruthy();
  // The worker pauses after line 5 until the test opens the gate: the page on B is open and
  // showing the run RUNNING before the rest of it happens (no race with a timer).
  const gate = path.join(os.tmpdir(), `perfect-e2e-multi-gate-${process.pid}-${Date.now()}`);
  const flow = await api.flow(CHATTY_FLOW);
  const res = await request.post(`${URL_B}/api/flows/${flow.id}/runs`, {
    data: { parameters: { lines: 12, interval_ms: 10, pause_at: 5, gate } },
  });
  expect(res.status()).toBe(201);
  const run = (await res.json()) as { id: string };

  await page.goto(`${URL_B}/runs/${run.id}`);
  await expect(page.getByTestId("run-view")).toBeVisible();
  const state = page.getByTestId("run-state");
  const lines = page.getByTestId("log-line");
  await expect(state).toHaveText("RUNNING", { timeout: 30_000 });
  await expect(lines).toHaveCount(5, { timeout: 30_000 });

  fs.writeFileSync(gate, "open");
  // Live, without a reload: A's changes reach B's stream over LISTEN/NOTIFY.
  await expect(state).toHaveText("COMPLETED", { timeout: 30_000 });
  await expect(lines).toHaveCount(12);
  const numbers = await page
    .getByTestId("log-message")
    .evaluateAll((ms) => ms.map((m) => Number(/chatter line (\d+)/.exec(m.textContent ?? "")?.[1])));
  expect(numbers).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  // The worker only knows A: the run was executed through A.
  expect((await api.run(run.id)).state).toBe("COMPLETED");
  fs.rmSync(gate, { force: true });
});
