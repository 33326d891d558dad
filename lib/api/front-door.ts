/**
 * The front door: a check on every HTTP request *before* Next routes it, parses it or reads a
 * byte of its body. Floods are refused here for the price of a few map lookups (429 with
 * Retry-After), so one caller's flood cannot queue work in front of another caller's dispatch:
 *
 * - a declared body over 1 MiB → 413 on any path, the connection closed (nothing is read);
 * - worker routes: the bearer token is checked here (a wrong one is 401, and past a budget of
 *   failures per address 429); heartbeats and registrations have a rate per client, long polls
 *   a cap of requests held at once per client and address and in total;
 * - `/api/events` streams: a cap per address and in total;
 * - dashboard mutations (trigger, cancel): a rate per address.
 *
 * It also pins down who the caller is: the socket's address goes into `x-perfect-peer`, and
 * X-Forwarded-* headers are dropped unless PERFECT_TRUST_PROXY=1 (then the first
 * X-Forwarded-For hop is the peer). Next fills X-Forwarded-Host/-Proto from the real request
 * when they are absent, so nothing downstream can be fooled by a caller's own header.
 *
 * Installed from instrumentation.ts by wrapping http.Server's `emit` for "request": `next start`
 * owns its server and offers no hook in front of its router, and Proxy (proxy.ts) would run
 * after Next has already cloned and buffered the body.
 */
import http from "node:http";
import { hostAllowed } from "../auth/hosts";
import type { ClientRegistry } from "../clients-file";
import { InFlight, TokenBuckets } from "./rate-limit";
import type { Limits } from "./limits";
import type { WorkerLane } from "./worker-lane";

export const PEER_HEADER = "x-perfect-peer";
const FORWARDED = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip"];

export interface Refusal {
  status: number;
  code: string;
  message: string;
  retryAfterSec?: number;
  /** Close the connection instead of draining a body nobody will read. */
  close?: boolean;
  /** A redirect (pages without a session → /login). */
  location?: string;
  /** Answer with this plain text instead of the JSON error body (pages). */
  text?: string;
}

/**
 * The check of a dashboard page (not /api, not Next's assets) before Next renders it: null to
 * serve it, else a refusal (a redirect to /login, or 401 before setup). Asynchronous: it may
 * look a session up.
 */
export type PageGate = (r: DoorRequest) => Promise<Refusal | null>;

/** Next's own files and anything with an extension (icons, fonts): never gated. */
export function isPagePath(path: string): boolean {
  if (path.startsWith("/api/") || path === "/api" || path.startsWith("/_next/") || path.startsWith("/__")) return false;
  const last = path.slice(path.lastIndexOf("/") + 1);
  return !last.includes(".");
}

export interface DoorRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  peer: string;
}

export type Verdict = { pass: true; onClose?: () => void } | { pass: false; refusal: Refusal };

const PASS: Verdict = { pass: true };

function bearer(h: string | string[] | undefined): string | null {
  const v = Array.isArray(h) ? h[0] : h;
  const m = v ? /^Bearer\s+(.+)$/i.exec(v.trim()) : null;
  return m ? m[1] : null;
}

const limited = (what: string, retryAfterSec: number): Verdict => ({
  pass: false,
  refusal: { status: 429, code: "rate_limited", message: `too many requests: ${what}; retry after ${retryAfterSec} s`, retryAfterSec },
});

export class FrontDoor {
  readonly authFailures: TokenBuckets;
  readonly heartbeats: TokenBuckets;
  readonly registrations: TokenBuckets;
  readonly mutations: TokenBuckets;
  readonly streams: InFlight;
  readonly polls: InFlight;
  readonly pollStarts: TokenBuckets;
  /** Counts of what was refused, by code (for the benchmarks' and tests' reports). */
  readonly refused = new Map<string, number>();

  constructor(
    readonly limits: Limits,
    private readonly registry: () => Pick<ClientRegistry, "authenticate"> | undefined,
    private readonly now: () => number = Date.now,
    /** Pages: who may see them (lib/auth/page-gate.ts); absent, every page is served. */
    readonly pageGate?: PageGate,
  ) {
    this.authFailures = new TokenBuckets(limits.authFailures.ratePerSec, limits.authFailures.burst);
    this.heartbeats = new TokenBuckets(limits.heartbeats.ratePerSec, limits.heartbeats.burst);
    this.registrations = new TokenBuckets(limits.register.ratePerSec, limits.register.burst);
    this.mutations = new TokenBuckets(limits.mutations.ratePerSec, limits.mutations.burst);
    this.streams = new InFlight(limits.sse.perAddress, limits.sse.total);
    this.polls = new InFlight(limits.polls.perAddress, limits.polls.total);
    this.pollStarts = new TokenBuckets(limits.polls.ratePerSec, limits.polls.burst);
  }

