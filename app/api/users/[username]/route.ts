import { dashboardMutation } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

/** `{ role?, password? }`: 409 when it would leave no admin; a new password ends the user's sessions. */
export const PATCH = dashboardMutation(({ engine, params, body }) => accessOf(engine).updateUser(params.username, body), 200, { role: "admin" });

/** 204; 409 for the last admin. */
export const DELETE = dashboardMutation(({ engine, params }) => accessOf(engine).deleteUser(params.username), 204, { role: "admin" });
