/**
 * Every limit the server enforces against hostile input and load, in one place, with the
 * environment variable that changes it. docs/RELIABILITY.md ("Limits") lists them all.
 */
import { z } from "zod";
import { allowedHosts } from "../auth/hosts";

const int = (def: number) => z.coerce.number().int().positive().default(def);
const num = (def: number) => z.coerce.number().positive().default(def);

export const limitsEnvSchema = z.object({
  /** Trust X-Forwarded-For / -Host / -Proto from the peer (a reverse proxy in front). */
  PERFECT_TRUST_PROXY: z.enum(["0", "1", "true", "false", ""]).default("0"),
  /** Open /api/events streams: per address and in total. */
  PERFECT_SSE_MAX_PER_ADDRESS: int(32),
  PERFECT_SSE_MAX_STREAMS: int(256),
  /** Bytes queued for one SSE reader that does not read before it is dropped. */
  PERFECT_SSE_MAX_QUEUE_BYTES: int(256 * 1024),
  /** How often an open SSE stream checks that its session or token is still valid (ms). */
  PERFECT_SSE_RECHECK_MS: int(30_000),
  /** Dashboard mutations (trigger, cancel) per address: a rate and a burst. */
  PERFECT_RATE_MUTATIONS_PER_SEC: num(20),
  PERFECT_RATE_MUTATIONS_BURST: int(60),
  /** Worker requests with a missing or wrong token, per address. */
  PERFECT_RATE_AUTH_FAILURES_PER_SEC: num(5),
  PERFECT_RATE_AUTH_FAILURES_BURST: int(20),
  /** Heartbeats per client and address (a healthy worker sends one per interval). */
  PERFECT_RATE_HEARTBEATS_PER_SEC: num(20),
  PERFECT_RATE_HEARTBEATS_BURST: int(100),
  /** Registrations per client. */
  PERFECT_RATE_REGISTER_PER_SEC: num(10),
  PERFECT_RATE_REGISTER_BURST: int(200),
  /** Long polls started per client and address: a rate and a burst (a worker polls once per answer). */
  PERFECT_RATE_POLLS_PER_SEC: num(50),
  PERFECT_RATE_POLLS_BURST: int(50),
  /** Long polls held at once: per client and address, and in total. */
  PERFECT_POLLS_PER_ADDRESS: int(256),
  PERFECT_POLLS_MAX: int(4096),
  /**
   * A 429 from the front door is held this long before it is sent (at most MAX_HELD at once;
   * beyond, it is sent at once and the connection closed): a caller looping on refusals then
   * costs one cheap answer per second per connection, not thousands.
   */
  PERFECT_REFUSAL_DELAY_MS: z.coerce.number().int().min(0).default(1000),
  PERFECT_REFUSAL_MAX_HELD: int(1024),
  /** Long polls held at once by one worker process (its workerId). */
  PERFECT_POLLS_PER_WORKER: int(8),
});

export interface Limits {
  trustProxy: boolean;
  /** PERFECT_ALLOWED_HOSTS: the Host names served (null: any, from `*`); see lib/auth/hosts.ts. */
  allowedHosts: Set<string> | null;
  maxBodyBytes: number;
  sse: { perAddress: number; total: number; maxQueueBytes: number; recheckMs: number };
  mutations: { ratePerSec: number; burst: number };
  authFailures: { ratePerSec: number; burst: number };
  heartbeats: { ratePerSec: number; burst: number };
  register: { ratePerSec: number; burst: number };
  polls: { perAddress: number; total: number; perWorker: number; ratePerSec: number; burst: number };
  refusals: { delayMs: number; maxHeld: number };
}

export const MAX_BODY_BYTES = 1024 * 1024;

export function loadLimits(env: NodeJS.ProcessEnv = process.env): Limits {
  const parsed = limitsEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const e = parsed.data;
  return {
    trustProxy: e.PERFECT_TRUST_PROXY === "1" || e.PERFECT_TRUST_PROXY === "true",
    allowedHosts: allowedHosts(env),
    maxBodyBytes: MAX_BODY_BYTES,
    sse: { perAddress: e.PERFECT_SSE_MAX_PER_ADDRESS, total: e.PERFECT_SSE_MAX_STREAMS, maxQueueBytes: e.PERFECT_SSE_MAX_QUEUE_BYTES, recheckMs: e.PERFECT_SSE_RECHECK_MS },
    mutations: { ratePerSec: e.PERFECT_RATE_MUTATIONS_PER_SEC, burst: e.PERFECT_RATE_MUTATIONS_BURST },
    authFailures: { ratePerSec: e.PERFECT_RATE_AUTH_FAILURES_PER_SEC, burst: e.PERFECT_RATE_AUTH_FAILURES_BURST },
    heartbeats: { ratePerSec: e.PERFECT_RATE_HEARTBEATS_PER_SEC, burst: e.PERFECT_RATE_HEARTBEATS_BURST },
    register: { ratePerSec: e.PERFECT_RATE_REGISTER_PER_SEC, burst: e.PERFECT_RATE_REGISTER_BURST },
    polls: {
      perAddress: e.PERFECT_POLLS_PER_ADDRESS,
      total: e.PERFECT_POLLS_MAX,
      perWorker: e.PERFECT_POLLS_PER_WORKER,
      ratePerSec: e.PERFECT_RATE_POLLS_PER_SEC,
      burst: e.PERFECT_RATE_POLLS_BURST,
    },
    refusals: { delayMs: e.PERFECT_REFUSAL_DELAY_MS, maxHeld: e.PERFECT_REFUSAL_MAX_HELD },
  };
}

const KEY = Symbol.for("perfect.limits");
/** The limits of this process, read once (every bundle of lib/ shares them through globalThis). */
export function limits(): Limits {
  const g = globalThis as { [KEY]?: Limits };
  return (g[KEY] ??= loadLimits());
}
