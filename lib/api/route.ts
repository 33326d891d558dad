/**
 * Thin route wrappers (the dub pattern): auth, origin and body checks, zod parsing, then one
 * engine call; every error goes through handleApiError.
 */
import type { z } from "zod";
import { getEngine } from "../server";
import type { Engine } from "../engine/engine";
import { PerfectError } from "../engine/errors";
import { handleApiError, zodToPerfect } from "./errors";
import { PEER_HEADER } from "./front-door";
import { limits } from "./limits";
import { discard, readBytes, readJson } from "./request-body";

type Params = Record<string, string>;
type Ctx = { params: Promise<Params> };

export function parseWith<S extends z.ZodType>(schema: S, data: unknown, prefix = ""): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw zodToPerfect(r.error, prefix);
  return r.data;
}

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

function bearer(req: Request): string | null {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m ? m[1] : null;
}

/** Worker routes: the bearer token is checked before the body is read. */
export function workerRoute(
  handler: (args: { engine: Engine; clientId: string; params: Params; req: Request; body: () => Promise<unknown> }) => Promise<unknown> | unknown,
  status = 200,
) {
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      const params = await ctx.params;
      const engine = getEngine();
      engine.authenticate(params.clientId, bearer(req));
      const result = await handler({ engine, clientId: params.clientId, params, req, body: () => readJson(req) });
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
  handler: (args: { engine: Engine; params: Params; req: Request; body: unknown }) => Promise<unknown> | unknown,
  status: number | ((result: unknown) => number) = 200,
) {
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      checkOrigin(req);
      const type = req.headers.get("content-type");
      let body: unknown = {};
      if (type === null) {
        // No content type is only acceptable with no body at all (a bare scripted POST): a
        // declared length refuses at once, a chunked one is read only up to the size cap.
        const declared = Number(req.headers.get("content-length") ?? "0");
        if (declared > 0) {
          await discard(req);
          throw new PerfectError("unsupported_media_type", "send the body as application/json", { field: "content-type" });
        }
        const bytes = await readBytes(req);
        if (bytes.toString("utf8").trim()) throw new PerfectError("unsupported_media_type", "send the body as application/json", { field: "content-type" });
      } else if (!/^application\/json\b/i.test(type)) {
        await discard(req);
        throw new PerfectError("unsupported_media_type", "send the body as application/json", { field: "content-type" });
      } else {
        body = await readJson(req);
      }
      const params = await ctx.params;
      const result = await handler({ engine: getEngine(), params, req, body });
      const code = typeof status === "function" ? status(result) : status;
      return code === 204 ? new Response(null, { status: 204 }) : Response.json(result, { status: code });
    } catch (e) {
      return handleApiError(e);
    }
  };
}

export function dashboardRead(handler: (args: { engine: Engine; params: Params; req: Request }) => Promise<unknown> | unknown) {
  return async (req: Request, ctx: Ctx): Promise<Response> => {
    try {
      const params = await ctx.params;
      return Response.json(await handler({ engine: getEngine(), params, req }));
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
