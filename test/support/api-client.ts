/**
 * The one HTTP client of the test suites, for any Perfect server: the in-process harness
 * (lib/__tests__/helpers.ts), a `next start` from the launcher, or an e2e global setup. Answers
 * are `{ status, body, headers }` (body parsed as JSON when it is JSON, else the text) and never
 * throw for a status: the tests assert on statuses. The benchmarks keep their own client
 * (bench/lib/http.mjs: keep-alive agents, no fetch overhead in the measuring process).
 */
import { until } from "./wait";

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
  /** Whether the body parsed as JSON. */
  json: boolean;
}

/** One request to a full URL; a string body is sent as is, anything else as JSON. */
export async function request(url: string, method = "GET", body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text), headers: res.headers, json: true };
  } catch {
    return { status: res.status, body: text, headers: res.headers, json: false };
  }
}

/** The dashboard API and the worker protocol of one server (`url` = http://host:port). */
export function apiClient(url: string) {
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => request(url + path, method, body, headers);
  /** The worker routes of one client, as its token allows. */
  const worker = (clientId: string, token: string) => {
    const auth = { authorization: `Bearer ${token}` };
    const route = (path: string) => `/api/worker/${clientId}${path}`;
    return {
      register: (flows: unknown[], extra = {}) => call("POST", route("/register"), { flows, ...extra }, auth),
      poll: (workerId: string, extra = {}) => call("POST", route("/poll"), { workerId, waitMs: 0, ...extra }, auth),
      heartbeat: (workerId: string, runIds: string[] = []) => call("POST", route("/heartbeat"), { workerId, runIds }, auth),
      events: (workerId: string, runId: string, events: unknown[], extra = {}) => call("POST", route(`/runs/${runId}/events`), { workerId, events, ...extra }, auth),
      /** A task call's slot of a concurrency key (long-polled up to waitMs while WAITING). */
      slot: (workerId: string, runId: string, body: { key: string; call: number; task: string; waitMs?: number }) =>
        call("POST", route(`/runs/${runId}/slots`), { workerId, waitMs: 0, ...body }, auth),
      releaseSlot: (runId: string, slotId: string) => call("DELETE", route(`/runs/${runId}/slots/${slotId}`), undefined, auth),
      /** Any other worker route, with this client's token. */
      call: (path: string, body: unknown) => call("POST", route(path), body, auth),
    };
  };
  return {
    url,
    call,
    worker,
    get: (path: string) => call("GET", path),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call("POST", path, body ?? {}, headers),
    put: (path: string, body?: unknown) => call("PUT", path, body ?? {}),
    del: (path: string) => call("DELETE", path),
  };
}

/** GET a full URL's JSON body, whatever the status (a body that is not JSON throws). */
export async function getJson(url: string): Promise<any> {
  const a = await request(url);
  if (!a.json) throw new Error(`GET ${url}: ${a.status}, not JSON: ${String(a.body).slice(0, 200)}`);
  return a.body;
}

/** Triggers a run of `flowId` on the server at `url`; throws unless it was created (201). */
export async function trigger(url: string, flowId: string, parameters: Record<string, unknown> = {}): Promise<any> {
  const a = await apiClient(url).post(`/api/flows/${flowId}/runs`, { parameters });
  if (a.status !== 201) throw new Error(`trigger: ${a.status} ${typeof a.body === "string" ? a.body : JSON.stringify(a.body)}`);
  return a.body;
}

/**
 * The id of the flow named `name` (of `clientId`, when given) once a worker serving it is
 * online: waits for it up to `timeoutMs`.
 */
export function onlineFlow(url: string, name: string, { clientId, timeoutMs }: { clientId?: string; timeoutMs?: number } = {}): Promise<string> {
  return until(
    `flow ${name} served`,
    async () => {
      const flows = (await getJson(`${url}/api/flows?name=${encodeURIComponent(name)}`)).flows as any[];
      return flows.find((f) => f.name === name && f.online && (clientId === undefined || f.clientId === clientId))?.id as string | undefined;
    },
    timeoutMs,
  );
}
