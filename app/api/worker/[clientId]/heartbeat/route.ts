import { heartbeatThrottle } from "@/lib/api/heartbeat-throttle";
import { parseWith, workerRoute } from "@/lib/api/route";
import { heartbeatRequestSchema } from "@/lib/contracts/worker";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, body }) => {
  const answer = engine.heartbeat(clientId, parseWith(heartbeatRequestSchema, await body()));
  const delay = heartbeatThrottle().delayFor(clientId);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  return answer;
});
