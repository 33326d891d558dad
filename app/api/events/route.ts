import { handleApiError } from "@/lib/api/errors";
import { trackStream } from "@/lib/api/sse-streams";
import { getEngine } from "@/lib/engine";
import type { Change } from "@/lib/engine/change-feed";

export const dynamic = "force-dynamic";

/**
 * Server-Sent Events of every run, task-run, log, client, flow and statistics change. The UI
 * revalidates what a change touches; on reconnect it refetches, so nothing is missed.
 */
export function GET(req: Request): Response {
  try {
    const engine = getEngine();
    const encoder = new TextEncoder();
    let unsubscribe = () => {};
    let untrack = () => {};
    let keepAlive: NodeJS.Timeout | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            close();
          }
        };
        const close = () => {
          unsubscribe();
          untrack();
          clearInterval(keepAlive);
          try {
            controller.close();
          } catch {
            /* already closed */
          }
        };
        send(`retry: 1000\nevent: hello\ndata: {"ok":true}\n\n`);
        unsubscribe = engine.feed.subscribe((c: Change) => send(`event: change\ndata: ${JSON.stringify(c)}\n\n`));
        // A named event (not a comment) so the page can tell a live stream from a half-open one.
        keepAlive = setInterval(() => send(`event: ping\ndata: {}\n\n`), 15_000);
        untrack = trackStream(close);
        req.signal.addEventListener("abort", close, { once: true });
      },
      cancel() {
        unsubscribe();
        untrack();
        clearInterval(keepAlive);
      },
    });
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
