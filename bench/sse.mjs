#!/usr/bin/env node
/**
 * Live updates: N dashboards hold GET /api/events (Server-Sent Events) open; a change is made
 * (a run is triggered) and each dashboard's receipt of that run's event is timed.
 *
 *   node bench/sse.mjs [--dashboards 50] [--trials 100]
 */
import http from "node:http";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";
import { nowMs, sleep, summarize } from "./lib/stats.mjs";

export const SSE_FLOW = { name: "Bench Live", description: "", tags: { team: "bench" }, tasks: [{ name: "step", estimatedTime: 100 }], parameters: [] };

/** One EventSource-like reader: calls onChange(change, receivedAt) for every `change` event. */
export function openStream(base, onChange) {
  return new Promise((resolve, reject) => {
    const url = new URL("/api/events", base);
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, headers: { accept: "text/event-stream" }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE: HTTP ${res.statusCode}`));
      let buf = "";
      let hello = false;
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const at = nowMs();
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === "hello" && !hello) {
            hello = true;
            resolve({ close: () => req.destroy() });
          } else if (event === "change" && data) onChange(JSON.parse(data), at);
        }
      });
      res.on("error", () => {});
    });
    req.on("error", (e) => (e.code === "ECONNRESET" ? undefined : reject(e)));
  });
}

/** The core: latencies from sending the trigger to each dashboard receiving its run event. */
export async function measureSse(base, { dashboards = 50, trials = 100, warmup = 10, gapMs = 20, clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token } = {}) {
  const api = apiClient(base, { clientId, token });
  const [flow] = (await api.register([SSE_FLOW])).flows;
  const pending = new Map(); // runId → { t0, got: Map(dashboard → at), done }
  const early = new Map(); // runId → [at per dashboard] received before the trigger answered
  const streams = [];
  for (let d = 0; d < dashboards; d++) {
    streams.push(
      await openStream(base, (c, at) => {
        if (c.kind !== "run" || c.state !== "PENDING") return;
        const p = pending.get(c.runId);
        if (p) p.seen(d, at);
        else {
          if (!early.has(c.runId)) early.set(c.runId, []);
          early.get(c.runId).push([d, at]);
        }
      }),
    );
  }
  await sleep(200);
  const latencies = [];
  let missing = 0;
  for (let i = 0; i < warmup + trials; i++) {
    const t0 = nowMs();
    const got = new Map();
    let resolveAll;
    const all = new Promise((r) => (resolveAll = r));
    const entry = {
      seen(d, at) {
        if (!got.has(d)) got.set(d, at);
        if (got.size === dashboards) resolveAll();
      },
    };
    const run = await api.trigger(flow.id);
    pending.set(run.id, entry);
    for (const [d, at] of early.get(run.id) ?? []) entry.seen(d, at);
    early.delete(run.id);
    await Promise.race([all, sleep(5000)]);
    pending.delete(run.id);
    if (got.size < dashboards) missing += dashboards - got.size;
    if (i >= warmup) for (const at of got.values()) latencies.push(at - t0);
    await sleep(gapMs);
  }
  for (const s of streams) s.close();
  api.agent.destroy();
  return { dashboards, trials, latencies, missing };
}

export async function main(args = {}) {
  const dashboards = args.dashboards ?? 50;
  const trials = args.trials ?? 100;
  const server = await startServer({});
  try {
    const r = await measureSse(server.url, { dashboards, trials });
    return {
      id: "sse",
      title: "Live updates over SSE",
      command: commandOf("sse.mjs", `--dashboards ${dashboards} --trials ${trials}`),
      figures: [
        latencyFigure({
          what: `live updates: a change → its SSE event received by ${dashboards} connected dashboards`,
          samples: r.latencies,
          goal: { p99: 100 },
          note: `change = POST /api/flows/{id}/runs; ${r.latencies.length} receipts (${trials} changes × ${dashboards} dashboards), ${r.missing} missed`,
        }),
      ],
      details: { latencies: summarize(r.latencies), missing: r.missing, serverRssMb: Math.round(server.rss().rss) },
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
