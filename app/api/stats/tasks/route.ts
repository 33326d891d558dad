import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { statsQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, req }) => {
  const q = parseWith(statsQuerySchema, queryOf(req));
  return engine.listTaskStats(q.flow, q.flowId);
});
