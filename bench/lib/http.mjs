/**
 * A lean HTTP/1.1 client for the load generators: node:http with a keep-alive agent (no fetch
 * overhead in the measuring process, and thousands of sockets held open for long polls).
 * Every request goes to 127.0.0.1 only. It stays apart from the tests' client
 * (test/support/api-client.ts, fetch) on purpose: what it measures must not include fetch's cost.
 */
import http from "node:http";

export function makeAgent(maxSockets = 2000) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, keepAliveMsecs: 30_000 });
}

/**
 * One request; resolves { status, body (parsed JSON or text), headers, ms } or rejects on a network error.
 * `base` is http://127.0.0.1:port.
 */
export function request(agent, base, method, path, { body, headers = {}, timeoutMs = 60_000 } = {}) {
  const url = new URL(path, base);
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") throw new Error(`refusing non-loopback target ${url.hostname}`);
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const h = { ...headers };
  if (payload !== undefined) {
    h["content-type"] ??= "application/json";
    h["content-length"] = Buffer.byteLength(payload);
  }
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers: h, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed = text;
          if ((res.headers["content-type"] ?? "").includes("json")) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep text */
            }
          }
          resolve({ status: res.statusCode, body: parsed, headers: res.headers, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)));
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A small API client for one server: dashboard calls and the worker protocol of one client. */
export function apiClient(base, { agent = makeAgent(), clientId, token } = {}) {
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  const ok = async (p, what) => {
    const r = await p;
    if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${typeof r.body === "string" ? r.body.slice(0, 300) : JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    agent,
    base,
    raw: (method, path, opts) => request(agent, base, method, path, opts),
    get: (path) => ok(request(agent, base, "GET", path), `GET ${path}`),
    trigger: (flowId, parameters = {}) =>
      ok(request(agent, base, "POST", `/api/flows/${flowId}/runs`, { body: { parameters } }), "trigger"),
    register: (flows, worker = { hostname: "bench", pid: process.pid }) =>
      ok(request(agent, base, "POST", `/api/worker/${clientId}/register`, { body: { worker, flows }, headers: auth }), "register"),
    poll: (workerId, maxRuns = 1, waitMs = 0, timeoutMs = waitMs + 30_000) =>
      ok(request(agent, base, "POST", `/api/worker/${clientId}/poll`, { body: { workerId, maxRuns, waitMs }, headers: auth, timeoutMs }), "poll"),
    events: (workerId, runId, events) =>
      request(agent, base, "POST", `/api/worker/${clientId}/runs/${runId}/events`, { body: { workerId, events }, headers: auth }),
    eventsBody: (runId, payload) =>
      request(agent, base, "POST", `/api/worker/${clientId}/runs/${runId}/events`, { body: payload, headers: auth }),
  };
}

/**
 * Keeps `concurrency` requests in flight until `count` are done or `maxMs` passes; returns the
 * completed count, the wall time and the per-request latencies.
 */
export async function closedLoop({ concurrency, count, maxMs, send }) {
  let started = 0;
  let done = 0;
  let failed = 0;
  const latencies = [];
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  const lane = async (lane) => {
    while (started < count && performance.now() < deadline) {
      const i = started++;
      const s = performance.now();
      try {
        const r = await send(i, lane);
        if (r && r.status >= 300) {
          failed++;
          if (failed <= 3) console.error(`[bench] request ${i}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        } else done++;
      } catch (e) {
        failed++;
        if (failed <= 3) console.error(`[bench] request ${i}: ${e.message}`);
      }
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const wallMs = performance.now() - t0;
  return { done, failed, wallMs, perSecond: (done / wallMs) * 1000, latencies };
}
