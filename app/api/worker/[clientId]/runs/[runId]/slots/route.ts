import { parseWith, workerRoute } from "@/lib/api/route";
import { slotRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

/** A task call's slot of a concurrency key: HELD, or WAITING after a long poll (docs/API.md). */
export const POST = workerRoute(async ({ engine, clientId, params, body, req }) =>
  engine.acquireSlot(clientId, params.runId, parseWith(slotRequestSchema, await body()), req.signal),
);
