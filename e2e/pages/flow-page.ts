import { expect, type Locator, type Page } from "@playwright/test";

/**
 * The flow page (/flows/{id}): header, the window's figures and runs chart, task statistics,
 * concurrency, parameters, tasks and the schedules panel.
 */
export class FlowPage {
  constructor(readonly page: Page) {}

  /** Opens the page (optionally with `?window=`) and waits until the window's summary is shown. */
  async gotoSummary(flowId: string, window?: string): Promise<void> {
    await this.page.goto(`/flows/${flowId}${window ? `?window=${window}` : ""}`);
    await expect(this.page.getByTestId("flow-page")).toBeVisible();
    await this.summaryLoaded();
  }

  async summaryLoaded(): Promise<void> {
    await expect(this.summary).toHaveAttribute("data-loaded", "true");
  }

  get summary(): Locator {
    return this.page.getByTestId("flow-summary");
  }
  figure(name: "total" | "success-rate" | "p50" | "p95"): Locator {
    return this.summary.getByTestId(`summary-${name}`);
  }
  stateCount(state: string): Locator {
    return this.summary.getByTestId(`summary-count-${state}`);
  }
  windowButton(w: string): Locator {
    return this.page.getByTestId(`window-${w}`);
  }
  get runsChart(): Locator {
    return this.page.getByTestId("flow-runs-chart");
  }
  get runsTableRows(): Locator {
    return this.runsChart.getByTestId("flow-runs-table-row");
  }
  runsTableRow(runId: string): Locator {
    return this.runsChart.locator(`[data-testid="flow-runs-table-row"][data-run-id="${runId}"]`);
  }
  taskStat(name: string): Locator {
    return this.page.locator(`[data-testid="flow-task-stat"][data-task="${name}"]`);
  }
  get concurrency(): Locator {
    return this.page.getByTestId("flow-concurrency");
  }

  /**
   * The largest share of one canvas row's pixels that are within `tolerance` of `hex`: a
   * horizontal line of that colour across the plot gives ≥ 0.4 (a 4-on-3-off dash ≈ 0.57),
   * dots of the colour stay far below.
   */
  async lineShare(canvasHost: Locator, hex: string, tolerance = 24): Promise<number> {
    return canvasHost.locator("canvas").evaluate(
      (c: HTMLCanvasElement, [hex, tol]) => {
        const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
        const ctx = c.getContext("2d");
        if (!ctx) return 0;
        const { data, width, height } = ctx.getImageData(0, 0, c.width, c.height);
        let best = 0;
        for (let y = 0; y < height; y++) {
          let n = 0;
          for (let x = 0; x < width; x++) {
            const o = (y * width + x) * 4;
            if (data[o + 3] > 200 && Math.abs(data[o] - want[0]) <= tol && Math.abs(data[o + 1] - want[1]) <= tol && Math.abs(data[o + 2] - want[2]) <= tol) n++;
          }
          best = Math.max(best, n / width);
        }
        return best;
      },
      [hex, tolerance] as [string, number],
    );
  }

  async goto(flowId: string): Promise<void> {
    await this.page.goto(`/flows/${flowId}`);
    await expect(this.page.getByTestId("flow-page")).toBeVisible();
    // The schedules answered: a list or the empty state.
    await expect(this.page.getByTestId("schedule-row").first().or(this.page.getByTestId("schedules-empty"))).toBeVisible();
  }

  get title(): Locator {
    return this.page.getByTestId("flow-title");
  }
  get runButton(): Locator {
    return this.page.getByTestId("flow-page").getByTestId("trigger-button");
  }
  get scheduleRows(): Locator {
    return this.page.getByTestId("schedule-row");
  }
  get schedulesEmpty(): Locator {
    return this.page.getByTestId("schedules-empty");
  }

  scheduleRow(id: string): Locator {
    return this.page.locator(`[data-testid="schedule-row"][data-schedule-id="${id}"]`);
  }

  async newSchedule(): Promise<ScheduleForm> {
    await this.page.getByTestId("schedule-new").click();
    const root = this.page.getByTestId("schedule-form");
    await expect(root).toBeVisible();
    return new ScheduleForm(this.page, root);
  }

  async edit(id: string): Promise<ScheduleForm> {
    await this.scheduleRow(id).getByTestId("schedule-edit").click();
    const root = this.page.getByTestId("schedule-form");
    await expect(root).toBeVisible();
    return new ScheduleForm(this.page, root);
  }

  async backfill(id: string): Promise<BackfillDialog> {
    await this.scheduleRow(id).getByTestId("schedule-backfill").click();
    const root = this.page.getByTestId("backfill-form");
    await expect(root).toBeVisible();
    return new BackfillDialog(this.page, root);
  }
}

export class ScheduleForm {
  constructor(
    readonly page: Page,
    readonly root: Locator,
  ) {}

  get cron(): Locator {
    return this.root.getByTestId("schedule-cron");
  }
  get timezone(): Locator {
    return this.root.getByTestId("schedule-timezone");
  }
  get previewDescription(): Locator {
    return this.root.getByTestId("schedule-preview-description");
  }
  get previewTimes(): Locator {
    return this.root.getByTestId("schedule-preview-time");
  }
  /** The error shown next to a field of the form (`cron`, `timezone`, `intervalSeconds`…). */
  error(field: string): Locator {
    return this.root.getByTestId(`schedule-error-${field}`);
  }
  param(name: string): Locator {
    return this.root.getByTestId(`param-${name}`);
  }
  /** The error shown next to a parameter's input. */
  paramError(name: string): Locator {
    return this.root.getByTestId(`param-error-${name}`);
  }

  async useInterval(value: string, unit: "seconds" | "minutes" | "hours"): Promise<void> {
    await this.root.getByTestId("schedule-kind-interval").check();
    await this.root.getByTestId("schedule-interval-value").fill(value);
    await this.root.getByTestId("schedule-interval-unit").selectOption(unit);
  }

  async overlap(policy: string): Promise<void> {
    await this.root.getByTestId("schedule-overlap").selectOption(policy);
  }

  async catchup(policy: string): Promise<void> {
    await this.root.getByTestId("schedule-catchup").selectOption(policy);
  }

  /** The `datetime` attributes (ISO, UTC) of the preview's fire times, in order. */
  async previewIsoTimes(): Promise<string[]> {
    return this.previewTimes.evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime") ?? ""));
  }

  async submit(): Promise<void> {
    await this.root.getByTestId("schedule-submit").click();
  }

  /** Submits and waits for the dialog to close (the schedule was saved). */
  async save(): Promise<void> {
    await this.submit();
    await expect(this.root).toHaveCount(0);
  }
}

export class BackfillDialog {
  constructor(
    readonly page: Page,
    readonly root: Locator,
  ) {}

  async range(from: string, to: string): Promise<void> {
    await this.root.getByTestId("backfill-from").fill(from);
    await this.root.getByTestId("backfill-to").fill(to);
  }

  async count(): Promise<void> {
    await this.root.getByTestId("backfill-preview-button").click();
  }

  get previewCount(): Locator {
    return this.root.getByTestId("backfill-count");
  }
  get skipped(): Locator {
    return this.root.getByTestId("backfill-skipped");
  }
  get confirmButton(): Locator {
    return this.root.getByTestId("backfill-confirm");
  }
  get created(): Locator {
    return this.root.getByTestId("backfill-created");
  }
  get historyLink(): Locator {
    return this.root.getByTestId("backfill-history-link");
  }
  error(field: "from" | "to"): Locator {
    return this.root.getByTestId(`backfill-error-${field}`);
  }
}
