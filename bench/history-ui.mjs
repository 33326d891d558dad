#!/usr/bin/env node
/**
 * The history page at scale, in headless Chromium: on a seeded database (1,000,000 runs by
 * default) each filter's URL is opened (/runs?…) and the time from navigation start to the first
 * painted row is taken, then "load more" is clicked and the time to the next page's rows.
 *
 *   node bench/history-ui.mjs [--db seeded.db | --runs 1000000] [--reps 5]
 *
 * The issue gives no figure for it ("the history page must stay responsive with 1M runs"): the
 * figures are informational.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { BENCH_CLIENT, startServer, tempDir } from "./lib/server.mjs";
import { commandOf, latencyFigure, pendingFigure, runCli } from "./lib/figures.mjs";
import { summarize } from "./lib/stats.mjs";
import { CHROMIUM, CHROMIUM_ARGS } from "./live-ui.mjs";
import { SEED_CLIENTS, SEED_TAGS, seedDatabase } from "./seed.mjs";

export const HISTORY_PAGES = [
  { name: "no filter", q: "" },
  { name: "state", q: "state=FAILED" },
  { name: "client", q: "client=ml_platform" },
  { name: "common tag", q: `tag=${encodeURIComponent(SEED_TAGS.common)}` },
  { name: "rare tag", q: `tag=${encodeURIComponent(SEED_TAGS.rare)}` },
  { name: "combined", q: `state=FAILED&client=acme_etl&tag=${encodeURIComponent(SEED_TAGS.common)}` },
];

const ROW = '[data-testid="history-row"]';

/** The core: per page, ms from navigation start to rows painted, and to the next page's rows. */
export async function measureHistoryUi(base, { reps = 5, pages = HISTORY_PAGES } = {}) {
  const { chromium } = await import("@playwright/test");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const first = [];
  const more = [];
  const rows = {};
  try {
    const page = await browser.newPage();
    for (let rep = 0; rep <= reps; rep++) {
      for (const p of pages) {
        await page.goto(`${base}/runs${p.q ? `?${p.q}` : ""}`, { waitUntil: "commit" });
        await page.waitForSelector(ROW, { timeout: 30_000 });
        const shown = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
        const count = await page.locator(ROW).count();
        rows[p.name] = count;
        const button = page.locator('[data-testid="history-load-more"]');
        let next = null;
        if (await button.count()) {
          next = await page.evaluate(
            ({ row, before }) =>
              new Promise((resolve, reject) => {
                const t0 = performance.now();
                const obs = new MutationObserver(() => {
                  if (document.querySelectorAll(row).length <= before) return;
                  obs.disconnect();
                  requestAnimationFrame(() => resolve(performance.now() - t0));
                });
                obs.observe(document.body, { subtree: true, childList: true });
                document.querySelector('[data-testid="history-load-more"]').click();
                setTimeout(() => reject(new Error("no more rows within 10 s")), 10_000);
              }),
            { row: ROW, before: count },
          );
        }
        if (rep > 0) {
          first.push({ name: p.name, ms: shown });
          if (next !== null) more.push({ name: p.name, ms: next });
        }
      }
    }
  } finally {
    await browser.close();
  }
  return { first, more, rows };
}

export async function main(args = {}) {
  const reps = args.reps ?? 5;
  const what = "the history page in Chromium (navigation → first rows painted; load more → next rows)";
  if (!fs.existsSync(CHROMIUM)) {
    return { id: "history-ui", title: "History page in Chromium", command: commandOf("history-ui.mjs"), figures: [pendingFigure({ what, goal: "informational", reason: `${CHROMIUM} is missing` })] };
  }
  const dir = tempDir();
  let dbPath = args.db;
  if (!dbPath) {
    dbPath = path.join(dir, "seeded.db");
    seedDatabase(dbPath, { runs: args.runs ?? 1_000_000, log: (m) => console.error(`[seed] ${m}`) });
  }
  const counted = new Database(dbPath, { readonly: true });
  const runs = counted.prepare("SELECT count(*) FROM runs").pluck().get();
  counted.close();
  const server = await startServer({ dir, dbPath, clients: [...SEED_CLIENTS, BENCH_CLIENT] });
  try {
    const r = await measureHistoryUi(server.url, { reps });
    const per = HISTORY_PAGES.map((p) => {
      const f = r.first.filter((x) => x.name === p.name).map((x) => x.ms);
      const m = r.more.filter((x) => x.name === p.name).map((x) => x.ms);
      return { name: `${p.name} (/runs${p.q ? `?${decodeURIComponent(p.q)}` : ""})`, rows: r.rows[p.name], median: summarize(f).median, p99: summarize(f).p99, moreMedian: summarize(m).median };
    });
    const info = (f) => ({ ...f, goal: "informational (must stay responsive)", met: null, kind: "info" });
    return {
      id: "history-ui",
      title: "History page in Chromium",
      command: args.db ? `node bench/seed.mjs /tmp/seeded.db --runs ${runs} && node bench/history-ui.mjs --db /tmp/seeded.db --reps ${reps}` : commandOf("history-ui.mjs", `--runs ${runs} --reps ${reps}`),
      figures: [
        info(latencyFigure({
          what: `history page with ${runs.toLocaleString("en-US")} runs in Chromium: navigation → first 50 rows painted`,
          samples: r.first.map((x) => x.ms),
          goal: { p99: Infinity },
          note: `${HISTORY_PAGES.length} filter URLs × ${reps}, headless Chromium, timed from the page's navigation start (includes the server render, hydration and the first /api/runs fetch)`,
        })),
        info(latencyFigure({
          what: `history page with ${runs.toLocaleString("en-US")} runs in Chromium: "load more" → next 50 rows painted`,
          samples: r.more.map((x) => x.ms),
          goal: { p99: Infinity },
        })),
      ],
      perQuery: per.map((p) => ({ name: p.name, rows: p.rows, median: p.median, p99: p.p99 })),
      details: { perPage: per },
    };
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runCli(import.meta.url, main);
