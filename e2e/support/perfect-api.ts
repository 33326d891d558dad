/** The dashboard JSON API as the specs use it directly (setup steps and checks). */
import { expect, type APIRequestContext } from "@playwright/test";
import type { FlowView, RunSummary, RunView } from "../../lib/contracts/dashboard";
import type { ScheduleInput, ScheduleView } from "../../hooks/use-schedules";

const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED"];

export class PerfectApi {
  constructor(private readonly request: APIRequestContext) {}

  async flows(): Promise<FlowView[]> {
    const r = await this.request.get("/api/flows");
    expect(r.ok()).toBeTruthy();
    return ((await r.json()) as { flows: FlowView[] }).flows;
  }

  async flow(name: string): Promise<FlowView> {
    const f = (await this.flows()).find((x) => x.name === name);
    if (!f) throw new Error(`flow ${name} is not registered`);
    return f;
  }

  async trigger(flowName: string, parameters: Record<string, unknown> = {}): Promise<RunView> {
    const flow = await this.flow(flowName);
    const r = await this.request.post(`/api/flows/${flow.id}/runs`, { data: { parameters } });
    expect(r.status(), await r.text()).toBe(201);
    return (await r.json()) as RunView;
  }

  async run(id: string): Promise<RunView> {
    const r = await this.request.get(`/api/runs/${id}`);
    expect(r.ok()).toBeTruthy();
    return (await r.json()) as RunView;
  }

  async waitForRun(id: string, until: (r: RunView) => boolean = (r) => TERMINAL.includes(r.state), timeoutMs = 30_000): Promise<RunView> {
    let last: RunView | undefined;
    await expect
      .poll(
        async () => {
          last = await this.run(id);
          return until(last);
        },
        { timeout: timeoutMs, intervals: [100, 200, 300] },
      )
      .toBe(true);
    return last!;
  }

  async runs(query: string): Promise<RunSummary[]> {
    const r = await this.request.get(`/api/runs?${query}`);
    expect(r.ok(), await r.text()).toBeTruthy();
    return ((await r.json()) as { runs: RunSummary[] }).runs;
  }

  async schedules(flowId: string): Promise<ScheduleView[]> {
    const r = await this.request.get(`/api/flows/${flowId}/schedules`);
    expect(r.ok(), await r.text()).toBeTruthy();
    return ((await r.json()) as { schedules: ScheduleView[] }).schedules;
  }

  async createSchedule(flowName: string, body: Partial<ScheduleInput>): Promise<ScheduleView> {
    const flow = await this.flow(flowName);
    const r = await this.request.post(`/api/flows/${flow.id}/schedules`, { data: body });
    expect(r.status(), await r.text()).toBe(201);
    return (await r.json()) as ScheduleView;
  }

  async schedule(id: string): Promise<ScheduleView | null> {
    const r = await this.request.get(`/api/schedules/${id}`);
    if (r.status() === 404) return null;
    expect(r.ok(), await r.text()).toBeTruthy();
    return (await r.json()) as ScheduleView;
  }

  /**
   * Removes every schedule made through the API on these flows (paused first, so nothing fires
   * while it goes), then waits until no run a schedule made is still PENDING or RUNNING: the
   * specs after this one count runs and must not see a schedule's runs arrive.
   */
  async removeApiSchedules(flowNames: string[]): Promise<void> {
    for (const name of flowNames) {
      const flow = await this.flow(name);
      for (const s of await this.schedules(flow.id)) {
        if (s.source !== "api") continue;
        await this.request.patch(`/api/schedules/${s.id}`, { data: { active: false } });
        const r = await this.request.delete(`/api/schedules/${s.id}`);
        expect([204, 404], await r.text()).toContain(r.status());
      }
    }
    await expect
      .poll(async () => (await this.runs("trigger=schedule&state=PENDING&state=RUNNING&limit=200")).length, { timeout: 60_000 })
      .toBe(0);
  }

  /** Triggers `count` runs and waits until they all completed. */
  async completedRuns(flowName: string, count: number, parameters: Record<string, unknown> = {}): Promise<RunView[]> {
    const runs = [];
    for (let i = 0; i < count; i++) runs.push(await this.trigger(flowName, parameters));
    const done = [];
    for (const r of runs) done.push(await this.waitForRun(r.id));
    for (const r of done) expect(r.state, `run ${r.id} of ${flowName}`).toBe("COMPLETED");
    return done;
  }
}
