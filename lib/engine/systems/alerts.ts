/**
 * Alerts: the engine's detections reaching people. Raising is pure matching over the rules in
 * memory (no rule listening, no query) and, when something matches, one outbox row per
 * destination written by queueAlertDeliveries inside the transaction of the change that raised
 * it (a run's end, a task's warning), so a crash between the change and the send loses nothing.
 * The delivery loop runs in every instance: it leases due rows (one sender each), POSTs them
 * with a timeout, records every attempt and retries with exponential backoff under the same
 * webhook-id for a day, then gives up (DEAD). The instance that queued a row wakes its own
 * loop at once; the others look again at least once a second.
 *
 * Events with no change of their own to ride on — worker.lost (a verdict of the monitor) and
 * run.late (time passing) — are queued by the monitor with a dedupe key naming the occurrence
 * (the worker's last stored sign of life, the run id): every monitor pass, on every instance
 * and after any restart, reaches the same verdict again, and the key makes it one delivery.
 */
import type { AlertSubject } from "../../alerts/matching";
import { matchTargets, throttleKey } from "../../alerts/matching";
import type { AlertRegistry } from "../../alerts/alerts-file";
import { EngineMetrics } from "../../alerts/metrics";
import { newWebhookId, webhookHeaders } from "../../alerts/signature";
import { slackMessage, type Envelope } from "../../alerts/slack";
import type { AlertsOverview, DeliveryListQuery, DeliveryPage, DeliveryView } from "../../contracts/alerts";
import type { AlertDeliveryRecord, DeliveryOutcome, NewAlertDelivery, RunRecord, TaskRunRecord, TaskStatRecord, WorkerRecord } from "../../domain/records";
import { isTerminal, type AlertDeliveryEvent, type Warning } from "../../domain/states";
import type { StoreOps } from "../../store/store";
import { notFound } from "../errors";
import { iso } from "../views";
import type { EngineContext } from "./context";

export interface AlertsOptions {
  /** Absolute base of the links in alerts (PERFECT_PUBLIC_URL, else http://localhost:PORT). */
  publicUrl: string;
  /** One send's budget. */
  timeoutMs: number;
  /** The first retry's delay; each next one doubles, up to backoffCapMs. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** A delivery still failing this long after it was raised is given up (DEAD). */
  giveUpAfterMs: number;
  /** How often the loop looks for due rows when nothing woke it. */
  pollMs: number;
}

export const DEFAULT_ALERTS_OPTIONS: AlertsOptions = {
  publicUrl: "http://localhost:3000",
  timeoutMs: 10_000,
  backoffBaseMs: 1000,
  backoffCapMs: 60 * 60 * 1000,
  giveUpAfterMs: 24 * 60 * 60 * 1000,
  pollMs: 1000,
};

/** Deliveries a unit of work queued and what to do once it committed (metrics, wake-ups). */
export interface AlertWork {
  queued: AlertDeliveryRecord[];
  after: (() => void)[];
}

/** A worker the monitor judges gone. */
export interface LostWorker {
  worker: WorkerRecord;
  silentForMs: number;
  failedRunIds: number[];
}

const CLAIM_BATCH = 25;
const RUN_HISTORY = 20;

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function describeError(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  const cause = err?.cause?.code ?? err?.cause?.message;
  return (cause ? `${err?.message ?? "fetch failed"}: ${cause}` : (err?.message ?? String(e))).slice(0, 500);
}

export class AlertsSystem {
  readonly metrics = new EngineMetrics();
  readonly options: AlertsOptions;
  private running = false;
  private wakeup: (() => void) | null = null;
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  /** Runs already reported late (this instance), pruned to those still PENDING. */
  private readonly lateRaised = new Set<number>();
  /** The occurrence key last reported per lost worker (this instance). */
  private readonly lostRaised = new Map<string, string>();

  constructor(
    private readonly ctx: EngineContext,
    readonly registry: AlertRegistry,
    options: Partial<AlertsOptions> = {},
  ) {
    this.options = { ...DEFAULT_ALERTS_OPTIONS, ...options };
  }

