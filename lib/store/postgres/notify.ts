/**
 * Wake-ups across server instances over PostgreSQL LISTEN/NOTIFY.
 *
 * Each instance keeps ONE dedicated connection (PgListener) listening on `perfect_runs` (a run
 * became claimable) and `perfect_changes` (dashboard changes). Senders NOTIFY through the pool;
 * every instance, the sender included, hears its own notifications and acts on them locally,
 * so one code path serves one instance or ten.
 *
 * Reconnects: when the listening connection is lost (PostgreSQL restart, pg_terminate_backend,
 * network), notifications sent meanwhile are gone for this instance. The listener reconnects
 * with backoff, LISTENs again, and only then signals a resync: the notifier wakes every local
 * waiter (each re-checks the database: a claim finds whatever was queued meanwhile) and the feed
 * calls its onResync listeners (SSE streams tell browsers to refetch). Because the resync comes
 * after LISTEN is back, anything sent later arrives as a notification: nothing falls between.
 */
import pg from "pg";
import type { Change } from "../../domain/changes";
import type { ChangeFeed, RunNotifier } from "../store";
import { parseChange } from "../../contracts/changes";
import { InProcessRunNotifier } from "../in-process-notifier";

export const RUNS_CHANNEL = "perfect_runs";
export const CHANGES_CHANNEL = "perfect_changes";
/** NOTIFY payloads must stay under 8000 bytes; a larger change becomes a resync. */
const MAX_PAYLOAD = 7900;
const RESYNC_PAYLOAD = "resync";

type Handler = (payload: string) => void;

/** The instance's one LISTEN connection, re-established (and re-LISTENed) whenever it drops. */
export class PgListener {
  private client: pg.Client | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly resyncHandlers = new Set<() => void>();
  private closed = false;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;

  constructor(
    private readonly url: string,
    private readonly opts: { minBackoffMs?: number; maxBackoffMs?: number; log?: (msg: string) => void } = {},
  ) {
    this.backoffMs = opts.minBackoffMs ?? 100;
  }

