/**
 * Thin route wrappers (the dub pattern): auth, origin and body checks, zod parsing, then one
 * engine call; every error goes through handleApiError.
 */
import { accessOf, type Principal } from "../auth/access";
import type { UserRole } from "../domain/states";
import { getEngine } from "../server";
import type { Engine } from "../engine/engine";
import { PerfectError } from "../engine/errors";
import { handleApiError } from "./errors";
import { parseWith } from "./parse";
import type { WorkerRouteSpec } from "./worker-protocol";
import { PEER_HEADER } from "./front-door";
import { limits } from "./limits";
import { discard, readBytes, readJson } from "./request-body";

type Params = Record<string, string>;
type Ctx = { params: Promise<Params> };

export { parseWith };

/** Query string → object, repeated keys as arrays for the keys listed in `repeatable`. */
export function queryOf(req: Request, repeatable: string[] = []): Record<string, string | string[]> {
  const url = new URL(req.url);
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key).filter((v) => v !== "");
    if (repeatable.includes(key)) out[key] = all.flatMap((v) => (key === "state" || key === "trigger" ? v.split(",") : [v]));
    else if (all.length) out[key] = all[all.length - 1];
  }
  return out;
}

/** The caller's address as the front door saw it on the socket ("unknown" without the door). */
export function peerAddress(req: Request): string {
  return req.headers.get(PEER_HEADER) ?? "unknown";
}

/**
 * Who may call a dashboard route: a least role (viewer < operator < admin), or `public` (no
 * credential needed: health, login, setup). Every dashboard route states one through its
 * wrapper; reads default to viewer, mutations to admin (the safe side), so a route added without
 * a thought is closed rather than open. lib/__tests__/route-access.test.ts checks every route.
 */
export type RouteAccess = UserRole | "public";
export interface RouteRule {
  role?: RouteAccess;
}

/** The caller of a dashboard route, who must hold `role` (401 / 403 otherwise); null for a public route without credentials. */
export async function authorize(req: Request, role: RouteAccess): Promise<Principal | null> {
  const access = accessOf(getEngine());
  const c = { cookie: req.headers.get("cookie"), authorization: req.headers.get("authorization"), peer: req.headers.get(PEER_HEADER) };
  if (role === "public") return access.identify(c);
  return access.require(c, role);
}

/** A route outside the two wrappers (streams, files): the rule checked first, then the handler's own Response. */
export function guardedRoute<C extends { params: Promise<any> }>(rule: Required<RouteRule>, handler: (req: Request, ctx: C, actor: Principal | null) => Promise<Response> | Response) {
  return async (req: Request, ctx: C): Promise<Response> => {
    try {
      const actor = await authorize(req, rule.role);
      return await handler(req, ctx, actor);
    } catch (e) {
      return handleApiError(e);
    }
  };
}

function bearer(req: Request): string | null {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m ? m[1] : null;
}

/**
 * A worker route of lib/api/worker-protocol.ts served by Next (the front door's worker lane
 * serves the same spec without Next): the bearer token is checked before the body is read.
 */
export function workerRoute(spec: WorkerRouteSpec) {
  const { handle, status } = spec;
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      const params = await ctx.params;
      const engine = getEngine();
      engine.authenticate(params.clientId, bearer(req));
      const result = await handle({ engine, clientId: params.clientId, params, body: () => readJson(req), signal: req.signal });
      return status === 204 ? new Response(null, { status: 204 }) : Response.json(result, { status });
    } catch (e) {
      return handleApiError(e);
    }
  };
}

/**
 * Mutating dashboard routes: JSON only and same-origin only, so a form or script on another
 * site cannot trigger or cancel runs (a cross-site form cannot send application/json without
 * a CORS preflight, which this server never approves).
 */
export function dashboardMutation(
  handler: (args: { engine: Engine; params: Params; req: Request; body: unknown; actor: Principal | null }) => Promise<unknown> | unknown,
  status: number | ((result: unknown) => number) = 200,
  rule: RouteRule = {},
) {
  const role = rule.role ?? "admin";
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      checkOrigin(req);
      const type = req.headers.get("content-type");
      const declared = Number(req.headers.get("content-length") ?? "0");
      if ((type === null && declared > 0) || (type !== null && !/^application\/json\b/i.test(type))) {
        await discard(req);
        throw new PerfectError("unsupported_media_type", "send the body as application/json", { field: "content-type" });
      }
      // Before a byte of the body is read: a refused caller costs nothing and changes nothing.
      const actor = await authorize(req, role);
      let body: unknown = {};
      if (type === null) {
        // No content type is only acceptable with no body at all (a bare scripted POST): a
        // declared length was refused above, a chunked one is read only up to the size cap.
        const bytes = await readBytes(req);
        if (bytes.toString("utf8").trim()) throw new PerfectError("unsupported_media_type", "send the body as application/json", { field: "content-type" });
      } else {
        body = await readJson(req);
      }
      const params = await ctx.params;
      const result = await handler({ engine: getEngine(), params, req, body, actor });
      if (result instanceof Response) return result;
      const code = typeof status === "function" ? status(result) : status;
      return code === 204 ? new Response(null, { status: 204 }) : Response.json(result, { status: code });
    } catch (e) {
      return handleApiError(e);
    }
  };
}

export function dashboardRead(
  handler: (args: { engine: Engine; params: Params; req: Request; actor: Principal | null }) => Promise<unknown> | unknown,
  rule: RouteRule = {},
) {
  const role = rule.role ?? "viewer";
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      const actor = await authorize(req, role);
      const params = await ctx.params;
      const result = await handler({ engine: getEngine(), params, req, actor });
      return result instanceof Response ? result : Response.json(result);
    } catch (e) {
      return handleApiError(e);
    }
  };
}

function checkOrigin(req: Request): void {
  const origin = req.headers.get("origin");
  const site = req.headers.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") {
    throw new PerfectError("forbidden", "cross-site request refused");
  }
  if (!origin) return; // scripts (curl, the SDK) send no Origin; browsers always do on POST
  // X-Forwarded-Host is the caller's own claim unless a trusted proxy in front set it.
  const host = (limits().trustProxy ? req.headers.get("x-forwarded-host") : null) ?? req.headers.get("host");
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new PerfectError("forbidden", "cross-site request refused");
  }
  if (!host || originHost !== host) throw new PerfectError("forbidden", "cross-site request refused");
}
