import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { logQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params, req }) =>
  engine.listLogs(params.id, parseWith(logQuerySchema, queryOf(req, ["level"]))),
);
