import { parseWith, workerRoute } from "@/lib/api/route";
import { heartbeatRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

// Heartbeat floods are refused by the front door (a rate per client and address, 429), before
// the body is read: nothing to pace here.
export const POST = workerRoute(async ({ engine, clientId, body }) => engine.heartbeat(clientId, parseWith(heartbeatRequestSchema, await body())));
