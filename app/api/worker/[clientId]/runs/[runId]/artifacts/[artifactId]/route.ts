import { parseWith, workerRoute } from "@/lib/api/route";
import { artifactUpdateSchema } from "@/lib/contracts/artifacts";

export const dynamic = "force-dynamic";

// New data for an artifact of the running run (Prefect's update_progress_artifact).
export const PATCH = workerRoute(async ({ engine, clientId, params, body }) =>
  engine.updateArtifact(clientId, params.runId, params.artifactId, parseWith(artifactUpdateSchema, await body())),
);