  decide(r: DoorRequest): Verdict {
    const v = this.verdict(r);
    if (!v.pass) this.refused.set(v.refusal.code, (this.refused.get(v.refusal.code) ?? 0) + 1);
    return v;
  }

  private verdict({ method, url, headers, peer }: DoorRequest): Verdict {
    const declared = headers["content-length"];
    if (declared !== undefined && Number(declared) > this.limits.maxBodyBytes) {
      return {
        pass: false,
        refusal: { status: 413, code: "payload_too_large", message: `request body exceeds ${this.limits.maxBodyBytes} bytes`, close: true },
      };
    }
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    // DNS rebinding: a page of attacker.test that resolves to this server sends its own Host.
    // Refused before routing, for pages and the dashboard API alike. Worker routes carry a
    // client's secret token, which such a page cannot know, and workers often reach the server
    // by an address nobody listed: they and /api/health (load balancers) are not checked.
    if (!path.startsWith("/api/worker/") && path !== "/api/health") {
      const host = (this.limits.trustProxy ? headers["x-forwarded-host"] : undefined) ?? headers.host;
      if (!hostAllowed(Array.isArray(host) ? host[0] : host, this.limits.allowedHosts)) {
        return {
          pass: false,
          refusal: { status: 421, code: "misdirected_request", message: "this host name is not served here: add it to PERFECT_ALLOWED_HOSTS (comma-separated) to allow it" },
        };
      }
    }
    if (!path.startsWith("/api/")) return PASS;
    const now = this.now();

    if (path.startsWith("/api/worker/")) {
      const parts = path.split("/"); // "", "api", "worker", clientId, route, …
      let clientId: string;
      try {
        clientId = decodeURIComponent(parts[3] ?? "");
      } catch {
        clientId = "";
      }
      const registry = this.registry();
      if (!registry) return PASS; // not started yet: the route answers
      if (!registry.authenticate(clientId, bearer(headers.authorization))) {
        const spent = this.authFailures.spend(peer, now);
        if (!spent.ok) return limited("failed authentications from this address", spent.retryAfterSec);
        return { pass: false, refusal: { status: 401, code: "unauthorized", message: "missing or wrong bearer token for this client" } };
      }
      const route = parts[4];
      if (method === "POST" && route === "heartbeat") {
        const spent = this.heartbeats.spend(`${clientId}\u0000${peer}`, now);
        if (!spent.ok) return limited("heartbeats of this client", spent.retryAfterSec);
      } else if (method === "POST" && route === "register") {
        const spent = this.registrations.spend(clientId, now);
        if (!spent.ok) return limited("registrations of this client", spent.retryAfterSec);
      } else if (method === "POST" && route === "poll") {
        // A rate as well as a cap: refusals further in (per worker) cost a parsed body each, so
        // a caller re-sending refused polls at once must be stopped here.
        const spent = this.pollStarts.spend(`${clientId}\u0000${peer}`, now);
        if (!spent.ok) return limited("long polls of this client from this address", spent.retryAfterSec);
        const leave = this.polls.enter(`${clientId}\u0000${peer}`);
        if (!leave) return limited("long polls held at once", 1);
        return { pass: true, onClose: leave };
      }
      return PASS;
    }

    if (path === "/api/events" && (method === "GET" || method === "HEAD")) {
      const leave = this.streams.enter(peer);
      if (!leave) return limited("live event streams open at once", 5);
      return { pass: true, onClose: leave };
    }

    if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
      const spent = this.mutations.spend(peer, now);
      if (!spent.ok) return limited("dashboard changes from this address", spent.retryAfterSec);
    }
    return PASS;
  }
}

/** Who is calling: the socket's address, or with a trusted proxy the first X-Forwarded-For hop. */
export function peerOf(req: http.IncomingMessage, trustProxy: boolean): string {
  const socketAddress = req.socket?.remoteAddress ?? "unknown";
  if (!trustProxy) return socketAddress;
  const xff = req.headers["x-forwarded-for"];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(",")[0]?.trim();
  return first || socketAddress;
}

