import { dashboardMutation, dashboardRead } from "@/lib/api/route";
import { accessOf, actorName } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

/** Every token without its secret. */
export const GET = dashboardRead(({ engine }) => accessOf(engine).listTokens(), { role: "admin" });

/** `{ name, role }` → 201 with `token` (`pft_<id>_<secret>`): shown in this answer only. */
export const POST = dashboardMutation(({ engine, body, actor }) => accessOf(engine).createToken(body, actorName(actor)), 201, { role: "admin" });
