/**
 * A reader of the dashboard's SSE stream (/api/events) for tests: it collects every `change`
 * event's data as parsed JSON and notes when the server ended the stream.
 */

export interface ChangeStream {
  /** The answer's headers (content type, caching). */
  headers: Headers;
  /** Every change so far, in the order received. */
  changes: any[];
  /** True once the server ended the stream (e.g. a resync after a lost LISTEN connection). */
  readonly ended: boolean;
  /** Aborts the request and waits for the reader to finish. */
  close(): Promise<void>;
}

export async function openStream(url: string, path = "/api/events"): Promise<ChangeStream> {
  const controller = new AbortController();
  const res = await fetch(url + path, { signal: controller.signal });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const changes: any[] = [];
  let ended = false;
  const done = (async () => {
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return void (ended = true);
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (block.includes("event: change") && data) changes.push(JSON.parse(data.slice(6)));
      }
    }
  })();
  return {
    headers: res.headers,
    changes,
    get ended() {
      return ended;
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}
