/** Long polls held at once per worker process (PERFECT_POLLS_PER_WORKER), shared by every bundle. */
import { limits } from "./limits";
import { InFlight } from "./rate-limit";

const KEY = Symbol.for("perfect.poll-admission");

export function pollAdmission(): InFlight {
  const g = globalThis as { [KEY]?: InFlight };
  return (g[KEY] ??= new InFlight(limits().polls.perWorker, Number.MAX_SAFE_INTEGER));
}
