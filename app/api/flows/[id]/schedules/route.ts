import { dashboardMutation, dashboardRead, parseWith } from "@/lib/api/route";
import { scheduleCreateSchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params }) => engine.listSchedules(params.id));

export const POST = dashboardMutation(({ engine, params, body }) => engine.createSchedule(params.id, parseWith(scheduleCreateSchema, body)), 201, { role: "operator" });
