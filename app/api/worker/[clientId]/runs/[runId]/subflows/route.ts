import { parseWith, workerRoute } from "@/lib/api/route";
import { subflowRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

// A flow called inside the running run `runId`: 201 with the child run (the same one again
// for a re-sent request with the same call).
export const POST = workerRoute(
  async ({ engine, clientId, params, body }) => engine.startSubflow(clientId, params.runId, parseWith(subflowRequestSchema, await body())),
  201,
);
