import { QUICK_FLOW } from "./support/constants";
import { expect, test } from "./fixtures";

/** Full-page screenshots of every page at desktop and phone widths, kept under test-results/. */
const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

for (const vp of VIEWPORTS) {
  test(`screenshots at ${vp.width}px`, async ({ api, page }, testInfo) => {
    const [run] = await api.completedRuns("Daily Sales ETL", 1);
    await api.completedRuns(QUICK_FLOW, 1);
    await page.setViewportSize({ width: vp.width, height: vp.height });
    // A paused schedule for the flow page to show (paused: it makes no run; deleted below).
    const etl = await api.flow("Daily Sales ETL");
    const schedule = await api.createSchedule("Daily Sales ETL", { cron: "0 6 * * 1-5", timezone: "Europe/Berlin", active: false, parameters: { region: "eu-west" } });
    const shots: [string, string, string][] = [
      ["flows", "/", "flow-card"],
      ["flow", `/flows/${etl.id}`, "schedule-row"],
      ["run", `/runs/${run.id}`, "task-row"],
      ["history", "/runs", "history-row"],
      ["stats", "/stats", "stats-chart"],
      ["clients", "/clients", "client-row"],
    ];
    try {
      for (const [name, url, testId] of shots) {
        await page.goto(url);
        await expect(page.getByTestId(testId).first()).toBeVisible();
        if (name === "run") await expect(page.getByTestId("log-line").first()).toBeVisible();
        await page.waitForTimeout(400); // let bars finish their transition
        const path = testInfo.outputPath(`${name}-${vp.width}.png`);
        await page.screenshot({ path, fullPage: true });
        await testInfo.attach(`${name}-${vp.width}`, { path, contentType: "image/png" });
      }
      // The schedule form open, with its live preview.
      await page.goto(`/flows/${etl.id}`);
      await page.getByTestId("schedule-new").click();
      await expect(page.getByTestId("schedule-preview-time").first()).toBeVisible();
      const formPath = testInfo.outputPath(`schedule-form-${vp.width}.png`);
      await page.screenshot({ path: formPath });
      await testInfo.attach(`schedule-form-${vp.width}`, { path: formPath, contentType: "image/png" });
    } finally {
      await page.request.delete(`/api/schedules/${schedule.id}`);
    }
    // The trigger panel open.
    await page.goto("/");
    await page.getByTestId("flow-card").filter({ hasText: QUICK_FLOW }).getByTestId("trigger-button").click();
    await expect(page.getByTestId("trigger-form")).toBeVisible();
    const path = testInfo.outputPath(`trigger-${vp.width}.png`);
    await page.screenshot({ path });
    await testInfo.attach(`trigger-${vp.width}`, { path, contentType: "image/png" });
  });
}
