/**
 * Open Server-Sent Event streams, so a shutdown (SIGTERM / SIGINT) can end them: otherwise
 * `next start` waits for every open dashboard to disconnect before it exits, and the browsers
 * never learn that the server went away.
 */
const KEY = Symbol.for("perfect.sse-streams");

type Registry = { closers: Set<() => void>; hooked: boolean };

function registry(): Registry {
  const g = globalThis as { [KEY]?: Registry };
  return (g[KEY] ??= { closers: new Set(), hooked: false });
}

export function trackStream(close: () => void): () => void {
  const r = registry();
  if (!r.hooked) {
    r.hooked = true;
    const closeAll = () => {
      for (const c of [...r.closers]) c();
    };
    process.once("SIGTERM", closeAll);
    process.once("SIGINT", closeAll);
  }
  r.closers.add(close);
  return () => r.closers.delete(close);
}
