import { dashboardMutation, dashboardRead, parseWith } from "@/lib/api/route";
import { concurrencyLimitBodySchema } from "@/lib/contracts/concurrency";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params }) => engine.getConcurrencyLimit(params.key));

export const PUT = dashboardMutation(({ engine, params, body }) => engine.setConcurrencyLimit(params.key, parseWith(concurrencyLimitBodySchema, body).limit), 200, { role: "admin" });

export const DELETE = dashboardMutation(({ engine, params }) => engine.deleteConcurrencyLimit(params.key), 204, { role: "admin" });
