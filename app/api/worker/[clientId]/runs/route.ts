import { parseWith, workerRoute } from "@/lib/api/route";
import { localRunRequestSchema } from "@/lib/contracts/artifacts";

export const dynamic = "force-dynamic";

// A flow called directly (`python etl.py` with PERFECT_URL set) by a worker that registered it:
// 201 with the run, RUNNING for that worker, trigger "local".
export const POST = workerRoute(
  async ({ engine, clientId, body }) => engine.startLocalRun(clientId, parseWith(localRunRequestSchema, await body())),
  201,
);
