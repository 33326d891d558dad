import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { flowListQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

/** `{ flows, nextCursor }`: `limit` (1..200, default 50), `cursor`, `name` (substring). */
export const GET = dashboardRead(({ engine, req }) => engine.listFlows(parseWith(flowListQuerySchema, queryOf(req))));
