import { parseWith, workerRoute } from "@/lib/api/route";
import { heartbeatRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, body }) =>
  engine.heartbeat(clientId, parseWith(heartbeatRequestSchema, await body())),
);
