import { dashboardMutation } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

/** Revokes the token at once on every instance (each use re-reads revoked_at); 404 for an unknown id. */
export const DELETE = dashboardMutation(({ engine, params }) => accessOf(engine).revokeToken(params.id), 204, { role: "admin" });
