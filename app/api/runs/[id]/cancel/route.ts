import { dashboardMutation } from "@/lib/api/route";
import { actorName } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

export const POST = dashboardMutation(({ engine, params, actor }) => engine.cancelRun(params.id, actorName(actor)), 200, { role: "operator" });
