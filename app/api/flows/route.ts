import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { flowListQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, req }) => engine.listFlows(parseWith(flowListQuerySchema, queryOf(req)).name));
