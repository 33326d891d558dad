import { dashboardMutation, peerAddress } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";
import { sessionIdOf, withSession } from "@/lib/auth/http";

export const dynamic = "force-dynamic";

/** `{ username, password }` → a new session cookie (the old one, if any, is deleted): 401 for any wrong pair, 429 past the failure limit. */
export const POST = dashboardMutation(
  async ({ engine, req, body }) => {
    const done = await accessOf(engine).login(peerAddress(req), body, sessionIdOf(req));
    return withSession({ user: done.user }, 200, req, done);
  },
  200,
  { role: "public" },
);