  // ------------------------------------------------------------ raising (inside a transaction)

  private link(path: string): string {
    return `${this.options.publicUrl.replace(/\/+$/, "")}${path}`;
  }

  /** Rows for every destination the event reaches (none: nothing is written). */
  private async queue(
    tx: StoreOps,
    type: AlertDeliveryEvent,
    subject: AlertSubject,
    occurrence: string | null,
    runId: number | null,
    now: number,
    data: () => Promise<Record<string, unknown>> | Record<string, unknown>,
  ): Promise<AlertDeliveryRecord[]> {
    const targets = type === "alert.test" ? [] : matchTargets(this.registry.rulesFor(type), subject);
    if (!targets.length) return [];
    const body = await data();
    const rows: NewAlertDelivery[] = targets.map((t) => {
      const webhookId = newWebhookId();
      const envelope: Envelope = { type, id: webhookId, timestamp: iso(now)!, data: body };
      return {
        webhookId,
        destinationId: t.destinationId,
        eventType: type,
        dedupeKey: occurrence,
        throttleKey: throttleKey(t, subject),
        throttleWindowMs: t.rule.throttleSeconds * 1000,
        runId,
        flowName: subject.flow,
        payload: JSON.stringify(envelope),
        createdAt: now,
      };
    });
    return tx.queueAlertDeliveries(rows);
  }

