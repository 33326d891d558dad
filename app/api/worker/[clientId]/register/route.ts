import { parseWith, workerRoute } from "@/lib/api/route";
import { registerRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, body }) =>
  engine.register(clientId, parseWith(registerRequestSchema, await body())),
);
