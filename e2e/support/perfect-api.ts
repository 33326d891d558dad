/** The dashboard JSON API as the specs use it directly (setup steps and checks). */
import { expect, type APIRequestContext } from "@playwright/test";
import type { FlowView, RunView } from "../../lib/contracts/dashboard";

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
