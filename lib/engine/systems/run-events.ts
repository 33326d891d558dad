/**
 * Run events: a worker's batch for one run applied as one unit of work — in seq order, each
 * event once, under the run's row lock, all of it or nothing — and then announced.
 */
import type { NewLog } from "../../domain/records";
import { isTerminal } from "../../domain/states";
import type { EventBatch, EventBatchResult, WorkerEvent } from "../../contracts/worker";
import { PerfectError, notFound } from "../errors";
import type { EngineContext } from "./context";
import type { PresenceSystem } from "./presence";
import type { RunPublisher } from "./publisher";
import { releaseRunSlots } from "./concurrency";
import { RunBatch } from "./run-batch";
import type { StatisticsSystem } from "./statistics";
import type { SubflowSystem } from "./subflows";

export const MAX_LOG_BYTES = 16 * 1024;

export function truncateLog(message: string): string {
  if (message.length * 3 <= MAX_LOG_BYTES) return message;
  const buf = Buffer.from(message, "utf8");
  if (buf.length <= MAX_LOG_BYTES) return message;
  // Cut on a character boundary: decode the prefix and drop a trailing partial character.
  const head = buf.subarray(0, MAX_LOG_BYTES).toString("utf8").replace(/\uFFFD$/, "");
  return `${head}… [truncated ${buf.length - Buffer.byteLength(head)} bytes]`;
}

export class RunEventsSystem {
  constructor(
    private readonly ctx: EngineContext,
    private readonly presence: PresenceSystem,
    private readonly stats: StatisticsSystem,
    private readonly publish: RunPublisher,
    private readonly subflows: SubflowSystem | null = null,
  ) {}

  async apply(clientId: string, runId: number, runIdText: string, batch: EventBatch): Promise<EventBatchResult> {
    await this.presence.requireWorker(clientId, batch.workerId);
    const receivedAt = this.ctx.clock.now();
    const skew = batch.sentAt ? this.presence.clockOffset(batch.workerId, receivedAt - Date.parse(batch.sentAt)) : 0;
    const at = (ts: string | undefined) => (ts ? Math.min(Date.parse(ts) + skew, receivedAt) : receivedAt);
    const result = await this.ctx.store.transaction(async (tx) => {
      const run = await tx.getRunForUpdate(runId);
      if (!run) throw notFound("run", runIdText);
      if (run.clientId !== clientId) throw new PerfectError("forbidden", `run ${runIdText} belongs to another client`);
      if (run.workerId !== batch.workerId) throw new PerfectError("forbidden", `run ${runIdText} is not claimed by worker ${batch.workerId}`);
      // Events apply in seq order, each once: a seq already applied (or repeated within this
      // batch) is a duplicate; a gap means an earlier batch is missing, and applying past it
      // would later discard that batch as a "duplicate", so it is refused with the seq expected.
      const bySeq = new Map<number, WorkerEvent>();
      for (const e of batch.events) if (e.seq > run.lastSeq && !bySeq.has(e.seq)) bySeq.set(e.seq, e);
      const fresh = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      const duplicates = batch.events.length - fresh.length;
      const answer = { duplicates, cancelRequested: run.cancelRequestedAt !== null };
      if (!fresh.length) return { ...answer, applied: 0, lastSeq: run.lastSeq, state: run.state };
      if (isTerminal(run.state)) {
        throw new PerfectError("run_finished", `run ${runIdText} is already ${run.state}`, { state: run.state });
      }
      for (let i = 0; i < fresh.length; i++) {
        const expected = run.lastSeq + 1 + i;
        if (fresh[i].seq !== expected) {
          throw new PerfectError("seq_gap", `events for run ${runIdText} must continue at seq ${expected}; got ${fresh[i].seq}`, { expectedSeq: expected });
        }
      }
      const hooks = await this.stats.hooksFor(tx, run);
      const work = new RunBatch(tx, run, await tx.listTaskRuns(run.id), hooks);
      const logs: NewLog[] = [];
      for (const e of fresh) {
        const ts = at(e.ts);
        if (e.type === "log") {
          const tr = e.call === null || e.call === undefined ? undefined : work.byCall.get(e.call);
          logs.push({ runId: run.id, taskRunId: tr?.id ?? null, seq: e.seq, level: e.level, message: truncateLog(e.message), ts });
          continue;
        }
        const line = await work.apply(e, ts);
        if (line) logs.push({ runId: run.id, taskRunId: line.taskRunId, seq: e.seq, level: line.level, message: line.message, ts });
      }
      await work.flush(receivedAt);
      const lastLogId = await tx.insertLogs(logs);
      const lastSeq = fresh[fresh.length - 1].seq;
      work.run.lastSeq = lastSeq;
      const { state, endedAt, error, progress } = work.run;
      await tx.updateRun(run.id, { lastSeq, state, endedAt, error, progress });
      // A subflow's progress is its parent's task call's: moved in the same unit of work.
      const parent = this.subflows ? await this.subflows.childMoved(tx, work.run, receivedAt) : null;
      // A run that ended gives back every slot it held or waited for, in this transaction.
      const slotKeys = isTerminal(state) ? await releaseRunSlots(tx, run.id, receivedAt) : [];
      // Its alerts (a run's end) join the same transaction: the outbox.
      const alerts = await this.ctx.alerts?.runChanged(tx, run, work.run, work.changedTasks(), receivedAt);
      return {
        ...answer,
        applied: fresh.length,
        lastSeq,
        state,
        changes: { run: work.run, tasks: work.changedTasks().map((t) => ({ id: t.id, state: t.state })), lastLogId, logCount: logs.length, hooks, parent, slotKeys, alerts },
      };
    });
    if ("changes" in result) {
      const { changes, ...answer } = result;
      this.publish.changes(changes.run, changes.tasks, changes.lastLogId, changes.logCount);
      await changes.hooks.settle(receivedAt);
      this.subflows?.announce(changes.parent);
      this.publish.slots(changes.slotKeys);
      this.ctx.alerts?.done(changes.alerts);
      return answer;
    }
    return result;
  }
}
