import { dashboardMutation, dashboardRead, parseWith } from "@/lib/api/route";
import { schedulePatchSchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params }) => engine.getSchedule(params.id));

export const PATCH = dashboardMutation(({ engine, params, body }) => engine.updateSchedule(params.id, parseWith(schedulePatchSchema, body)), 200, { role: "operator" });

export const DELETE = dashboardMutation(({ engine, params }) => engine.deleteSchedule(params.id), 204, { role: "operator" });
