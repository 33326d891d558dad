import { handleApiError } from "@/lib/api/errors";
import { authorize } from "@/lib/api/route";
import { limits } from "@/lib/api/limits";
import { trackStream } from "@/lib/api/sse-streams";
import { getEngine } from "@/lib/server";
import type { Change } from "@/lib/domain/changes";

export const dynamic = "force-dynamic";

/** Each change is encoded once, however many streams carry it. */
const encoded = new WeakMap<Change, Uint8Array>();
const encoder = new TextEncoder();
function encodeChange(c: Change): Uint8Array {
  let bytes = encoded.get(c);
  if (!bytes) encoded.set(c, (bytes = encoder.encode(`event: change\ndata: ${JSON.stringify(c)}\n\n`)));
  return bytes;
}

/**
 * Server-Sent Events of every run, task-run, log, client, flow and statistics change. The UI
 * revalidates what a change touches; on reconnect it refetches, so nothing is missed.
 *
 * How many streams may be open is decided by the front door (per address and in total, 429
 * beyond). Here each stream's queue is bounded: a reader that stops reading lets bytes pile up
 * in its queue (desiredSize goes negative), and past PERFECT_SSE_MAX_QUEUE_BYTES it is dropped
 * and everything it held is freed; its browser reconnects and refetches.
 *
 * The caller is checked at connect and again every PERFECT_SSE_RECHECK_MS (30 s): a stream whose
 * session expired or was logged out, or whose API token was revoked, is ended — its reconnect
 * then meets the 401 — so no change reaches a credential that is no longer valid.
 */
export async function GET(req: Request): Promise<Response> {
  try {
    await authorize(req, "viewer");
    const engine = getEngine();
    const { maxQueueBytes: maxQueue, recheckMs } = limits().sse;
    let cleanup = () => {};
    const stream = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          let closed = false;
          let keepAlive: NodeJS.Timeout | undefined = undefined;
          let recheck: NodeJS.Timeout | undefined = undefined;
          let unsubscribe = () => {};
          let unresync = () => {};
          let untrack = () => {};
          const close = () => {
            if (closed) return;
            closed = true;
            cleanup();
            try {
              controller.close();
            } catch {
              /* already closed */
            }
          };
          cleanup = () => {
            closed = true;
            unsubscribe();
            unresync();
            untrack();
            clearInterval(keepAlive);
            clearInterval(recheck);
            req.signal.removeEventListener("abort", close);
          };
          const send = (text: string | Uint8Array) => {
            if (closed) return;
            if ((controller.desiredSize ?? 0) < -maxQueue) {
              // Fallen behind by more than the bound: drop it (error, so its socket is ended).
              cleanup();
              try {
                controller.error(new Error("event stream reader fell behind"));
              } catch {
                /* gone */
              }
              return;
            }
            try {
              controller.enqueue(typeof text === "string" ? encoder.encode(text) : text);
            } catch {
              close();
            }
          };
          send(`retry: 1000\nevent: hello\ndata: {"ok":true}\n\n`);
          unsubscribe = engine.feed.subscribe((c: Change) => send(encodeChange(c)));
          // Changes may have been missed (PostgreSQL: the LISTEN connection was lost and is back):
          // end the stream; the browser reopens it and refetches everything it shows.
          unresync = engine.feed.onResync?.(close) ?? (() => {});
          // A named event (not a comment) so the page can tell a live stream from a half-open one.
          keepAlive = setInterval(() => send(`event: ping\ndata: {}\n\n`), 15_000);
          untrack = trackStream(close);
          recheck = setInterval(() => {
            authorize(req, "viewer").catch(() => close());
          }, recheckMs);
          req.signal.addEventListener("abort", close, { once: true });
        },
        cancel() {
          cleanup();
        },
      },
      // Queue measured in bytes, so desiredSize tells how far behind the reader is.
      { highWaterMark: 16 * 1024, size: (chunk) => chunk.byteLength },
    );
    return new Response(stream, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        // no-transform: without it `next start` gzips the stream and buffers events.
        "Cache-Control": "no-cache, no-transform",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      },
    });
  } catch (e) {
    return handleApiError(e);
  }
}
