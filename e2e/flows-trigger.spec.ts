import { EXAMPLE_FLOWS, QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

test.describe("Flows page and trigger panel", () => {
  test("lists every registered flow with its tasks, tags, client and last run", async ({ flowsPage }) => {
    await flowsPage.goto();
    for (const name of [...EXAMPLE_FLOWS, QUICK_FLOW]) await expect(flowsPage.card(name)).toBeVisible();
    const etl = flowsPage.card("Daily Sales ETL");
    await expect(etl.getByTestId("flow-task")).toHaveCount(3);
    await expect(etl.getByTestId("flow-task").first()).toContainText("extract_sales");
    await expect(etl.getByTestId("flow-task").first()).toContainText("3.0 s");
    await expect(etl.getByTestId("tag-chip")).toHaveCount(3);
    await expect(etl.getByTestId("tag-chip").filter({ hasText: "data-eng" })).toBeVisible();
    await expect(etl.getByTestId("flow-client-online")).toHaveAttribute("data-online", "true");
  });

  test("the form follows the parameter schema and shows a 400 next to the field it names", async ({ flowsPage, page }) => {
    await flowsPage.goto();
    const form = await flowsPage.openTrigger(QUICK_FLOW);
    await expect(form.field("label")).toHaveValue("hello");
    await expect(form.field("label")).toHaveAttribute("type", "text");
    await expect(form.field("limit")).toHaveAttribute("type", "number");
    await expect(form.field("limit")).toHaveValue("10");
    await expect(form.field("ratio")).toHaveValue("0.5");
    await expect(form.field("dry_run")).toHaveAttribute("type", "checkbox");
    await expect(form.field("dry_run")).not.toBeChecked();
    await expect(form.field("options")).toHaveJSProperty("tagName", "TEXTAREA");
    await expect(form.field("options")).toHaveValue("");

    // The server rejects a non-integer int: its message lands under "limit".
    await form.fill("limit", "1.5");
    await form.submit();
    await expect(form.error("limit")).toContainText("parameters.limit");
    await expect(form.field("limit")).toHaveAttribute("aria-invalid", "true");
    await expect(page).not.toHaveURL(/\/runs\//);

    // What the browser can tell is wrong (bad JSON) is reported without a request.
    await form.fill("limit", "3");
    await expect(form.error("limit")).toHaveCount(0);
    await form.fill("options", "{not json");
    await form.submit();
    await expect(form.error("options")).toContainText("invalid JSON");

    // Escape closes the panel.
    await page.keyboard.press("Escape");
    await expect(form.root).toHaveCount(0);
  });

  test("trigger with a changed parameter and watch progress reach 100 % live", async ({ flowsPage, runPage, page }) => {
    await flowsPage.goto();
    const form = await flowsPage.openTrigger("Daily Sales ETL");
    await expect(form.field("limit")).toHaveValue("1000");
    await form.fill("limit", "42");
    await form.fill("region", "eu-west");
    const runId = await form.submitAndOpenRun();
    // A marker on the window: it survives only if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    await expect(runPage.title).toHaveText("Daily Sales ETL");
    await expect(page.getByTestId("run-param-limit")).toHaveText("42");
    await expect(page.getByTestId("run-param-region")).toHaveText("eu-west");
    await expect(runPage.taskRows).toHaveCount(3);

    // Sample the bar until the run completes: it only ever moves forward.
    const seen: number[] = [];
    await expect
      .poll(
        async () => {
          seen.push(await runPage.progress());
          return runPage.state.textContent();
        },
        { timeout: 30_000, intervals: [100] },
      )
      .toBe("COMPLETED");
    await expect(runPage.progressText).toHaveText("100%");
    expect(await runPage.progress()).toBe(100);
    expect(seen, "progress never goes backwards").toEqual([...seen].sort((a, b) => a - b));
    for (const row of await runPage.taskRows.all()) await expect(row.getByTestId("task-state")).toHaveText("COMPLETED");
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(page.url()).toContain(`/runs/${runId}`);

    // Logs arrived live too, and filter by task and by level.
    await expect(runPage.logLines.filter({ hasText: "region=eu-west" })).toBeVisible();
    await expect(runPage.logLines.filter({ hasText: "kept" })).toBeVisible();
    await runPage.filterLogsByTask("transform_sales");
    await expect(runPage.logLines.first()).toBeVisible();
    for (const task of await runPage.logLines.evaluateAll((ls) => ls.map((l) => l.getAttribute("data-task")))) {
      expect(task).toBe("transform_sales");
    }
    await runPage.toggleLogLevel("INFO");
    await expect(runPage.logLines).toHaveCount(0);
    await runPage.toggleLogLevel("INFO");
    await expect(runPage.logLines.first()).toBeVisible();
  });
});
