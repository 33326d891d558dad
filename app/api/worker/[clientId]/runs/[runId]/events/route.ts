import { parseWith, workerRoute } from "@/lib/api/route";
import { eventBatchSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, params, body }) =>
  engine.applyEvents(clientId, params.runId, parseWith(eventBatchSchema, await body())),
);
