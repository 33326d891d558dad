import { parseWith, workerRoute } from "@/lib/api/route";
import { pollRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, body, req }) =>
  engine.poll(clientId, parseWith(pollRequestSchema, await body()), req.signal),
);
