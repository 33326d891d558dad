import { pollAdmission } from "@/lib/api/poll-admission";
import { parseWith, workerRoute } from "@/lib/api/route";
import { pollRequestSchema } from "@/lib/contracts/worker";
import { PerfectError } from "@/lib/engine/errors";

export const dynamic = "force-dynamic";

export const POST = workerRoute(async ({ engine, clientId, body, req }) => {
  const poll = parseWith(pollRequestSchema, await body());
  // One worker process has no use for many polls at once; past the cap it is told to back off
  // (O(1): a counter per worker id), before the poll touches the database.
  const leave = pollAdmission().enter(`${clientId}\u0000${poll.workerId}`);
  if (!leave) throw new PerfectError("rate_limited", `too many long polls held at once by worker ${poll.workerId}`, { retryAfterSec: 1 });
  try {
    return await engine.poll(clientId, poll, req.signal);
  } finally {
    leave();
  }
});
