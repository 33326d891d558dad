import { dashboardMutation } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";
import { sessionIdOf, withoutSession } from "@/lib/auth/http";

export const dynamic = "force-dynamic";

/** Deletes the session (server side) and clears the cookie; 204 also without one. */
export const POST = dashboardMutation(
  async ({ engine, req }) => {
    await accessOf(engine).logout(sessionIdOf(req));
    return withoutSession(req);
  },
  204,
  { role: "public" },
);
