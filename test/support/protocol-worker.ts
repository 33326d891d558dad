/** A minimal worker speaking the documented protocol with fetch: for tests and benchmarks. */
export class ProtocolWorker {
  workerId = "";
  constructor(
    readonly url: string,
    readonly clientId: string,
    readonly token: string,
  ) {}

  async call(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}/api/worker/${this.clientId}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json };
  }

  async register(flows: unknown[]): Promise<{ id: string; name: string }[]> {
    const r = await this.call("/register", { worker: { hostname: "test", pid: process.pid }, flows });
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
    this.workerId = r.body.workerId;
    return r.body.flows;
  }

  async poll(maxRuns = 1, waitMs = 0): Promise<{ id: string; parameters: Record<string, unknown> }[]> {
    const r = await this.call("/poll", { workerId: this.workerId, maxRuns, waitMs });
    if (r.status !== 200) throw new Error(`poll: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.runs;
  }

  heartbeat(runIds: string[] = []) {
    return this.call("/heartbeat", { workerId: this.workerId, runIds });
  }

  events(runId: string, events: unknown[], extra: Record<string, unknown> = {}) {
    return this.call(`/runs/${runId}/events`, { workerId: this.workerId, events, ...extra });
  }
}

export async function trigger(url: string, flowId: string, parameters: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(`${url}/api/flows/${flowId}/runs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ parameters }),
  });
  if (res.status !== 201) throw new Error(`trigger: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  return res.json();
}
