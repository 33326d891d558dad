/**
 * Per-client pacing of heartbeats: a client that heartbeats far more often than it was told to
 * (a bug, a loop without sleep) has its answers delayed instead of refused, so its own loop slows
 * down and it cannot starve other clients' polls on the shared event loop. Healthy workers send
 * one heartbeat per interval and never notice the bucket.
 */
const KEY = Symbol.for("perfect.heartbeat-throttle");

export class HeartbeatThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec = 50,
    private readonly burst = 50,
    private readonly maxDelayMs = 2000,
  ) {}

  /** Milliseconds to hold this heartbeat's answer (0 for a well-behaved client). */
  delayFor(clientId: string, now = Date.now()): number {
    const b = this.buckets.get(clientId) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec);
    b.at = now;
    b.tokens -= 1;
    this.buckets.set(clientId, b);
    if (b.tokens >= 0) return 0;
    return Math.min((-b.tokens / this.ratePerSec) * 1000, this.maxDelayMs);
  }
}

export function heartbeatThrottle(): HeartbeatThrottle {
  const g = globalThis as { [KEY]?: HeartbeatThrottle };
  return (g[KEY] ??= new HeartbeatThrottle());
}
