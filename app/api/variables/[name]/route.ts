import { dashboardMutation, dashboardRead, parseWith } from "@/lib/api/route";
import { variableBodySchema } from "@/lib/contracts/artifacts";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params }) => engine.getVariable(params.name));

// Variables are run configuration, like schedules: operators may change them.
export const PUT = dashboardMutation(({ engine, params, body }) => engine.setVariable(params.name, parseWith(variableBodySchema, body).value), 200, { role: "operator" });

export const DELETE = dashboardMutation(({ engine, params }) => engine.deleteVariable(params.name), 204, { role: "operator" });
