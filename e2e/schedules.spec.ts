/**
 * Schedules in the dashboard: the flow page, creating a schedule with its live preview, the
 * server's 400 next to the field, pause/resume, runs fired every second reaching the history,
 * backfill, deletion. Every schedule a test makes is removed after it (and the runs it made
 * have finished), so the specs that count runs never see one arrive. Schedules that fire (every
 * second, a backfill) use the chatty flow with one line: the quick flow's statistics are counted
 * by stats.spec.ts (its threshold changes at 20 samples), so nothing here adds quick runs — the
 * quick flow's schedules are paused or due only on a day of the year the suite never meets.
 */
import { CHATTY_FLOW, HOSTILE_FLOW, IMG, QUICK_FLOW, SCRIPT } from "./support/constants";
import { expect, test } from "./fixtures";

// Local times on the page are UTC too: the backfill range typed below means what it says.
test.use({ timezoneId: "UTC" });

test.describe("Schedules", () => {
  test.afterEach(async ({ api }) => {
    await api.removeApiSchedules([QUICK_FLOW, CHATTY_FLOW, HOSTILE_FLOW]);
  });

  test("a flow card opens the flow page: header, tasks, parameters, the Run button", async ({ flowsPage, flowPage, page, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    await flowsPage.goto();
    await flowsPage.openFlowPage(QUICK_FLOW);
    await expect(page).toHaveURL(new RegExp(`/flows/${flow.id}$`));
    await expect(flowPage.title).toHaveText(QUICK_FLOW);
    await expect(page.getByTestId("flow-description")).toHaveText("Three fast tasks for the end-to-end tests");
    await expect(page.getByTestId("flow-page").getByTestId("tag-chip").filter({ hasText: "quick" })).toBeVisible();
    await expect(page.getByTestId("flow-client-online")).toHaveAttribute("data-online", "true");
    await expect(page.getByTestId("flow-task")).toHaveCount(3);
    await expect(page.getByTestId("flow-parameter")).toHaveCount(5);
    await expect(flowPage.schedulesEmpty).toBeVisible();

    // The Run button is the trigger panel of the flows page (running it is flows-trigger.spec.ts's).
    await flowPage.runButton.click();
    await expect(page.getByTestId("trigger-form")).toBeVisible();
    await expect(page.getByTestId("param-label")).toHaveValue("hello");
    await page.keyboard.press("Escape");
    await expect(page.getByTestId("trigger-form")).toHaveCount(0);
    await expect(flowPage.runButton).toBeFocused();
  });

  test("create a cron schedule with a live preview of its fire times", async ({ flowPage, flowsPage, page, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    await flowPage.goto(flow.id);
    const form = await flowPage.newSchedule();

    await form.cron.fill("30 6 * * 1-5");
    await form.timezone.fill("Europe/Berlin");
    // The preview is the server's: the same wording and times as GET /api/schedules/preview.
    const expected = async (cron: string) => {
      const r = await page.request.get(`/api/schedules/preview?cron=${encodeURIComponent(cron)}&timezone=Europe%2FBerlin&count=5`);
      expect(r.ok(), await r.text()).toBeTruthy();
      return (await r.json()) as { times: string[]; description: string };
    };
    const weekdays = await expected("30 6 * * 1-5");
    await expect(form.previewDescription).toHaveText(weekdays.description);
    await expect(form.previewTimes).toHaveCount(5);
    expect(await form.previewIsoTimes()).toEqual(weekdays.times.map((t) => new Date(t).toISOString()));

    // It follows what is typed (noon on 1 January: not due while the suite runs).
    await form.cron.fill("0 12 1 1 *");
    const noon = await expected("0 12 1 1 *");
    await expect(form.previewDescription).toHaveText(noon.description);
    await expect.poll(() => form.previewIsoTimes()).toEqual(noon.times.map((t) => new Date(t).toISOString()));

    await form.param("label").fill("scheduled");
    await form.overlap("skip");
    await form.save();

    const row = flowPage.scheduleRows.first();
    await expect(flowPage.scheduleRows).toHaveCount(1);
    const [stored] = await api.schedules(flow.id);
    expect(stored).toMatchObject({ cron: "0 12 1 1 *", timezone: "Europe/Berlin", active: true, overlap: "skip", catchup: "skip", source: "api" });
    // Only what differs from the flow's defaults is stored.
    expect(stored.parameters).toEqual({ label: "scheduled" });
    await expect(row).toHaveAttribute("data-schedule-id", stored.id);
    await expect(row.getByTestId("schedule-description")).toHaveText(stored.description);
    await expect(row.getByTestId("schedule-source")).toHaveText("api");
    await expect(row.getByTestId("schedule-state")).toHaveText("active");
    await expect(row.getByTestId("schedule-overlap")).toContainText("skip");
    await expect(row.getByTestId("schedule-parameters")).toContainText("label=scheduled");
    await expect(row.getByTestId("schedule-next-run")).toHaveCount(5);
    const shown = await row.getByTestId("schedule-next-run").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")));
    expect(shown).toEqual(stored.nextRuns);
    await expect(row.getByTestId("schedule-next-run").first()).toHaveAttribute("title", /UTC$/);

    // The flows page's card says so.
    await flowsPage.goto();
    // A card asks for its schedules once it is on screen: with more flows registered than fit,
    // this one may start below the fold.
    await flowsPage.card(QUICK_FLOW).scrollIntoViewIfNeeded();
    const line = flowsPage.card(QUICK_FLOW).getByTestId("flow-schedules");
    await expect(line).toContainText("1 schedule");
    // Noon in Berlin, shown in the browser's zone (UTC here), as HH:MM on the day itself.
    const next = new Date(stored.nextRuns[0]);
    const sameDay = next.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);
    const hhmm = next.toISOString().slice(11, 16);
    await expect(line).toContainText(`next ${sameDay ? hhmm : `${next.toISOString().slice(5, 10)} ${hhmm}`}`);
  });

  test("a bad cron shows the server's 400 next to the cron field, and nothing is stored", async ({ flowPage, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    await flowPage.goto(flow.id);
    const form = await flowPage.newSchedule();
    await form.cron.fill("61 * * * *");
    // The live preview already says what is wrong, under the field.
    await expect(form.error("cron")).toBeVisible();
    await expect(form.cron).toHaveAttribute("aria-invalid", "true");
    await expect(form.previewDescription).toHaveCount(0);

    await form.submit();
    await expect(form.error("cron")).toBeVisible();
    await expect(form.root).toBeVisible();
    await expect(form.cron).toBeFocused();
    expect(await api.schedules(flow.id)).toEqual([]);

    // A bad time zone is named too; fixing both saves.
    await form.cron.fill("0 6 * * *");
    await expect(form.error("cron")).toHaveCount(0);
    await form.timezone.fill("Mars/Olympus_Mons");
    await expect(form.error("timezone")).toBeVisible();
    expect(await api.schedules(flow.id)).toEqual([]);
    await form.timezone.fill("UTC");
    await expect(form.error("timezone")).toHaveCount(0);
    await form.save();
    expect(await api.schedules(flow.id)).toHaveLength(1);
  });

  test("a parameter the server refuses, or the browser can tell is wrong, shows next to it; nothing is stored", async ({ flowPage, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    await flowPage.goto(flow.id);
    const form = await flowPage.newSchedule();
    // Not an int: only the server says so, and its 400 lands under the parameter.
    await form.param("limit").fill("1.5");
    await form.submit();
    await expect(form.paramError("limit")).toContainText("parameters.limit");
    await expect(form.param("limit")).toHaveAttribute("aria-invalid", "true");
    await expect(form.param("limit")).toBeFocused();
    await expect(form.error("cron")).toHaveCount(0);
    // Editing the value clears its error.
    await form.param("limit").fill("3");
    await expect(form.paramError("limit")).toHaveCount(0);
    // Bad JSON is caught before any request.
    await form.param("options").fill("{not json");
    await form.submit();
    await expect(form.paramError("options")).toContainText("invalid JSON");
    await expect(form.param("options")).toBeFocused();
    await expect(form.root).toBeVisible();
    expect(await api.schedules(flow.id)).toEqual([]);
  });

  test("pause and resume", async ({ flowPage, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    const s = await api.createSchedule(QUICK_FLOW, { cron: "0 6 1 1 *" });
    await flowPage.goto(flow.id);
    const row = flowPage.scheduleRow(s.id);
    const toggle = row.getByTestId("schedule-toggle");
    await expect(toggle).toHaveAttribute("aria-checked", "true");
    await expect(row.getByTestId("schedule-next-run")).toHaveCount(5);

    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-checked", "false");
    await expect(row.getByTestId("schedule-state")).toHaveText("paused");
    await expect(row.getByTestId("schedule-no-next-runs")).toBeVisible();
    await expect(row.getByTestId("schedule-next-run")).toHaveCount(0);
    expect((await api.schedule(s.id))?.active).toBe(false);

    await toggle.press("Enter"); // a switch, from the keyboard too
    await expect(toggle).toHaveAttribute("aria-checked", "true");
    await expect(row.getByTestId("schedule-next-run")).toHaveCount(5);
    expect((await api.schedule(s.id))?.active).toBe(true);
  });

  test("an every-second schedule makes runs the history shows under trigger=schedule", async ({ flowPage, historyPage, page, api }) => {
    const flow = await api.flow(CHATTY_FLOW);
    await flowPage.goto(flow.id);
    const form = await flowPage.newSchedule();
    await form.cron.fill("* * * * * *");
    await expect(form.previewTimes).toHaveCount(5);
    await form.param("lines").fill("1");
    await form.param("interval_ms").fill("1");
    await form.overlap("skip"); // one at a time: the worker is not flooded
    await form.save();
    const [s] = (await api.schedules(flow.id)).filter((x) => x.source === "api");
    try {
      // Each fire moves its next runs on the open page: the live `schedule` change, no reload.
      const firstNext = flowPage.scheduleRow(s.id).getByTestId("schedule-next-run").first();
      const shownFirst = await firstNext.getAttribute("datetime");
      await expect.poll(() => firstNext.getAttribute("datetime"), { timeout: 30_000 }).not.toBe(shownFirst);
      await expect(flowPage.scheduleRow(s.id)).toContainText("Last fired for");

      // It fires on its own: runs made by it, and only those, under the trigger filter.
      await historyPage.goto();
      await historyPage.page.getByTestId("filter-trigger-schedule").click();
      await expect(page).toHaveURL(/[?&]trigger=schedule/);
      await expect(page.getByTestId("filter-trigger-schedule")).toHaveAttribute("aria-pressed", "true");
      const row = historyPage.rows.filter({ hasText: CHATTY_FLOW }).first();
      await expect(row).toBeVisible({ timeout: 30_000 });
      await expect(row.getByTestId("history-scheduled")).toBeVisible();
      await expect
        .poll(async () => (await historyPage.rows.evaluateAll((rs) => rs.map((r) => r.getAttribute("data-trigger")))).every((t) => t === "schedule"))
        .toBe(true);
      const ours = await api.runs(`scheduleId=${s.id}`);
      expect(ours.length).toBeGreaterThan(0);
      for (const r of ours) expect(r).toMatchObject({ trigger: "schedule", flowName: CHATTY_FLOW, parameters: expect.objectContaining({ lines: 1, interval_ms: 1 }) });

      // The run view says when it was scheduled for, and which schedule made it.
      await historyPage.row(ours[0].id).getByTestId("history-run-link").click();
      await expect(page.getByTestId("run-scheduled")).toBeVisible();
      await expect(page.getByTestId("run-scheduled-for")).not.toHaveText("");
      await expect(page.getByTestId("run-schedule-link")).toHaveText(`#${s.id}`);
      // …and links back to its flow page.
      await page.getByTestId("run-flow-link").click();
      await expect(page).toHaveURL(new RegExp(`/flows/${flow.id}$`));

      // The schedule's own runs link filters the history by it.
      await flowPage.goto(flow.id);
      await flowPage.scheduleRow(s.id).getByTestId("schedule-runs-link").click();
      await expect(page).toHaveURL(new RegExp(`[?&]scheduleId=${s.id}`));
      await expect(page.getByTestId("filter-schedule-chip")).toContainText(`#${s.id}`);
      await expect(historyPage.rows.first()).toBeVisible();
      const listed = await historyPage.rowIds();
      const mine = new Set((await api.runs(`scheduleId=${s.id}&limit=200`)).map((r) => r.id));
      for (const id of listed) expect(mine.has(id), `run ${id} belongs to schedule ${s.id}`).toBe(true);
    } finally {
      // Stop it firing before anything else happens (the afterEach then deletes it).
      await page.request.patch(`/api/schedules/${s.id}`, { data: { active: false } });
    }
  });

  test("backfill: count the fire times of a range, confirm, find the runs in the history", async ({ flowPage, historyPage, page, api }) => {
    const flow = await api.flow(CHATTY_FLOW);
    // Noon on 29 February: three fire times from 2016 to 2024, and none for years to come.
    const s = await api.createSchedule(CHATTY_FLOW, { cron: "0 12 29 2 *", timezone: "UTC", parameters: { lines: 1, interval_ms: 1 } });
    await flowPage.goto(flow.id);

    const dialog = await flowPage.backfill(s.id);
    await dialog.range("2016-01-01T00:00", "2024-12-31T23:59");
    await dialog.count();
    await expect(dialog.previewCount).toHaveText("3");
    await expect(dialog.root.locator("time")).toHaveCount(3);
    // A dry run stores nothing.
    expect(await api.runs(`scheduleId=${s.id}`)).toEqual([]);
    await expect(dialog.confirmButton).toHaveText("Create 3 runs");
    await dialog.confirmButton.click();
    await expect(dialog.created).toHaveText("3");
    const made = await api.runs(`scheduleId=${s.id}`);
    expect(made.map((r) => r.scheduledFor).sort()).toEqual([
      "2016-02-29T12:00:00.000Z",
      "2020-02-29T12:00:00.000Z",
      "2024-02-29T12:00:00.000Z",
    ]);

    await dialog.historyLink.click();
    await expect(page).toHaveURL(new RegExp(`[?&]scheduleId=${s.id}`));
    await expect(historyPage.rows).toHaveCount(3);
    await expect(historyPage.rows.getByTestId("history-scheduled")).toHaveCount(3);

    // Again: every fire time has its run, nothing more to create.
    await flowPage.goto(flow.id);
    const again = await flowPage.backfill(s.id);
    await again.range("2016-01-01T00:00", "2024-12-31T23:59");
    await again.count();
    await expect(again.previewCount).toHaveText("0");
    await expect(again.skipped).toHaveText("3");
    await expect(again.confirmButton).toBeDisabled();

    // Too many fire times: the server's 400 lands next to "to".
    await page.keyboard.press("Escape");
    const everyMinute = await api.createSchedule(CHATTY_FLOW, { cron: "* * * * *", active: false });
    await flowPage.goto(flow.id);
    const big = await flowPage.backfill(everyMinute.id);
    await big.range("2024-01-01T00:00", "2024-01-03T00:00");
    await big.count();
    await expect(big.error("to")).toBeVisible();
    await expect(big.confirmButton).toBeDisabled();
  });

  test("delete asks first, then the schedule is gone", async ({ flowPage, page, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    const s = await api.createSchedule(QUICK_FLOW, { intervalSeconds: 3600, active: false });
    await flowPage.goto(flow.id);
    const row = flowPage.scheduleRow(s.id);
    await expect(row.getByTestId("schedule-expression")).toContainText("every 3600 s");

    await row.getByTestId("schedule-delete").click();
    await expect(row.getByTestId("schedule-delete-confirm")).toBeFocused();
    await row.getByRole("button", { name: "Keep it" }).click();
    await expect(row).toBeVisible();
    expect(await api.schedule(s.id)).not.toBeNull();

    await row.getByTestId("schedule-delete").click();
    await row.getByTestId("schedule-delete-confirm").click();
    await expect(row).toHaveCount(0);
    await expect(flowPage.schedulesEmpty).toBeVisible();
    expect(await api.schedule(s.id)).toBeNull();
    await expect(page.getByTestId("schedule-error")).toHaveCount(0);
  });

  test("an interval schedule is edited in its own unit", async ({ flowPage, api }) => {
    const flow = await api.flow(QUICK_FLOW);
    const s = await api.createSchedule(QUICK_FLOW, { intervalSeconds: 900, active: false });
    await flowPage.goto(flow.id);
    const form = await flowPage.edit(s.id);
    await expect(form.root.getByTestId("schedule-kind-interval")).toBeChecked();
    await expect(form.root.getByTestId("schedule-interval-value")).toHaveValue("15");
    await expect(form.root.getByTestId("schedule-interval-unit")).toHaveValue("minutes");
    await form.useInterval("2", "hours");
    await expect(form.previewTimes).toHaveCount(5);
    await form.save();
    expect((await api.schedule(s.id))?.intervalSeconds).toBe(7200);
    await expect(flowPage.scheduleRow(s.id).getByTestId("schedule-expression")).toContainText("every 7200 s");
  });

  test("a schedule declared in code can be paused and resumed, not edited or deleted", async ({ flowsPage, flowPage, page, api }) => {
    const flow = await api.flow(CHATTY_FLOW);
    const [code] = (await api.schedules(flow.id)).filter((s) => s.source === "code");
    expect(code, "e2e/worker_flows.py declares a schedule on the chatty flow").toBeDefined();
    await flowsPage.goto();
    await flowsPage.card(CHATTY_FLOW).scrollIntoViewIfNeeded();
    await expect(flowsPage.card(CHATTY_FLOW).getByTestId("flow-schedules")).toContainText("1 schedule");

    await flowsPage.openFlowPage(CHATTY_FLOW);
    const row = flowPage.scheduleRow(code.id);
    await expect(row).toHaveAttribute("data-source", "code");
    await expect(row.getByTestId("schedule-source")).toHaveText("code");
    await expect(row.getByTestId("schedule-code-note")).toContainText("Defined in code");
    await expect(row.getByTestId("schedule-expression")).toContainText("cron 0 12 29 2 * · Europe/Berlin");
    await expect(row.getByTestId("schedule-parameters")).toContainText("lines=5");
    await expect(row.getByTestId("schedule-edit")).toHaveCount(0);
    await expect(row.getByTestId("schedule-delete")).toHaveCount(0);
    try {
      await row.getByTestId("schedule-toggle").click();
      await expect(row.getByTestId("schedule-state")).toHaveText("paused");
      expect((await api.schedule(code.id))?.active).toBe(false);
      await row.getByTestId("schedule-toggle").click();
      await expect(row.getByTestId("schedule-state")).toHaveText("active");
      await expect(row.getByTestId("schedule-next-run").first()).toHaveAttribute("datetime", /-02-29T11:00:00\.000Z$/);
    } finally {
      await page.request.patch(`/api/schedules/${code.id}`, { data: { active: true } });
    }
  });

  test("a hostile flow's schedule parameters are shown as text", async ({ flowPage, page, api }) => {
    const flow = await api.flow(HOSTILE_FLOW);
    await api.createSchedule(HOSTILE_FLOW, { cron: "0 6 * * *", active: false, parameters: { note: IMG } });
    await flowPage.goto(flow.id);
    await expect(flowPage.title).toHaveText(HOSTILE_FLOW);
    await expect(page.getByTestId("flow-description")).toHaveText(`Description with ${SCRIPT} and ${IMG}`);
    await expect(flowPage.scheduleRows.first().getByTestId("schedule-parameters")).toContainText(`note=${IMG}`);
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
  });
});
