/**
 * The worker protocol (`/api/worker/{clientId}/…`), one table: each route's method, path, status
 * and handler — parse with the route's zod schema, then one engine call. Served two ways with the
 * same handlers and the same checks: by Next through the thin route files under
 * app/api/worker/ (`workerRoute`), and, in `next start` and `next dev` alike, straight from the
 * front door by lib/api/worker-lane.ts, which skips Next's request pipeline — a worker's poll,
 * events and heartbeat are the server's hottest requests, and Next's routing, request adaptation
 * and tracing cost more per request than the engine's work for them (docs/BENCHMARKS.md).
 */
import { artifactCreateSchema, artifactUpdateSchema, localRunRequestSchema, variableBodySchema } from "../contracts/artifacts";
import { eventBatchSchema, goodbyeRequestSchema, heartbeatRequestSchema, pollRequestSchema, registerRequestSchema, slotRequestSchema, subflowRequestSchema } from "../contracts/worker";
import type { Engine } from "../engine/engine";
import { PerfectError } from "../engine/errors";
import { parseWith } from "./parse";
import { pollAdmission } from "./poll-admission";

export interface WorkerCall {
  engine: Engine;
  clientId: string;
  params: Record<string, string>;
  /** The request's JSON body, read with the size cap and bounded in depth (read at most once). */
  body: () => Promise<unknown>;
  /** Aborted when the caller hangs up (ends a long poll early). */
  signal: AbortSignal;
}

export interface WorkerRouteSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Segments after `/api/worker/{clientId}/`; `:name` matches one segment into params.name. */
  path: string[];
  status: 200 | 201 | 204;
  handle: (call: WorkerCall) => Promise<unknown> | unknown;
}

const route = (method: WorkerRouteSpec["method"], path: string, handle: WorkerRouteSpec["handle"], status: WorkerRouteSpec["status"] = 200): WorkerRouteSpec => ({
  method,
  path: path.split("/"),
  status,
  handle,
});

export const WORKER_PROTOCOL = {
  register: route("POST", "register", async ({ engine, clientId, body }) => engine.register(clientId, parseWith(registerRequestSchema, await body()))),

  poll: route("POST", "poll", async ({ engine, clientId, body, signal }) => {
    const poll = parseWith(pollRequestSchema, await body());
    // One worker process has no use for many polls at once; past the cap it is told to back off
    // (O(1): a counter per worker id), before the poll touches the database.
    const leave = pollAdmission().enter(`${clientId}\u0000${poll.workerId}`);
    if (!leave) throw new PerfectError("rate_limited", `too many long polls held at once by worker ${poll.workerId}`, { retryAfterSec: 1 });
    try {
      return await engine.poll(clientId, poll, signal);
    } finally {
      leave();
    }
  }),

  // Heartbeat floods are refused by the front door (a rate per client and address, 429), before
  // the body is read: nothing to pace here.
  heartbeat: route("POST", "heartbeat", async ({ engine, clientId, body }) => engine.heartbeat(clientId, parseWith(heartbeatRequestSchema, await body()))),

  // A worker process stopping on purpose: forgotten at once, never "lost" (docs/RELIABILITY.md).
  goodbye: route("POST", "goodbye", async ({ engine, clientId, body }) => engine.goodbye(clientId, parseWith(goodbyeRequestSchema, await body())), 204),

  events: route("POST", "runs/:runId/events", async ({ engine, clientId, params, body }) => engine.applyEvents(clientId, params.runId, parseWith(eventBatchSchema, await body()))),

  // A flow called directly (`python etl.py` with PERFECT_URL set) by a worker that registered it:
  // 201 with the run, RUNNING for that worker, trigger "local".
  localRun: route("POST", "runs", async ({ engine, clientId, body }) => engine.startLocalRun(clientId, parseWith(localRunRequestSchema, await body())), 201),

  // A flow called inside the running run `runId`: 201 with the child run (the same one again for
  // a re-sent request with the same call).
  subflow: route("POST", "runs/:runId/subflows", async ({ engine, clientId, params, body }) => engine.startSubflow(clientId, params.runId, parseWith(subflowRequestSchema, await body())), 201),

  /** A task call's slot of a concurrency key: HELD, or WAITING after a long poll (docs/API.md). */
  acquireSlot: route("POST", "runs/:runId/slots", async ({ engine, clientId, params, body, signal }) =>
    engine.acquireSlot(clientId, params.runId, parseWith(slotRequestSchema, await body()), signal),
  ),

  /** Gives the slot back; 204 whether or not it still existed. */
  releaseSlot: route("DELETE", "runs/:runId/slots/:slotId", ({ engine, clientId, params }) => engine.releaseSlot(clientId, params.runId, params.slotId), 204),

  // An artifact of the running run `runId` (a keyed progress artifact is updated in place): 201.
  createArtifact: route("POST", "runs/:runId/artifacts", async ({ engine, clientId, params, body }) =>
    engine.createArtifact(clientId, params.runId, parseWith(artifactCreateSchema, await body())), 201,
  ),

  // New data for an artifact of the running run (Prefect's update_progress_artifact).
  updateArtifact: route("PATCH", "runs/:runId/artifacts/:artifactId", async ({ engine, clientId, params, body }) =>
    engine.updateArtifact(clientId, params.runId, params.artifactId, parseWith(artifactUpdateSchema, await body())),
  ),

  // Prefect's Variable.get / Variable.set from inside a flow (the client's token is enough).
  getVariable: route("GET", "variables/:name", ({ engine, params }) => engine.getVariable(params.name)),
  setVariable: route("PUT", "variables/:name", async ({ engine, params, body }) => engine.setVariable(params.name, parseWith(variableBodySchema, await body()).value)),
} satisfies Record<string, WorkerRouteSpec>;

const ROUTES: WorkerRouteSpec[] = Object.values(WORKER_PROTOCOL);

/**
 * The route a request is for: `path` is the URL path (no query). Null when it is not a worker
 * route of this table; `params` holds `clientId` and the pattern's names, percent-decoded
 * (a malformed escape matches nothing: Next answers it).
 */
export function matchWorkerRoute(method: string, path: string): { spec: WorkerRouteSpec; params: Record<string, string> } | null {
  if (!path.startsWith("/api/worker/")) return null;
  const parts = path.slice("/api/worker/".length).split("/");
  if (parts[parts.length - 1] === "") parts.pop(); // a trailing slash
  if (parts.length < 2) return null;
  for (const spec of ROUTES) {
    if (spec.method !== method || spec.path.length !== parts.length - 1) continue;
    const params: Record<string, string> = Object.create(null);
    let ok = true;
    try {
      params.clientId = decodeURIComponent(parts[0]);
      for (let i = 0; i < spec.path.length && ok; i++) {
        const want = spec.path[i];
        const got = parts[i + 1];
        if (want.startsWith(":")) params[want.slice(1)] = decodeURIComponent(got);
        else ok = want === got;
      }
    } catch {
      return null;
    }
    if (ok && params.clientId && Object.values(params).every((v) => v !== "")) return { spec, params };
  }
  return null;
}
