import { dashboardMutation, parseWith } from "@/lib/api/route";
import { backfillSchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

/** Runs for every fire time of a schedule in a range: 201 with the runs, or 200 with the count when `dryRun`. */
export const POST = dashboardMutation(
  ({ engine, params, body }) => engine.backfill(params.id, parseWith(backfillSchema, body)),
  (result) => (typeof result === "object" && result !== null && "runs" in result ? 201 : 200),
  { role: "operator" },
);
