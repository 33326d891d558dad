/**
 * A real HTTP receiver for alert deliveries (node:http on 127.0.0.1, a free port): records
 * every request (method, headers, raw body) and answers with the status `respond` decides.
 * Used by the alert tests and bench/alerts.mjs.
 */
import http from "node:http";

export async function startReceiver(respond = () => 200, port = 0) {
  const received = [];
  const listeners = new Set();
  let decide = respond;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const hit = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      const status = decide(hit, received.length);
      received.push({ ...hit, status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "not now");
      for (const l of listeners) l(hit);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const bound = server.address().port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    received,
    /** Changes how later requests are answered. */
    respondWith(fn) {
      decide = fn;
    },
    /** Calls fn for every request from now on; returns the function that stops it. */
    onRequest(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
