#!/usr/bin/env node
/**
 * Live updates in a real page: headless Chromium shows /runs/{id} of a RUNNING run; the run
 * completes (a worker's events request, sent from inside the page so both ends of the
 * measurement use the page's clock) and the time until the header's state badge shows
 * COMPLETED in a painted frame (MutationObserver, then the next requestAnimationFrame) is taken.
 *
 *   node bench/live-ui.mjs [--trials 40]
 *
 * Needs /usr/bin/chromium and the run page (components/runs/run-header.tsx: data-testid="run-state").
 */
import fs from "node:fs";
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, pendingFigure, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";
import { sleep, summarize } from "./lib/stats.mjs";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const LIVE_FLOW = { name: "Bench Live Page", description: "", tags: { team: "bench" }, tasks: [{ name: "work", estimatedTime: 60_000 }, { name: "tail", estimatedTime: 1000 }], parameters: [] };

const GOAL = "p50 ≤ 100 ms, p99 ≤ 250 ms";

/** The core: per-trial latencies from the events request leaving the page to the painted badge. */
export async function measureLiveUi(base, { trials = 40, warmup = 3, clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token } = {}) {
  const { chromium } = await import("@playwright/test");
  const api = apiClient(base, { clientId, token });
  const reg = await api.register([LIVE_FLOW]);
  const flowId = reg.flows[0].id;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const latencies = [];
  try {
    const page = await browser.newPage();
    for (let i = 0; i < warmup + trials; i++) {
      const run = await api.trigger(flowId);
      const [claimed] = (await api.poll(reg.workerId, 1, 0)).runs;
      if (claimed?.id !== run.id) throw new Error(`expected to claim run ${run.id}, got ${claimed?.id}`);
      const started = await api.events(reg.workerId, run.id, [{ seq: 1, type: "task_started", call: 0, task: "work", attempt: 1 }]);
      if (started.status !== 200) throw new Error(`task_started: HTTP ${started.status}`);
      const stream = page.waitForResponse((r) => r.url().endsWith("/api/events"), { timeout: 30_000 });
      await page.goto(`${base}/runs/${run.id}`);
      await stream;
      await page.waitForSelector('[data-testid="run-state"][data-state="RUNNING"]', { timeout: 30_000 });
      await sleep(250); // let the page settle (first fetches, hydration) before the change
      const ms = await page.evaluate(
        async ({ url, body, auth }) => {
          const visible = new Promise((resolve) => {
            const done = () => document.querySelector('[data-testid="run-state"]')?.getAttribute("data-state") === "COMPLETED";
            const obs = new MutationObserver(() => {
              if (!done()) return;
              obs.disconnect();
              requestAnimationFrame(() => resolve(performance.now()));
            });
            obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
          });
          const t0 = performance.now();
          const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: auth }, body });
          if (!res.ok) throw new Error(`events: HTTP ${res.status}`);
          const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("not visible within 10 s")), 10_000));
          return (await Promise.race([visible, timeout])) - t0;
        },
        {
          url: `/api/worker/${clientId}/runs/${run.id}/events`,
          auth: `Bearer ${token}`,
          body: JSON.stringify({
            workerId: reg.workerId,
            events: [
              { seq: 2, type: "task_completed", call: 0, durationMs: 5 },
              { seq: 3, type: "run_completed" },
            ],
          }),
        },
      );
      if (i >= warmup) latencies.push(ms);
    }
  } finally {
    await browser.close();
    api.agent.destroy();
  }
  return { latencies };
}

export async function main(args = {}) {
  const trials = args.trials ?? 40;
  const what = "live updates in a real page: a change → visible in Chromium";
  if (!fs.existsSync(CHROMIUM)) {
    return { id: "live-ui", title: "Live updates in Chromium", command: commandOf("live-ui.mjs"), figures: [pendingFigure({ what, goal: GOAL, reason: `${CHROMIUM} is missing` })] };
  }
  const server = await startServer({});
  try {
    const probe = await apiClient(server.url).raw("GET", "/runs/1");
    if (probe.status === 404 && !/run/i.test(String(probe.body))) {
      return { id: "live-ui", title: "Live updates in Chromium", command: commandOf("live-ui.mjs"), figures: [pendingFigure({ what, goal: GOAL, reason: "the run page /runs/{id} does not exist yet" })] };
    }
    const r = await measureLiveUi(server.url, { trials });
    return {
      id: "live-ui",
      title: "Live updates in Chromium",
      command: commandOf("live-ui.mjs", `--trials ${trials}`),
      figures: [
        latencyFigure({
          what,
          samples: r.latencies,
          goal: { median: 100, p99: 250 },
          note: "headless Chromium on /runs/{id}; change = the run completing (worker events request sent from the page); visible = the header badge shows COMPLETED in the next animation frame; includes the page's 40 ms change coalescing and its refetch of the run",
        }),
      ],
      details: { latencies: summarize(r.latencies) },
    };
  } finally {
    await server.stop();
  }
}

runCli(import.meta.url, main);
