/**
 * The budgets the front door spends: token buckets (a rate with a burst) and in-flight counters
 * (concurrent long requests), both keyed by caller and bounded in memory. Pure and clocked by
 * the caller, so the unit tests drive time by hand.
 */

/** A map that never grows past `max` keys: the least recently used key goes first. */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      // Re-inserting keeps Map's insertion order = recency order.
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  get size(): number {
    return this.map.size;
  }
}

export interface Spend {
  ok: boolean;
  /** Whole seconds until one more token is there (the Retry-After value); 0 when ok. */
  retryAfterSec: number;
}

/**
 * Per-key token buckets: `burst` requests at once, refilled at `ratePerSec`. A key that was
 * evicted (or never seen) starts full, which is also what a long-idle key would have: eviction
 * forgives nothing a caller could not have earned by waiting.
 */
export class TokenBuckets {
  private readonly buckets: BoundedMap<{ tokens: number; at: number }>;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    maxKeys = 10_000,
  ) {
    this.buckets = new BoundedMap(maxKeys);
  }

  /** Takes one token for `key` when there is one. */
  spend(key: string, now: number): Spend {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(now - b.at, 0) / 1000) * this.ratePerSec);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      return { ok: true, retryAfterSec: 0 };
    }
    this.buckets.set(key, b);
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerSec)) };
  }

  /** Whether `key` has a token left, without spending it. */
  has(key: string, now: number): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    return Math.min(this.burst, b.tokens + (Math.max(now - b.at, 0) / 1000) * this.ratePerSec) >= 1;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * Concurrent requests per key with a cap per key and a cap in total: `enter` either admits
 * (and returns the matching `leave`, safe to call twice) or refuses, in O(1).
 */
export class InFlight {
  private readonly counts = new Map<string, number>();
  private total = 0;

  constructor(
    readonly perKey: number,
    readonly max: number,
  ) {}

  enter(key: string): (() => void) | null {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.perKey || this.total >= this.max) return null;
    this.counts.set(key, n + 1);
    this.total++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.total--;
      const m = (this.counts.get(key) ?? 1) - 1;
      if (m <= 0) this.counts.delete(key);
      else this.counts.set(key, m);
    };
  }

  count(key?: string): number {
    return key === undefined ? this.total : (this.counts.get(key) ?? 0);
  }

  /** Keys with anything in flight: memory is bounded by open requests, never by history. */
  get keys(): number {
    return this.counts.size;
  }
}