function refuse(res: http.ServerResponse, r: Refusal): void {
  const body = r.text ?? JSON.stringify({ error: { code: r.code, message: r.message, ...(r.retryAfterSec ? { details: { retryAfterSec: r.retryAfterSec } } : {}) } });
  const headers: Record<string, string | number> = {
    "content-type": r.text !== undefined ? "text/plain; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(body),
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  };
  if (r.retryAfterSec) headers["retry-after"] = r.retryAfterSec;
  if (r.location) headers.location = r.location;
  if (r.close) headers.connection = "close";
  // A refused body is never read into memory. After the answer, a lingering close: our side
  // sends FIN, and what the client still sends is discarded (bounded in bytes and time) before
  // the socket goes. Destroying at once would answer the client's next bytes with a RST, which
  // can make it drop our 413 unread. Node's server ends a `Connection: close` answer with
  // socket.destroySoon() — a destroy right after our FIN — so that call is the linger here.
  const socket = res.socket;
  if (r.close && socket) socket.destroySoon = () => lingerClose(socket);
  res.writeHead(r.status, headers);
  res.end(body);
  if (r.close) res.once("finish", () => lingerClose(res.socket));
}

const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

const lingering = new WeakSet<object>();

function lingerClose(socket: import("node:net").Socket | null): void {
  if (!socket || socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  socket.end();
  let discarded = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.on("data", (c: Buffer) => {
    discarded += c.length;
    if (discarded > LINGER_BYTES) socket.destroy();
  });
  socket.once("close", () => clearTimeout(timer));
  socket.resume();
}

/**
 * Sends a refusal; a 429 is held for `delayMs` first (the tarpit), while fewer than `maxHeld`
 * are held. A held answer is dropped, with its timer, if the caller hangs up first.
 */
let held = 0;
function refuseLater(res: http.ServerResponse, r: Refusal, limits: Limits): void {
  const { delayMs, maxHeld } = limits.refusals;
  if (r.status !== 429 || delayMs <= 0) return refuse(res, r);
  if (held >= maxHeld) return refuse(res, { ...r, close: true });
  held++;
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    held--;
    clearTimeout(timer);
  };
  // Jittered (0.5–1.5 × the delay): a burst refused together must not be answered together, in
  // one timer tick that would hold the event loop for everyone else.
  const timer = setTimeout(() => {
    release();
    if (!res.destroyed && !res.writableEnded) refuse(res, r);
  }, delayMs * (0.5 + Math.random()));
  res.once("close", release);
}

const INSTALLED = Symbol.for("perfect.front-door");

type Holder = { door: FrontDoor; lane?: WorkerLane };

/**
 * Wraps http.Server#emit once per process; later calls replace the door and lane (dev reloads).
 * `lane`: requests it takes (the worker protocol, lib/api/worker-lane.ts) are answered past the
 * door's checks without reaching Next.
 */
export function installFrontDoor(door: FrontDoor, lane?: WorkerLane): void {
  const g = globalThis as { [INSTALLED]?: Holder };
  if (g[INSTALLED]) {
    g[INSTALLED].door = door;
    g[INSTALLED].lane = lane;
    return;
  }
  const holder: Holder = (g[INSTALLED] = { door, lane });
  const emit = http.Server.prototype.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  http.Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "request") return emit.call(this, event, ...args);
    const req = args[0] as http.IncomingMessage;
    const res = args[1] as http.ServerResponse;
    const d = holder.door;
    try {
      const peer = peerOf(req, d.limits.trustProxy);
      if (!d.limits.trustProxy) for (const h of FORWARDED) delete req.headers[h];
      req.headers[PEER_HEADER] = peer;
      const v = d.decide({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, peer });
      if (!v.pass) {
        refuseLater(res, v.refusal, d.limits);
        return true;
      }
      if (v.onClose) res.once("close", v.onClose);
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      if (holder.lane?.(req, res, path)) return true;
      if (d.pageGate && isPagePath(path)) {
        // Held until the gate answers (a page request has no body to buffer meanwhile). A gate
        // that fails refuses: a page is never served because its check broke.
        d.pageGate({ method: req.method ?? "GET", url, headers: req.headers, peer }).then(
          (refusal) => (refusal ? refuse(res, refusal) : emit.call(this, event, ...args)),
          (e) => {
            console.error("[perfect] page access check failed:", e);
            refuse(res, { status: 503, code: "unavailable", message: "cannot check access right now", text: "cannot check access right now: try again" });
          },
        );
        return true;
      }
    } catch (e) {
      console.error("[perfect] front door failed open:", e);
    }
    return emit.call(this, event, ...args);
  } as typeof http.Server.prototype.emit;
}

export function frontDoor(): FrontDoor | undefined {
  return (globalThis as { [INSTALLED]?: Holder })[INSTALLED]?.door;
}
