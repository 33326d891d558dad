/**
 * The worker lane: the front door answers the worker protocol (lib/api/worker-protocol.ts)
 * itself, on Node's own request and response, without handing the request to Next. Same
 * handlers, same checks as the route files (token, size cap, JSON bounds, zod, one engine call,
 * the error table) — only Next's routing, request cloning and tracing are skipped, which cost a
 * worker's hot requests (poll, events, heartbeat) more than the engine's work for them.
 * `PERFECT_WORKER_LANE=0` turns it off (Next then serves the same routes).
 */
import type http from "node:http";
import type { Engine } from "../engine/engine";
import { apiErrorAnswer } from "./errors";
import { MAX_BODY_BYTES } from "./limits";
import { jsonOf, tooLarge } from "./request-body";
import { matchWorkerRoute } from "./worker-protocol";

/** Serves `req` when it is a worker route and the engine is up; false to leave it to Next. */
export type WorkerLane = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;

function bearer(h: string | undefined): string | null {
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m ? m[1] : null;
}

/** The body's bytes, at most `limit` (413 beyond: the rest is never buffered). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (e: Error | null) => {
      if (done) return;
      done = true;
      req.off("data", onData).off("end", onEnd).off("error", finish);
      if (e) reject(e);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(c);
    };
    const onEnd = () => finish(null);
    req.on("data", onData).on("end", onEnd).on("error", finish);
  });
}

/** The security headers next.config.mjs gives every API answer Next serves, and no caching. */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cache-control": "no-store",
};
const API_HEADERS = { ...SECURITY_HEADERS, "content-type": "application/json" };

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  if (status === 204) {
    res.writeHead(204, { ...headers, ...SECURITY_HEADERS });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, ...API_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function workerLane(engineOf: () => Engine | undefined, limit = MAX_BODY_BYTES): WorkerLane {
  return (req, res, path) => {
    const match = matchWorkerRoute(req.method ?? "GET", path);
    if (!match) return false;
    const engine = engineOf();
    if (!engine) return false;
    const { spec, params } = match;
    const aborted = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) aborted.abort();
    });
    let bodyRead: Promise<unknown> | undefined;
    const body = () => (bodyRead ??= readBody(req, limit).then(jsonOf));
    void (async () => {
      try {
        engine.authenticate(params.clientId, bearer(req.headers.authorization));
        const result = await spec.handle({ engine, clientId: params.clientId, params, body, signal: aborted.signal });
        send(res, spec.status, result);
      } catch (e) {
        const a = apiErrorAnswer(e);
        // An oversized body was not read to its end: close rather than drain it.
        send(res, a.status, a.body, a.status === 413 ? { ...a.headers, connection: "close" } : a.headers);
      }
    })();
    return true;
  };
}
