import { dashboardMutation } from "@/lib/api/route";
import { actorName } from "@/lib/auth/access";

export const dynamic = "force-dynamic";

/** A new run of the same flow and parameters, `retryOf` this one: 201; 409 while it is still PENDING or RUNNING. */
export const POST = dashboardMutation(
  ({ engine, params, req, actor }) => engine.retryRun(params.id, req.headers.get("x-perfect-ui") === "1" ? "ui" : "api", actorName(actor)),
  201,
  { role: "operator" },
);
