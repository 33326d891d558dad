/**
 * The dashboard's only way to talk to the JSON API: typed GET/POST with the server's error
 * shape ({ error: { code, message, details } }) turned into an ApiRequestError.
 */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiRequestError";
  }

  /** No answer at all, or the server failed: worth the "server unreachable" banner. */
  get unreachable(): boolean {
    return this.status === 0 || this.status >= 500;
  }

  /** The field a validation error names, e.g. "parameters.limit". */
  get field(): string | undefined {
    const f = this.details?.field;
    return typeof f === "string" ? f : undefined;
  }
}

async function answer<T>(res: Response): Promise<T> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
    throw new ApiRequestError(res.status, err?.code ?? "http_error", err?.message ?? `HTTP ${res.status}`, err?.details);
  }
  return body as T;
}

async function send(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new ApiRequestError(0, "unreachable", `server unreachable (${(e as Error).message})`);
  }
}

/** Set once the page is leaving (logout, or a first 401): later answers do not navigate again. */
let leaving = false;

/**
 * Leaves the page for `url` with a full load (the front door checks the next page, and no cached
 * answer of the previous identity survives). Called before a logout is even sent, so a read that
 * fails with 401 meanwhile does not race it to another address.
 */
export function leaveFor(url: string): void {
  leaving = true;
  window.location.assign(url);
}

/** From now on a 401 does not send the page to the login (the caller navigates itself). */
export function holdNavigation(): void {
  leaving = true;
}

/**
 * A read answered 401 once users exist: the session is gone (expired, logged out elsewhere).
 * The page goes to the login, and comes back here after it.
 */
function toLogin(res: Response): void {
  if (res.status !== 401 || typeof window === "undefined" || leaving) return;
  const here = window.location.pathname;
  if (here === "/login" || here === "/setup") return;
  leaveFor(`/login?next=${encodeURIComponent(here + window.location.search)}`);
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await send(url, { headers: { accept: "application/json" }, cache: "no-store" });
  toLogin(res);
  return answer<T>(res);
}

/** Mutations: JSON body and the x-perfect-ui header (the run's trigger is recorded as "ui"). */
export async function postJson<T>(url: string, body: unknown = {}): Promise<T> {
  return mutateJson<T>("POST", url, body);
}

export async function patchJson<T>(url: string, body: unknown): Promise<T> {
  return mutateJson<T>("PATCH", url, body);
}

export async function putJson<T>(url: string, body: unknown): Promise<T> {
  return mutateJson<T>("PUT", url, body);
}

/** DELETE without a body (so without a content type); a 204 resolves to null. */
export async function deleteJson(url: string): Promise<null> {
  return answer<null>(await send(url, { method: "DELETE", headers: { accept: "application/json", "x-perfect-ui": "1" } }));
}

async function mutateJson<T>(method: "POST" | "PATCH" | "PUT", url: string, body: unknown): Promise<T> {
  return answer<T>(
    await send(url, {
      method,
      headers: { "content-type": "application/json", accept: "application/json", "x-perfect-ui": "1" },
      body: JSON.stringify(body),
    }),
  );
}
