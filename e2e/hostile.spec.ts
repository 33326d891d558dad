import fs from "node:fs";
import { HOSTILE_FLOW, IMG, SCRIPT } from "./support/constants";
import { expect, test } from "./fixtures";

/** The fixtures' dialog guard fails every test here if an alert() ever runs. */
test("hostile names, tags, parameters and logs are shown as text everywhere", async ({ flowsPage, runPage, historyPage, page }) => {
  const noInjectedMarkup = async () => {
    await expect(page.locator('img[src="x"], b')).toHaveCount(0);
    expect(await page.locator("script").evaluateAll((ss) => ss.filter((s) => s.textContent?.includes("alert(1)")).length)).toBe(0);
  };

  await flowsPage.goto();
  const card = flowsPage.card(HOSTILE_FLOW);
  await expect(card).toBeVisible();
  await expect(card.getByTestId("tag-chip").filter({ hasText: IMG })).toBeVisible();
  await expect(card.getByTestId("tag-chip").filter({ hasText: SCRIPT })).toBeVisible();
  await expect(card).toContainText(`Description with ${SCRIPT} and ${IMG}`);
  await noInjectedMarkup();

  const form = await flowsPage.openTrigger(HOSTILE_FLOW);
  await expect(form.field("note")).toHaveValue(SCRIPT);
  await form.fill("note", `${IMG} from the form`);
  const runId = await form.submitAndOpenRun();
  await expect(runPage.title).toHaveText(HOSTILE_FLOW);
  await expect(runPage.state).toHaveText("COMPLETED", { timeout: 20_000 });
  await expect(page.getByTestId("run-param-note")).toHaveText(`${IMG} from the form`);
  await expect(page.getByTestId("run-tag").filter({ hasText: IMG })).toBeVisible();
  await expect(runPage.logLines.filter({ hasText: `hostile log ${SCRIPT} ${IMG} note=${IMG} from the form` })).toBeVisible();
  await expect(runPage.logLines.filter({ hasText: `error with markup <b>bold</b> ${IMG}` })).toBeVisible();
  await noInjectedMarkup();

  await historyPage.goto("tag=suite%3Ae2e");
  await expect(historyPage.row(runId).getByTestId("history-flow")).toHaveText(HOSTILE_FLOW);
  await noInjectedMarkup();

  await runPage.goto(runId);
  const [download] = await Promise.all([page.waitForEvent("download"), runPage.reportLink.click()]);
  const html = fs.readFileSync((await download.path())!, "utf8");
  expect(html).not.toContain(SCRIPT);
  expect(html).not.toContain(IMG);
  expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  // Render the report itself (without the CSP header it is served with): still only text.
  await page.setContent(html);
  await expect(page.getByText(HOSTILE_FLOW).first()).toBeVisible();
  await page.waitForTimeout(300);
  await noInjectedMarkup();
});
