/**
 * Serves the real route handlers over real HTTP (node:http on a free loopback port) without
 * Next, so protocol tests exercise status codes, headers and bodies as a worker sees them.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

type Handler = (req: Request, ctx: { params: Promise<any> }) => Promise<Response> | Response;
type RouteModule = Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE", Handler>>;

const ROUTES: [string, () => Promise<RouteModule>][] = [
  ["/api/health", () => import("../../app/api/health/route")],
  ["/api/worker/:clientId/register", () => import("../../app/api/worker/[clientId]/register/route")],
  ["/api/worker/:clientId/poll", () => import("../../app/api/worker/[clientId]/poll/route")],
  ["/api/worker/:clientId/heartbeat", () => import("../../app/api/worker/[clientId]/heartbeat/route")],
  ["/api/worker/:clientId/runs/:runId/events", () => import("../../app/api/worker/[clientId]/runs/[runId]/events/route")],
  ["/api/worker/:clientId/runs/:runId/subflows", () => import("../../app/api/worker/[clientId]/runs/[runId]/subflows/route")],
  ["/api/worker/:clientId/runs/:runId/slots", () => import("../../app/api/worker/[clientId]/runs/[runId]/slots/route")],
  ["/api/worker/:clientId/runs/:runId/slots/:slotId", () => import("../../app/api/worker/[clientId]/runs/[runId]/slots/[slotId]/route")],
  ["/api/worker/:clientId/runs", () => import("../../app/api/worker/[clientId]/runs/route")],
  ["/api/worker/:clientId/runs/:runId/artifacts", () => import("../../app/api/worker/[clientId]/runs/[runId]/artifacts/route")],
  ["/api/worker/:clientId/runs/:runId/artifacts/:artifactId", () => import("../../app/api/worker/[clientId]/runs/[runId]/artifacts/[artifactId]/route")],
  ["/api/worker/:clientId/variables/:name", () => import("../../app/api/worker/[clientId]/variables/[name]/route")],
  ["/api/variables", () => import("../../app/api/variables/route")],
  ["/api/variables/:name", () => import("../../app/api/variables/[name]/route")],
  ["/api/runs/:id/artifacts", () => import("../../app/api/runs/[id]/artifacts/route")],
  ["/api/concurrency-limits", () => import("../../app/api/concurrency-limits/route")],
  ["/api/concurrency-limits/:key", () => import("../../app/api/concurrency-limits/[key]/route")],
  ["/api/flows", () => import("../../app/api/flows/route")],
  ["/api/flows/:id", () => import("../../app/api/flows/[id]/route")],
  ["/api/flows/:id/runs", () => import("../../app/api/flows/[id]/runs/route")],
  ["/api/flows/:id/schedules", () => import("../../app/api/flows/[id]/schedules/route")],
  ["/api/flows/:id/backfill", () => import("../../app/api/flows/[id]/backfill/route")],
  // Static before dynamic, as Next matches them.
  ["/api/schedules/preview", () => import("../../app/api/schedules/preview/route")],
  ["/api/schedules/:id", () => import("../../app/api/schedules/[id]/route")],
  ["/api/runs", () => import("../../app/api/runs/route")],
  ["/api/runs/:id", () => import("../../app/api/runs/[id]/route")],
  ["/api/runs/:id/logs", () => import("../../app/api/runs/[id]/logs/route")],
  ["/api/runs/:id/cancel", () => import("../../app/api/runs/[id]/cancel/route")],
  ["/api/runs/:id/retry", () => import("../../app/api/runs/[id]/retry/route")],
  ["/api/runs/:id/report", () => import("../../app/api/runs/[id]/report/route")],
  ["/api/stats/tasks", () => import("../../app/api/stats/tasks/route")],
  ["/api/clients", () => import("../../app/api/clients/route")],
  ["/api/events", () => import("../../app/api/events/route")],
  ["/api/alerts", () => import("../../app/api/alerts/route")],
  ["/api/alerts/deliveries", () => import("../../app/api/alerts/deliveries/route")],
  ["/api/alerts/test", () => import("../../app/api/alerts/test/route")],
  ["/api/metrics", () => import("../../app/api/metrics/route")],
];

function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/");
  const s = path.split("/");
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

export async function startHarness(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
      for (const [pattern, load] of ROUTES) {
        const params = match(pattern, url.pathname);
        if (!params) continue;
        const mod = await load();
        const handler = (mod as Record<string, unknown>)[req.method ?? "GET"] as ((r: Request, c: { params: Promise<Record<string, string>> }) => Promise<Response>) | undefined;
        if (!handler) break;
        const controller = new AbortController();
        res.on("close", () => controller.abort());
        const hasBody = req.method !== "GET" && req.method !== "HEAD";
        const request = new Request(url, {
          method: req.method,
          headers: req.headers as Record<string, string>,
          body: hasBody ? (Readable.toWeb(req) as ReadableStream) : undefined,
          signal: controller.signal,
          // @ts-expect-error: Node's fetch needs duplex for streamed request bodies
          duplex: "half",
        });
        const response = await handler(request, { params: Promise.resolve(params) });
        const headers = Object.fromEntries(response.headers);
        // A refused body (413) was never read: do not reuse that connection.
        if (!req.complete) headers.connection = "close";
        res.writeHead(response.status, headers);
        if (response.body) {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
          }
        }
        res.end();
        return;
      }
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: "no route" } }));
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.end();
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
