import { dashboardRead } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

/** Who the caller is: `{ username, role, via }` (`via`: session, token, or local — the machine itself before setup). */
export const GET = dashboardRead(async ({ engine, actor }) => ({
  username: actor?.name ?? null,
  role: actor?.role ?? null,
  via: actor?.kind === "user" ? "session" : (actor?.kind ?? null),
  setupRequired: !(await accessOf(engine).setupDone()),
}));
