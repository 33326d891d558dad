/**
 * Serves the real route handlers over real HTTP (node:http on a free loopback port) without
 * Next, so protocol tests exercise status codes, headers and bodies as a worker sees them.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

type Handler = (req: Request, ctx: { params: Promise<any> }) => Promise<Response> | Response;
type RouteModule = Partial<Record<"GET" | "POST" | "PUT" | "PATCH" | "DELETE", Handler>>;

/**
 * Every route file under app/api, as Next sees them: `[param]` folders become `:param`, and
 * static segments are matched before dynamic ones (as Next does). Found on disk, so a new route
 * is served (and checked by the route-access table) without being listed here.
 */
const APP_API = path.resolve(__dirname, "../../app/api");
function routeFiles(dir: string, prefix: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...routeFiles(path.join(dir, e.name), `${prefix}/${e.name}`));
    else if (e.name === "route.ts") out.push(prefix);
  }
  return out;
}
/** `/api/...` patterns of every route file, with the file's path. */
export function apiRoutes(): { pattern: string; file: string }[] {
  return routeFiles(APP_API, "")
    .map((rel) => ({ pattern: "/api" + rel.replace(/\[([^\]]+)\]/g, ":$1"), file: path.join(APP_API, rel, "route.ts") }))
    .sort((a, b) => {
      const x = a.pattern.split("/");
      const y = b.pattern.split("/");
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const dx = x[i].startsWith(":");
        const dy = y[i].startsWith(":");
        if (dx !== dy) return dx ? 1 : -1;
        if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
      }
      return x.length - y.length;
    });
}
const ROUTES: [string, () => Promise<RouteModule>][] = apiRoutes().map((r) => [r.pattern, () => import(r.file)]);

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
        // As the front door does: the socket's address, never a caller's own header.
        req.headers["x-perfect-peer"] = req.socket.remoteAddress ?? "unknown";
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
