#!/usr/bin/env node
/**
 * First visit of every page (issue 20: "every page answers in well under a second on its first
 * visit"; goal ≤ 1 s to first content). Each round starts a fresh `next start` of the built app
 * on a fresh folder holding a copy of a small seeded SQLite history (bench/seed.mjs: flows of
 * several clients, runs with task runs and logs), plus one concurrency limit set through the API.
 * Then, page by page (the table in e2e/support/every-page.mjs), a NEW browser context makes its
 * first navigation, so each page is the first visit of that server and of that browser profile:
 *   - navigation start → first contentful paint (the PerformancePaintTiming entry), and
 *   - navigation start → the page's main content visible (its data-testid; one frame later).
 * For contrast, an info row: the same first visit of one or two pages against `next dev`
 * (compiles each page on its first request), when --dev is given.
 *
 *   node bench/first-visit.mjs [--rounds 5] [--runs 200] [--dev 1] [--dev-pages /,/runs]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { EVERY_PAGE, pagePath } from "../e2e/support/every-page.mjs";
import { commandOf, latencyFigure, pendingFigure, runCli } from "./lib/figures.mjs";
import { APP_DIR, BENCH_CLIENT, freePort, startServer, tempDir } from "./lib/server.mjs";
import { sleep, summarize } from "./lib/stats.mjs";
import { CHROMIUM, CHROMIUM_ARGS } from "./live-ui.mjs";
import { SEED_CLIENTS, seedDatabase } from "./seed.mjs";

const GOAL_MS = 1000;
const CONCURRENCY_KEY = "bench-first-visit";

/** A finished run and a flow of the seeded file, for /runs/{run} and /flows/{flow}. */
function idsOf(dbPath) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const run = db.prepare("SELECT r.id, r.flow_id FROM runs r WHERE r.state = 'COMPLETED' AND EXISTS (SELECT 1 FROM task_runs t WHERE t.run_id = r.id) ORDER BY r.created_at DESC LIMIT 1").get();
    return { run: run.id, flow: run.flow_id };
  } finally {
    db.close();
  }
}

/**
 * One page's first visit in a new context: ms from navigation start to the first contentful
 * paint and to the main content shown. The context says "not now" to the setup page like a
 * browser that has seen it once (otherwise / opens to /setup on a server without users).
 */
export async function firstVisit(browser, base, page, ids) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    storageState: { cookies: [{ name: "perfect_setup_later", value: "1", domain: new URL(base).hostname, path: "/", expires: -1, httpOnly: false, secure: false, sameSite: "Lax" }], origins: [] },
  });
  try {
    const tab = await context.newPage();
    const ready = page.empty ? `${page.ready}, ${page.empty}` : page.ready;
    await tab.goto(`${base}${pagePath(page, ids)}`, { waitUntil: "commit", timeout: 120_000 });
    await tab.waitForSelector(ready, { state: "visible", timeout: 120_000 });
    const content = await tab.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
    const fcp = await tab.evaluate(
      () =>
        new Promise((resolve) => {
          const entry = () => performance.getEntriesByName("first-contentful-paint")[0];
          if (entry()) return resolve(entry().startTime);
          new PerformanceObserver((l) => resolve(l.getEntries()[0].startTime)).observe({ type: "paint", buffered: true });
          setTimeout(() => resolve(entry()?.startTime ?? null), 5000);
        }),
    );
    return { fcp, content };
  } finally {
    await context.close();
  }
}

