import { actorName } from "@/lib/auth/access";
import { dashboardMutation, parseWith } from "@/lib/api/route";
import { triggerRunSchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

/** Triggers a run: `trigger` is "ui" when the dashboard sent it (x-perfect-ui header), else "api". */
export const POST = dashboardMutation(({ engine, params, req, body, actor }) => {
  const { parameters } = parseWith(triggerRunSchema, body);
  return engine.triggerRun(params.id, parameters, req.headers.get("x-perfect-ui") === "1" ? "ui" : "api", actorName(actor));
}, 201, { role: "operator" });