  private runData(run: RunRecord, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      runId: String(run.id),
      flow: run.flowName,
      flowId: String(run.flowId),
      client: run.clientId,
      state: run.state,
      error: run.error,
      trigger: run.trigger,
      tags: run.tags,
      createdAt: iso(run.createdAt),
      startedAt: iso(run.startedAt),
      endedAt: iso(run.endedAt),
      durationMs: run.startedAt !== null && run.endedAt !== null ? run.endedAt - run.startedAt : null,
      link: this.link(`/runs/${run.id}`),
      ...extra,
    };
  }

  /**
   * A unit of work moved a run (`before` → `after`) and these task runs: the run's end raises
   * run.failed / run.completed / run.recovered; the metrics learn the end and the durations
   * once it commits. Called inside the transaction that made the change.
   */
  async runChanged(tx: StoreOps, before: RunRecord, after: RunRecord, tasks: TaskRunRecord[], now: number): Promise<AlertWork> {
    const work: AlertWork = { queued: [], after: [] };
    const completed = tasks.filter((t) => t.state === "COMPLETED" && t.durationMs !== null);
    if (completed.length) work.after.push(() => completed.forEach((t) => this.metrics.taskCompleted(after.flowName, t.name, t.durationMs!)));
    if (isTerminal(before.state) || !isTerminal(after.state)) return work;
    work.after.push(() => this.metrics.runFinished(after.flowName, after.state));
    const subject: AlertSubject = { flow: after.flowName, tags: after.tags, clientId: after.clientId };
    let usual: number | null | undefined;
    const data = async () => {
      if (usual === undefined) usual = median(await tx.recentRunDurations(after.flowId, after.id, RUN_HISTORY));
      return this.runData(after, { usualDurationMs: usual });
    };
    if (after.state === "FAILED") {
      work.queued.push(...(await this.queue(tx, "run.failed", subject, `run.failed:${after.id}`, after.id, now, data)));
    } else if (after.state === "COMPLETED") {
      work.queued.push(...(await this.queue(tx, "run.completed", subject, `run.completed:${after.id}`, after.id, now, data)));
      if (this.registry.listens("run.recovered") && matchTargets(this.registry.rulesFor("run.recovered"), subject).length) {
        if ((await tx.previousFinishedRunState(after.flowId, after.id)) === "FAILED") {
          work.queued.push(...(await this.queue(tx, "run.recovered", subject, `run.recovered:${after.id}`, after.id, now, data)));
        }
      }
    }
    return work;
  }

  /** The monitor raised a running task's warning (SLOW, or CRITICAL): once per attempt and level. */
  async taskWarned(tx: StoreOps, t: TaskRunRecord, warning: Warning, ev: { zScore: number; threshold: number }, baseline: TaskStatRecord | undefined, now: number): Promise<AlertWork | null> {
    const type = warning === "CRITICAL" ? "task.critical" : "task.slow";
    if (!this.registry.listens(type)) return null;
    const run = await tx.getRun(t.runId);
    if (!run) return null;
    const subject: AlertSubject = { flow: run.flowName, tags: run.tags, clientId: run.clientId };
    const attemptStart = t.attemptStartedAt ?? t.startedAt ?? now;
    const queued = await this.queue(tx, type, subject, `${type}:${t.id}:${t.attempt}`, run.id, now, () =>
      this.runData(run, {
        state: run.state,
        task: t.name,
        taskRunId: String(t.id),
        attempt: t.attempt,
        warning,
        zScore: Math.round(ev.zScore * 100) / 100,
        threshold: ev.threshold,
        elapsedMs: now - attemptStart,
        usualDurationMs: baseline ? Math.round(baseline.mean) : null,
        durationMs: null,
        endedAt: null,
        link: this.link(`/runs/${run.id}`),
      }),
    );
    return { queued, after: [] };
  }

  /** Workers the monitor judges gone (silent past the heartbeat timeout): once per loss. */
  async workersLost(lost: LostWorker[], now: number): Promise<void> {
    if (!this.registry.listens("worker.lost")) {
      this.lostRaised.clear();
      return;
    }
    const goneIds = new Set(lost.map((l) => l.worker.id));
    for (const id of [...this.lostRaised.keys()]) if (!goneIds.has(id)) this.lostRaised.delete(id);
    for (const { worker: w, silentForMs, failedRunIds } of lost) {
      const occurrence = `worker.lost:${w.id}:${w.lastSeenAt}`;
      if (this.lostRaised.get(w.id) === occurrence) continue;
      const subject: AlertSubject = { flow: null, tags: null, clientId: w.clientId };
      const queued = await this.ctx.store.transaction((tx) =>
        this.queue(tx, "worker.lost", subject, occurrence, null, now, () => ({
          workerId: w.id,
          client: w.clientId,
          hostname: w.hostname,
          pid: w.pid,
          lastSeenAt: iso(w.lastSeenAt),
          silentForMs,
          heartbeatTimeoutMs: this.ctx.config.heartbeatTimeoutMs,
          failedRunIds: failedRunIds.map(String),
          link: this.link(`/clients`),
        })),
      );
      this.lostRaised.set(w.id, occurrence);
      this.done({ queued, after: [] });
    }
  }

  /** Runs still PENDING past their due time (scheduledFor or createdAt) plus the grace: once per run. */
  async checkLate(now: number): Promise<void> {
    if (!this.registry.listens("run.late")) {
      this.lateRaised.clear();
      return;
    }
    const grace = this.ctx.config.scheduleGraceMs;
    const pending = await this.ctx.store.listRunsInState("PENDING");
    const still = new Set(pending.map((r) => r.id));
    for (const id of [...this.lateRaised]) if (!still.has(id)) this.lateRaised.delete(id);
    for (const r of pending) {
      const due = r.scheduledFor ?? r.createdAt;
      if (now - due <= grace || this.lateRaised.has(r.id)) continue;
      const subject: AlertSubject = { flow: r.flowName, tags: r.tags, clientId: r.clientId };
      const queued = await this.ctx.store.transaction((tx) =>
        this.queue(tx, "run.late", subject, `run.late:${r.id}`, r.id, now, () => this.runData(r, { dueAt: iso(due), lateByMs: now - due, graceMs: grace })),
      );
      this.lateRaised.add(r.id);
      this.done({ queued, after: [] });
    }
  }

  /** After the transaction that queued them committed: metrics, the live log, and a wake-up. */
  done(work: AlertWork | null | undefined): void {
    if (!work) return;
    for (const f of work.after) f();
    let due = false;
    for (const d of work.queued) {
      this.metrics.delivery(d.state === "THROTTLED" ? "throttled" : "queued");
      this.ctx.feed.publish({ kind: "alert", deliveryId: String(d.id), destinationId: d.destinationId, state: d.state });
      if (d.state === "PENDING") due = true;
    }
    if (due) this.wake();
  }

  /** "Send test alert": an alert.test delivery through the same outbox. */
  async sendTest(destinationId: string): Promise<DeliveryView> {
    const dest = this.registry.destination(destinationId);
    if (!dest) throw notFound("destination", destinationId);
    const now = this.ctx.clock.now();
    const webhookId = newWebhookId();
    const envelope: Envelope = {
      type: "alert.test",
      id: webhookId,
      timestamp: iso(now)!,
      data: { message: "A test alert from Perfect: this destination is wired up.", destinationId, link: this.link("/alerts") },
    };
    const [row] = await this.ctx.store.queueAlertDeliveries([
      { webhookId, destinationId, eventType: "alert.test", dedupeKey: null, throttleKey: null, throttleWindowMs: 0, runId: null, flowName: null, payload: JSON.stringify(envelope), createdAt: now },
    ]);
    this.done({ queued: [row], after: [] });
    return deliveryView(row, []);
  }

  // ------------------------------------------------------------ delivery

  start(): void {
    if (this.running) return;
    this.running = true;
    // A row queued by another instance: look now rather than at the next poll.
    this.unsubscribe = this.ctx.feed.subscribe((c) => {
      if (c.kind === "alert" && c.state === "PENDING") this.wake();
    });
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.wake();
    await this.loopDone;
  }

  wake(): void {
    this.woken = true;
    this.wakeup?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let wait = this.options.pollMs;
      try {
        // A read first: an idle loop never takes SQLite's write lock (the claim is an UPDATE).
        let next = await this.ctx.store.earliestDeliveryAt();
        if (next !== null && next <= this.ctx.clock.now()) {
          await this.deliverDue();
          next = await this.ctx.store.earliestDeliveryAt();
        }
        if (next !== null) wait = Math.max(0, Math.min(wait, next - this.ctx.clock.now()));
      } catch (e) {
        console.error("[perfect] alert delivery pass failed:", (e as Error).message);
      }
      if (!this.running) break;
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        t.unref?.();
        this.wakeup = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeup = null;
    }
  }

  /** One pass: leases the due rows and sends them (concurrently); how many were sent. */
  async deliverDue(): Promise<number> {
    let sent = 0;
    for (;;) {
      const now = this.ctx.clock.now();
      const lease = now + this.options.timeoutMs + 5000;
      const rows = await this.ctx.store.claimDueDeliveries(now, lease, CLAIM_BATCH);
      if (!rows.length) return sent;
      await Promise.all(rows.map((d) => this.send(d, lease)));
      sent += rows.length;
      if (rows.length < CLAIM_BATCH) return sent;
    }
  }

  private async send(d: AlertDeliveryRecord, lease: number): Promise<void> {
    const dest = this.registry.destination(d.destinationId);
    const at = this.ctx.clock.now();
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    if (!dest) {
      error = `destination ${d.destinationId} is no longer in the alerts file`;
    } else {
      try {
        const body = dest.type === "slack" ? JSON.stringify(slackMessage(JSON.parse(d.payload) as Envelope)) : d.payload;
        // A fresh timestamp (and so signature) on every try; the id and the body stay.
        const headers = webhookHeaders(dest.type === "slack" ? null : dest.key, d.webhookId, Math.floor(at / 1000), body);
        const res = await fetch(dest.url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(this.options.timeoutMs) });
        status = res.status;
        await res.body?.cancel().catch(() => {});
      } catch (e) {
        error = describeError(e, this.options.timeoutMs);
      }
    }
    const ok = status !== null && status >= 200 && status <= 299;
    const durationMs = performance.now() - started;
    const end = this.ctx.clock.now();
    let outcome: DeliveryOutcome;
    if (ok) outcome = { attempt: { at, status, error, durationMs }, state: "DELIVERED", nextAttemptAt: null };
    else {
      const delay = Math.min(this.options.backoffBaseMs * 2 ** Math.min(d.attempts, 40), this.options.backoffCapMs);
      const next = end + delay;
      const giveUp = !dest || next > d.createdAt + this.options.giveUpAfterMs;
      outcome = { attempt: { at, status, error, durationMs }, state: giveUp ? "DEAD" : "PENDING", nextAttemptAt: giveUp ? null : next };
    }
    if (!(await this.ctx.store.recordDeliveryAttempt(d.id, lease, outcome))) return; // our lease ran out: another sender has it
    this.metrics.attempt(ok);
    if (outcome.state === "DELIVERED") this.metrics.delivery("delivered");
    if (outcome.state === "DEAD") this.metrics.delivery("dead");
    this.ctx.feed.publish({ kind: "alert", deliveryId: String(d.id), destinationId: d.destinationId, state: outcome.state });
  }

  // ------------------------------------------------------------ reads

  async overview(): Promise<AlertsOverview> {
    const health = new Map((await this.ctx.store.destinationHealth()).map((h) => [h.destinationId, h]));
    const destinations = this.registry.destinations.map((d) => {
      const h = health.get(d.id);
      const u = new URL(d.url);
      return {
        id: d.id,
        type: d.type,
        // Slack's URL is itself the secret: only its host is shown.
        url: d.type === "slack" ? `${u.origin}/…` : `${u.origin}${u.pathname}`,
        signed: d.type === "webhook" && d.key !== null,
        health: {
          pending: h?.pending ?? 0,
          delivered: h?.delivered ?? 0,
          dead: h?.dead ?? 0,
          throttled: h?.throttled ?? 0,
          lastSuccessAt: iso(h?.lastSuccessAt),
          lastFailureAt: iso(h?.lastFailureAt),
        },
      };
    });
    const known = new Set(this.registry.destinations.map((d) => d.id));
    return {
      file: this.registry.file,
      loadError: this.registry.loadError,
      loadedAt: iso(this.registry.loadedAt)!,
      rules: this.registry.rules.map((r) => ({
        index: r.index,
        on: r.on,
        flows: r.flows,
        tags: r.tags ? { ...r.tags } : null,
        clients: r.clients,
        to: r.to,
        throttleSeconds: r.throttleSeconds,
      })),
      destinations,
      formerDestinations: [...health.keys()].filter((id) => !known.has(id)),
    };
  }

  async listDeliveries(q: DeliveryListQuery): Promise<DeliveryPage> {
    const rows = await this.ctx.store.listDeliveries({
      state: q.state,
      destinationId: q.destination,
      before: q.cursor === undefined ? undefined : Number(q.cursor),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const attempts = await this.ctx.store.listDeliveryAttempts(page.map((d) => d.id));
    const byDelivery = new Map<number, typeof attempts>();
    for (const a of attempts) {
      let list = byDelivery.get(a.deliveryId);
      if (!list) byDelivery.set(a.deliveryId, (list = []));
      list.push(a);
    }
    return {
      deliveries: page.map((d) => deliveryView(d, byDelivery.get(d.id) ?? [])),
      nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null,
    };
  }
}

function deliveryView(d: AlertDeliveryRecord, attempts: { at: number; status: number | null; error: string | null; durationMs: number }[]): DeliveryView {
  let payload: unknown = null;
  try {
    payload = JSON.parse(d.payload);
  } catch {
    payload = null;
  }
  return {
    id: String(d.id),
    webhookId: d.webhookId,
    destinationId: d.destinationId,
    type: d.eventType,
    runId: d.runId === null ? null : String(d.runId),
    flowName: d.flowName,
    state: d.state,
    attempts: attempts.map((a) => ({ at: iso(a.at)!, status: a.status, error: a.error, durationMs: a.durationMs })),
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    nextAttemptAt: d.state === "PENDING" ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt),
    createdAt: iso(d.createdAt)!,
    payload,
  };
}
