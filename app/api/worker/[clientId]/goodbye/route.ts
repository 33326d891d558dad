import { workerRoute } from "@/lib/api/route";
import { WORKER_PROTOCOL } from "@/lib/api/worker-protocol";

export const dynamic = "force-dynamic";

// The handler and its schema: lib/api/worker-protocol.ts (served without Next by the front door's worker lane).
export const POST = workerRoute(WORKER_PROTOCOL.goodbye);