  /** Connects and LISTENs; resolves once notifications flow (rejects if the first attempt fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  on(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  /** Called after each reconnect, once LISTEN is back (not after the first connect). */
  onResync(handler: () => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  /** The listening connection's server process id (tests terminate it), or null while down. */
  backendPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      const client = new pg.Client({ connectionString: this.url, keepAlive: true });
      let lost = false;
      const onLost = (e?: Error) => {
        if (lost) return;
        lost = true;
        if (this.client === client) this.client = null;
        client.removeAllListeners("notification");
        client.end().catch(() => {});
        if (!this.closed) {
          this.opts.log?.(`[perfect] LISTEN connection lost${e ? `: ${e.message}` : ""}; reconnecting`);
          this.scheduleReconnect();
        }
      };
      client.on("error", onLost);
      client.on("end", () => onLost());
      client.on("notification", (msg) => {
        const set = this.handlers.get(msg.channel);
        if (!set) return;
        for (const h of [...set]) {
          try {
            h(msg.payload ?? "");
          } catch (e) {
            this.opts.log?.(`[perfect] notification handler failed: ${(e as Error).message}`);
          }
        }
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${RUNS_CHANNEL}; LISTEN ${CHANGES_CHANNEL}`);
      } catch (e) {
        onLost(e as Error);
        throw e;
      }
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.backoffMs = this.opts.minBackoffMs ?? 100;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          if (this.closed) return;
          for (const h of [...this.resyncHandlers]) h();
        },
        // The failed attempt's onLost already scheduled the next one.
        () => {},
      );
    }, delay);
    this.retryTimer.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting?.catch(() => {});
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}

/**
 * NOTIFYs through the pool, batched per event-loop turn into one statement. PostgreSQL folds
 * identical payloads sent in one transaction into one, so run wake-ups are summed per
 * (client, route) before sending instead of repeated.
 */
class NotifySender {
  private runs = new Map<string, number>();
  private changes: string[] = [];
  private scheduled = false;

  constructor(
    private readonly pool: Pick<pg.Pool, "query">,
    private readonly onFailure: (runs: Map<string, number>, changes: string[], error: Error) => void,
  ) {}

  queueRun(key: string, count: number): void {
    this.runs.set(key, (this.runs.get(key) ?? 0) + count);
    this.schedule();
  }
  queueChange(payload: string): void {
    this.changes.push(payload);
    this.schedule();
  }
  /** The flush in flight: the next waits for it, so notifications leave in the order published. */
  private flushing: Promise<void> = Promise.resolve();
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.flushing = this.flushing.then(() => this.flush());
    });
  }
  private async flush(): Promise<void> {
    this.scheduled = false;
    const runs = this.runs;
    const changes = this.changes;
    this.runs = new Map();
    this.changes = [];
    const channels: string[] = [];
    const payloads: string[] = [];
    for (const [key, count] of runs) {
      channels.push(RUNS_CHANNEL);
      payloads.push(`${key}\t${count}`);
    }
    for (const c of changes) {
      channels.push(CHANGES_CHANNEL);
      payloads.push(c);
    }
    if (!payloads.length) return;
    try {
      await this.pool.query(`SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, o) ORDER BY o`, [channels, payloads]);
    } catch (e) {
      this.onFailure(runs, changes, e as Error);
    }
  }
}

/**
 * RunNotifier across instances: runQueued → NOTIFY perfect_runs '<clientId>\t<route>\t<count>';
 * every instance, the sender included, hands what it hears to its own InProcessRunNotifier,
 * which does the waiting and waking (per client, the longest-waiting first, skipping those whose
 * `serves` rejects the route, `count` at most). This class only adds the NOTIFY round trip.
 */
export class PgNotifier implements RunNotifier {
  private readonly local = new InProcessRunNotifier();
  private readonly sender: NotifySender;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(pool: Pick<pg.Pool, "query">, listener: PgListener) {
    // When NOTIFY itself fails (database unreachable) this instance's waiters still learn of it.
    this.sender = new NotifySender(pool, (runs) => {
      for (const [key, count] of runs) this.dispatch(`${key}\t${count}`);
    });
    this.unsubscribe.push(listener.on(RUNS_CHANNEL, (p) => this.dispatch(p)));
    // After a reconnect every waiter re-checks the database (what was queued meanwhile is claimed).
    this.unsubscribe.push(listener.onResync(() => this.local.wakeAll()));
  }

  runQueued(clientId: string, count = 1, route?: string): void {
    if (count <= 0) return;
    this.sender.queueRun(`${clientId}\t${route ?? ""}`, count);
  }

  private dispatch(payload: string): void {
    const parts = payload.split("\t");
    if (parts.length < 3) return;
    const count = Number(parts[parts.length - 1]);
    const route = parts[parts.length - 2];
    const clientId = parts.slice(0, -2).join("\t");
    this.local.runQueued(clientId, Number.isFinite(count) ? count : 1, route === "" ? undefined : route);
  }

  waitForRun(clientId: string, timeoutMs: number, signal?: AbortSignal, serves?: (route: string) => boolean): Promise<boolean> {
    return this.local.waitForRun(clientId, timeoutMs, signal, serves);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
  }
}

/**
 * ChangeFeed across instances: publish → NOTIFY perfect_changes '<change as JSON>'; subscribers
 * on every instance (the publisher's included) receive it.
 *
 * onResync(listener): called when this instance may have missed changes — after its LISTEN
 * connection was lost and re-established, or when a change could not be sent. A listener should
 * treat it as "refetch everything" (SSE: tell the browser to reload its views).
 */
export class PgChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly sender: NotifySender;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(pool: Pick<pg.Pool, "query">, listener: PgListener) {
    this.sender = new NotifySender(pool, () => this.resync());
    this.unsubscribe.push(listener.on(CHANGES_CHANNEL, (p) => this.receive(p)));
    this.unsubscribe.push(listener.onResync(() => this.resync()));
  }

  publish(change: Change): void {
    const payload = JSON.stringify(change);
    // Byte length, not characters: the limit is PostgreSQL's.
    this.sender.queueChange(Buffer.byteLength(payload) > MAX_PAYLOAD ? RESYNC_PAYLOAD : payload);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** See the class comment: "you may have missed changes, refetch". Returns an unsubscribe. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private receive(payload: string): void {
    if (payload === RESYNC_PAYLOAD) return this.resync();
    const change = parseChange(payload);
    if (!change) return;
    for (const l of [...this.listeners]) l(change);
  }

  private resync(): void {
    for (const l of [...this.resyncListeners]) l();
  }

  close(): void {
    for (const u of this.unsubscribe) u();
  }
}
