import { dashboardMutation, dashboardRead } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine }) => accessOf(engine).listUsers(), { role: "admin" });

/** `{ username, password, role }` → 201 the user; 409 when the name is taken. */
export const POST = dashboardMutation(({ engine, body }) => accessOf(engine).createUser(body), 201, { role: "admin" });
