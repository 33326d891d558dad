/**
 * The wire form of a change (lib/domain/changes.ts): what an SSE `change` event's data holds
 * and what one server instance NOTIFYs the others. Checked on receipt from another instance,
 * so a malformed payload is dropped instead of reaching every dashboard.
 */
import { z } from "zod";
import type { Change } from "../domain/changes";

const id = z.string().max(40);

export const changeSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("run"), runId: id, flowId: id, state: z.string().max(20), progress: z.number() }),
  z.object({ kind: z.literal("taskRun"), runId: id, taskRunId: id, state: z.string().max(20) }),
  z.object({ kind: z.literal("log"), runId: id, lastLogId: id, count: z.number().int().nonnegative() }),
  z.object({ kind: z.literal("client"), clientId: z.string().max(200), online: z.boolean() }),
  z.object({ kind: z.literal("flow"), flowId: id, clientId: z.string().max(200) }),
  z.object({ kind: z.literal("stats"), flowId: id, taskName: z.string().max(1000) }),
  z.object({ kind: z.literal("schedule"), scheduleId: id, flowId: id }),
  z.object({ kind: z.literal("concurrency"), key: z.string().max(200) }),
  z.object({ kind: z.literal("alert"), deliveryId: id, destinationId: z.string().max(100), state: z.string().max(20) }),
]);

// The domain type and the contract describe the same thing: a drift fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<z.infer<typeof changeSchema>, Change> = true;
void sameShape;

export function parseChange(payload: string): Change | null {
  try {
    const r = changeSchema.safeParse(JSON.parse(payload));
    return r.success ? (r.data as Change) : null;
  } catch {
    return null;
  }
}
