/**
 * A minimal worker speaking the documented protocol (test/support/api-client's worker routes),
 * remembering its worker id: exact counts for reliability tests, no SDK in between.
 */
import { apiClient } from "./api-client";

export class ProtocolWorker {
  workerId = "";
  private readonly routes: ReturnType<ReturnType<typeof apiClient>["worker"]>;

  constructor(
    readonly url: string,
    readonly clientId: string,
    readonly token: string,
  ) {
    this.routes = apiClient(url).worker(clientId, token);
  }

  call(path: string, body: unknown): Promise<{ status: number; body: any }> {
    return this.routes.call(path, body);
  }

  async register(flows: unknown[]): Promise<{ id: string; name: string }[]> {
    const r = await this.routes.register(flows, { worker: { hostname: "test", pid: process.pid } });
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
    this.workerId = r.body.workerId;
    return r.body.flows;
  }

  async poll(maxRuns = 1, waitMs = 0): Promise<{ id: string; parameters: Record<string, unknown> }[]> {
    const r = await this.routes.poll(this.workerId, { maxRuns, waitMs });
    if (r.status !== 200) throw new Error(`poll: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.runs;
  }

  heartbeat(runIds: string[] = []) {
    return this.routes.heartbeat(this.workerId, runIds);
  }

  events(runId: string, events: unknown[], extra: Record<string, unknown> = {}) {
    return this.routes.events(this.workerId, runId, events, extra);
  }
}
