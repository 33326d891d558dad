/**
 * Who may open a dashboard page, decided in the front door before Next renders it (the API
 * routes decide in their wrappers). Until the first user exists the machine itself may open
 * every page without signing in, as before; anyone else gets 401 with how to create the first
 * admin. After that a page needs a session (or a token): without one, a redirect to
 * /login?next=<the page>. /login and /setup are always served (they explain themselves).
 *
 * The dashboard's home opens to /setup on the machine itself while no user exists, until the
 * person there creates the admin or chooses "not now" (a cookie, SETUP_LATER_COOKIE); deep
 * links are served as they are.
 */
import type { DoorRequest, Refusal } from "../api/front-door";
import { SETUP_HINT, type AccessControl } from "./access";
import { SETUP_LATER_COOKIE } from "./setup-later";

const OPEN_PAGES = new Set(["/login", "/setup"]);


function hasCookie(header: string | null, name: string): boolean {
  return (header ?? "").split(";").some((part) => part.trim().startsWith(`${name}=`));
}

export async function pageAccess(access: AccessControl, r: DoorRequest): Promise<Refusal | null> {
  const q = r.url.indexOf("?");
  const path = q < 0 ? r.url : r.url.slice(0, q);
  if (OPEN_PAGES.has(path)) return null;
  const one = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h) ?? null;
  const who = await access.identify({ cookie: one(r.headers.cookie), authorization: one(r.headers.authorization), peer: r.peer });
  if (who?.kind === "local" && path === "/" && r.method === "GET" && !hasCookie(one(r.headers.cookie), SETUP_LATER_COOKIE)) {
    return { status: 302, code: "setup_required", message: "create the first admin", location: "/setup", text: "" };
  }
  if (who) return null;
  if (!(await access.setupDone())) return { status: 401, code: "unauthorized", message: SETUP_HINT, text: `Perfect: ${SETUP_HINT}\n` };
  // Only a path of this server: `next` is never an absolute URL (no open redirect).
  const next = r.url.startsWith("/") && !r.url.startsWith("//") ? r.url : "/";
  return { status: 302, code: "login_required", message: "sign in", location: `/login?next=${encodeURIComponent(next)}`, text: "" };
}