async function putLimit(base) {
  const r = await fetch(`${base}/api/concurrency-limits/${CONCURRENCY_KEY}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ limit: 3 }) });
  if (!r.ok) throw new Error(`could not set a concurrency limit: HTTP ${r.status} ${await r.text()}`);
}

/** `next dev` of the app on a copy of the seeded file; resolves when /api/health answers. */
async function startDev(seeded, clientsFile) {
  const dir = tempDir("perfect-bench-dev-");
  const dbPath = path.join(dir, "perfect.db");
  fs.copyFileSync(seeded, dbPath);
  const port = await freePort();
  const child = spawn(path.join(APP_DIR, "node_modules", ".bin", "next"), ["dev", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: APP_DIR,
    env: { ...process.env, PERFECT_DB_PATH: dbPath, PERFECT_CLIENTS_FILE: clientsFile, NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "ignore", "ignore"],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  while (Date.now() - t0 < 180_000) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) return { url, stop };
    } catch {
      /* not yet */
    }
    await sleep(500);
  }
  await stop();
  throw new Error("next dev did not answer /api/health within 180 s");
}

export async function main(args = {}) {
  const rounds = Number(args.rounds ?? 5);
  const runs = Number(args.runs ?? 200);
  const what = "first visit of every page";
  if (!fs.existsSync(CHROMIUM)) {
    return { id: "first-visit", title: "First visit of every page", command: commandOf("first-visit.mjs"), figures: [pendingFigure({ what, goal: `≤ ${GOAL_MS} ms`, reason: `${CHROMIUM} is missing` })] };
  }
  const work = tempDir("perfect-bench-fv-");
  const seeded = path.join(work, "seeded.db");
  seedDatabase(seeded, { runs, log: (m) => console.error(`[seed] ${m}`) });
  const ids = idsOf(seeded);
  const clients = [...SEED_CLIENTS, BENCH_CLIENT];
  const { chromium } = await import("@playwright/test");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  /** @type {Record<string, { fcp: number[], content: number[] }>} */
  const per = Object.fromEntries(EVERY_PAGE.map((p) => [p.name, { fcp: [], content: [] }]));
  const dev = {};
  try {
    for (let round = 0; round < rounds; round++) {
      const dir = tempDir("perfect-bench-fv-round-");
      const dbPath = path.join(dir, "perfect.db");
      fs.copyFileSync(seeded, dbPath);
      const server = await startServer({ dir, dbPath, clients });
      try {
        await putLimit(server.url);
        for (const p of EVERY_PAGE) {
          const t = await firstVisit(browser, server.url, p, ids);
          if (t.fcp !== null) per[p.name].fcp.push(t.fcp);
          per[p.name].content.push(t.content);
          console.error(`[first-visit] round ${round + 1}/${rounds} ${p.path}: FCP ${t.fcp?.toFixed(0)} ms, content ${t.content.toFixed(0)} ms`);
        }
      } finally {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    if (args.dev) {
      const devPages = String(args.devPages ?? "/,/runs").split(",");
      const clientsFile = path.join(work, "clients.json");
      fs.writeFileSync(clientsFile, JSON.stringify({ clients }, null, 2));
      const server = await startDev(seeded, clientsFile);
      try {
        for (const pth of devPages) {
          const p = EVERY_PAGE.find((x) => x.path === pth);
          if (!p) throw new Error(`--dev-pages: no page ${pth} in e2e/support/every-page.mjs`);
          const t = await firstVisit(browser, server.url, p, ids);
          dev[p.name] = t;
          console.error(`[first-visit] next dev ${p.path}: FCP ${t.fcp?.toFixed(0)} ms, content ${t.content.toFixed(0)} ms`);
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await browser.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const figures = [];
  for (const p of EVERY_PAGE) {
    figures.push(
      latencyFigure({
        what: `first visit of ${p.path} (${p.name}), fresh server and browser context: navigation → main content visible`,
        samples: per[p.name].content,
        goal: { p99: GOAL_MS },
        note: `next start, ${rounds} rounds (a new server each), ${runs} seeded runs; content = ${p.ready}${p.empty ? ` (or ${p.empty})` : ""}; FCP median ${Math.round(summarize(per[p.name].fcp).median)} ms`,
      }),
    );
  }
  const allFcp = EVERY_PAGE.flatMap((p) => per[p.name].fcp);
  figures.push(latencyFigure({ what: "first visit of every page: navigation → first contentful paint", samples: allFcp, goal: { p99: GOAL_MS }, note: `${EVERY_PAGE.length} pages × ${rounds} rounds` }));
  for (const [name, t] of Object.entries(dev)) {
    const p = EVERY_PAGE.find((x) => x.name === name);
    figures.push({
      ...latencyFigure({ what: `for contrast: first visit of ${p.path} against next dev (page compiled on its first request): navigation → main content visible`, samples: [t.content], goal: { p99: Infinity }, note: `one visit; FCP ${Math.round(t.fcp ?? NaN)} ms` }),
      goal: "informational",
      met: null,
      kind: "info",
    });
  }
  return {
    id: "first-visit",
    title: "First visit of every page",
    command: commandOf("first-visit.mjs", `--rounds ${rounds} --runs ${runs}${args.dev ? " --dev 1" : ""}`),
    figures,
    details: {
      ids,
      perPage: EVERY_PAGE.map((p) => ({ page: p.path, fcp: summarize(per[p.name].fcp), content: summarize(per[p.name].content) })),
      dev,
    },
  };
}

runCli(import.meta.url, main);
