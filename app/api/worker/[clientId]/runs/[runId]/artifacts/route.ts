import { parseWith, workerRoute } from "@/lib/api/route";
import { artifactCreateSchema } from "@/lib/contracts/artifacts";

export const dynamic = "force-dynamic";

// An artifact of the running run `runId` (a keyed progress artifact is updated in place): 201.
export const POST = workerRoute(
  async ({ engine, clientId, params, body }) => engine.createArtifact(clientId, params.runId, parseWith(artifactCreateSchema, await body())),
  201,
);
