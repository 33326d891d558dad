import { workerRoute } from "@/lib/api/route";

export const dynamic = "force-dynamic";

/** Gives the slot back; 204 whether or not it still existed. */
export const DELETE = workerRoute(({ engine, clientId, params }) => engine.releaseSlot(clientId, params.runId, params.slotId), 204);
