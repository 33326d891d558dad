/** What the auth routes add to HTTP: the session cookie's Secure flag and its Set-Cookie answers. */
import { limits } from "../api/limits";
import { clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie } from "./credentials";

/**
 * Served over HTTPS: the request's own URL, or X-Forwarded-Proto — which the front door keeps only
 * with PERFECT_TRUST_PROXY=1 (otherwise it is dropped before Next fills it from the socket).
 */
export function isHttps(req: Request): boolean {
  if (new URL(req.url).protocol === "https:") return true;
  return limits().trustProxy && (req.headers.get("x-forwarded-proto") ?? "").split(",")[0].trim().toLowerCase() === "https";
}

export function sessionIdOf(req: Request): string | null {
  return cookieValue(req.headers.get("cookie"), SESSION_COOKIE);
}

export function withSession(body: unknown, status: number, req: Request, s: { sessionId: string; maxAgeSec: number }): Response {
  return Response.json(body, { status, headers: { "set-cookie": sessionCookie(s.sessionId, s.maxAgeSec, isHttps(req)), "cache-control": "no-store" } });
}

export function withoutSession(req: Request): Response {
  return new Response(null, { status: 204, headers: { "set-cookie": clearedSessionCookie(isHttps(req)), "cache-control": "no-store" } });
}
