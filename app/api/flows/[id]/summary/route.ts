import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { flowSummaryQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

/** The flow page's figures: counts, success rate, p50/p95 and the newest runs of a window (24h, 7d, 30d). */
export const GET = dashboardRead(({ engine, params, req }) => {
  const { window } = parseWith(flowSummaryQuerySchema, queryOf(req));
  return engine.flowSummary(params.id, window);
});
