// Every page of the dashboard, in one table: the accessibility spec (e2e/accessibility.spec.ts)
// opens each one with content and runs axe on it; bench/first-visit.mjs times each one's first
// visit. A new page is one more row. `path` may hold {run} (a finished run's id) and {flow} (a
// flow's id); `ready` is the element whose appearance means the page's main content is shown.
// Plain ESM without import.meta: Playwright's loader turns an imported .mjs into CommonJS.

/** `empty`: what the page shows instead when the server has none of that content (bench servers have no alerts.json). */
/** @type {{ name: string, path: string, ready: string, empty?: string }[]} */
export const EVERY_PAGE = [
  { name: "flows", path: "/", ready: '[data-testid="flow-card"]' },
  { name: "history", path: "/runs", ready: '[data-testid="history-row"]' },
  { name: "run", path: "/runs/{run}", ready: '[data-testid="task-row"]' },
  { name: "flow", path: "/flows/{flow}", ready: '[data-testid="flow-summary"][data-loaded="true"]' },
  { name: "clients", path: "/clients", ready: '[data-testid="client-row"]' },
  { name: "statistics", path: "/stats", ready: '[data-testid="stats-row"]' },
  { name: "concurrency", path: "/concurrency", ready: '[data-testid="concurrency-limits"]' },
  { name: "alerts", path: "/alerts", ready: '[data-testid="alert-rules"]', empty: '[data-testid="alerts-no-rules"]' },
  { name: "login", path: "/login", ready: '[data-testid="login-username"]' },
  { name: "setup", path: "/setup", ready: '[data-testid="setup-username"]' },
  { name: "users", path: "/admin/users", ready: '[data-testid="users-table"]' },
  { name: "tokens", path: "/admin/tokens", ready: '[data-testid="tokens-table"]' },
];

/** The page's URL path with its ids filled in. */
export function pagePath(page, ids) {
  return page.path.replace("{run}", encodeURIComponent(ids.run)).replace("{flow}", encodeURIComponent(ids.flow));
}
