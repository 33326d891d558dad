import { dashboardMutation, peerAddress } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";
import { withSession } from "@/lib/auth/http";

export const dynamic = "force-dynamic";

/** The first admin `{ username, password }`: from loopback only (403), while no user exists (409); signed in at once. */
export const POST = dashboardMutation(
  async ({ engine, req, body }) => {
    const done = await accessOf(engine).setup(peerAddress(req) === "unknown" ? null : peerAddress(req), body);
    return withSession({ user: done.user }, 201, req, done);
  },
  201,
  { role: "public" },
);
