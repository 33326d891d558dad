import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { runListQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, req }) =>
  engine.listRuns(parseWith(runListQuerySchema, queryOf(req, ["state", "tag", "trigger"]))),
);
