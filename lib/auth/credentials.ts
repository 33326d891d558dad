/**
 * The shapes of credentials on the wire: API tokens `pft_<id>_<secret>` (the id is public and
 * finds the row; only the secret's scrypt hash is stored) and the session cookie.
 */
import { randomToken } from "./secrets";

export const TOKEN_PREFIX = "pft_";
const TOKEN_RE = /^pft_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewToken {
  id: string;
  secret: string;
  /** What the caller is shown once: `pft_<id>_<secret>`. */
  token: string;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function newApiToken(): NewToken {
  // The id: 12 characters from the alphabet (rejection sampling keeps it uniform).
  let id = "";
  while (id.length < 12) {
    for (const b of Buffer.from(randomToken(24), "base64url")) {
      if (b < 248 && id.length < 12) id += ALNUM[b % 62];
    }
  }
  const secret = randomToken(32);
  return { id, secret, token: `${TOKEN_PREFIX}${id}_${secret}` };
}

export function parseApiToken(text: string): { id: string; secret: string } | null {
  const m = TOKEN_RE.exec(text);
  return m ? { id: m[1], secret: m[2] } : null;
}

export const SESSION_COOKIE = "perfect_session";

/** The value of one cookie from a Cookie header (first occurrence), or null. */
export function cookieValue(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** Set-Cookie for a session: httpOnly, SameSite=Lax, Path=/, Secure over HTTPS, Max-Age = its lifetime. */
export function sessionCookie(id: string, maxAgeSec: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${id}`, "Path=/", "HttpOnly", "SameSite=Lax", `Max-Age=${maxAgeSec}`, ...(secure ? ["Secure"] : [])].join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie("", 0, secure);
}

/** The bearer token of an Authorization header, or null. */
export function bearerOf(header: string | null | undefined): string | null {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header.trim()) : null;
  return m ? m[1] : null;
}
