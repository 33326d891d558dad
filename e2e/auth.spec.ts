/**
 * Access control in a real Chromium against a server of its own (the shared suite's server
 * must stay without users: every other spec relies on the zero-friction loopback default).
 * Setup → login → logout; a viewer sees no Run button and is refused a forged POST (403); an
 * admin creates a token in the UI and the token opens the API from a script.
 * With PERFECT_TEST_BACKEND=postgres the server runs on a throw-away PostgreSQL cluster.
 */
import path from "node:path";
import { expect, test } from "@playwright/test";
import { apiClient } from "../test/support/api-client";
import { AppServer } from "../test/support/launcher.mjs";
import { startPostgres } from "../test/support/postgres.mjs";

const ROOT = path.resolve(__dirname, "..");
const PW = "correct horse battery";
const CLIENT = { id: "auth_e2e", name: "Auth e2e", performanceSensitivity: "normal", token: "auth-e2e-token" };

let server: AppServer;
let pg: { url: string; stop(): Promise<void> } | null = null;
let flowId = "";

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  pg = process.env.PERFECT_TEST_BACKEND === "postgres" ? await startPostgres() : null;
  // Streams recheck their credential quickly here, so a session ended elsewhere shows at once.
  server = new AppServer({ appDir: process.env.PERFECT_E2E_APP_DIR ?? ROOT, clients: [CLIENT], env: { PERFECT_SSE_RECHECK_MS: "500", ...(pg ? { PERFECT_DATABASE_URL: pg.url } : {}) } });
  await server.start();
  // A flow to see and (not) run: registered over the worker protocol, no Python needed.
  const reg = await apiClient(server.url).worker(CLIENT.id, CLIENT.token).register([{ name: "Guarded flow", tasks: [{ name: "only" }], parameters: [] }]);
  expect(reg.status).toBe(200);
  flowId = reg.body.flows[0].id;
});

test.afterAll(async () => {
  await server?.stop();
  await pg?.stop();
});

async function login(page: import("@playwright/test").Page, username: string, password: string, next = "/") {
  await page.goto(`${server.url}/login?next=${encodeURIComponent(next)}`);
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
}

test("before setup the home page opens to the setup page; 'not now' keeps the dashboard without a login", async ({ browser }) => {
  // A browser that has not chosen yet (the suite's browsers carry the "not now" cookie).
  const fresh = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  try {
    const page = await fresh.newPage();
    await page.goto(server.url);
    await expect(page).toHaveURL(/\/setup$/);
    await expect(page.getByTestId("setup-submit")).toBeVisible();
    await page.getByTestId("setup-later").click();
    await expect(page).toHaveURL(`${server.url}/`);
    await expect(page.getByTestId("setup-link")).toBeVisible();
    // Chosen once: the home page opens as the dashboard from then on.
    await page.goto(server.url);
    await expect(page).toHaveURL(`${server.url}/`);
    // A deep link is served as it is, chosen or not.
    const other = await fresh.browser()!.newContext({ storageState: { cookies: [], origins: [] } });
    const deep = await other.newPage();
    await deep.goto(`${server.url}/runs`);
    await expect(deep).toHaveURL(`${server.url}/runs`);
    await other.close();
  } finally {
    await fresh.close();
  }
});

test("setup from the machine → signed in as admin → logout → pages need a login and come back after it", async ({ page }) => {
  // Before setup, from loopback, the dashboard opens without a login, offering the setup.
  await page.goto(server.url);
  await expect(page.getByTestId("trigger-button")).toBeVisible();
  await page.getByTestId("setup-link").click();
  await expect(page).toHaveURL(/\/setup$/);
  await page.getByTestId("setup-username").fill("root");
  await page.getByTestId("setup-password").fill(PW);
  await page.getByTestId("setup-confirm").fill(PW);
  await page.getByTestId("setup-submit").click();
  await expect(page.getByTestId("user-name")).toHaveText("root");
  await expect(page.getByTestId("user-role")).toHaveText("admin");
  const cookie = (await page.context().cookies()).find((c) => c.name === "perfect_session")!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });

  await page.getByTestId("logout-button").click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto(`${server.url}/runs?state=FAILED`);
  await expect(page).toHaveURL(/\/login\?next=%2Fruns%3Fstate%3DFAILED$/);
  await page.getByTestId("login-username").fill("root");
  await page.getByTestId("login-password").fill("wrong password");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("auth-error")).toHaveText("invalid username or password");
  await page.getByTestId("login-password").fill(PW);
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/runs\?state=FAILED$/);
  await expect(page.getByTestId("user-name")).toHaveText("root");

  // The same session logged out from elsewhere (another tab, a script): the open page's live
  // stream is ended by the server, its reconnect is refused, and the page goes to the login.
  const session = (await page.context().cookies()).find((c) => c.name === "perfect_session")!;
  const out = await fetch(`${server.url}/api/auth/logout`, { method: "POST", headers: { cookie: `perfect_session=${session.value}`, "content-type": "application/json" }, body: "{}" });
  expect(out.status).toBeLessThan(300);
  await expect(page).toHaveURL(/\/login\?next=%2Fruns%3Fstate%3DFAILED$/);
});

test("a viewer sees the flow but no Run button, and a forged trigger from the page is refused (403, no run)", async ({ page, request }) => {
  const admin = await request.post(`${server.url}/api/auth/login`, { data: { username: "root", password: PW } });
  expect(admin.status()).toBe(200);
  const made = await request.post(`${server.url}/api/users`, { data: { username: "vera", password: PW, role: "viewer" } });
  expect(made.status()).toBe(201);

  await login(page, "vera", PW);
  await expect(page.getByTestId("user-role")).toHaveText("viewer");
  await expect(page.getByTestId("flow-card")).toHaveCount(1);
  await expect(page.getByTestId("flow-name")).toHaveText("Guarded flow");
  await expect(page.getByTestId("trigger-button")).toHaveCount(0);
  await expect(page.getByTestId("nav-users")).toHaveCount(0);
  const forged = await page.evaluate(async (id) => {
    const r = await fetch(`/api/flows/${id}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    return r.status;
  }, flowId);
  expect(forged).toBe(403);
  const runs = await request.get(`${server.url}/api/runs`);
  expect((await runs.json()).runs).toEqual([]);
  // Concurrency limits: shown, not editable below admin.
  await page.goto(`${server.url}/concurrency`);
  await expect(page.getByTestId("concurrency-read-only")).toBeVisible();
  await expect(page.getByTestId("concurrency-form")).toHaveCount(0);
});

test("an admin creates a token in the UI; it works from a script until revoked", async ({ page }) => {
  await login(page, "root", PW);
  await page.getByTestId("nav-tokens").click();
  await expect(page).toHaveURL(/\/admin\/tokens$/);
  await page.getByTestId("token-create-name").fill("ci-script");
  await page.getByTestId("token-create-role").selectOption("operator");
  await page.getByTestId("token-create-submit").click();
  const token = (await page.getByTestId("token-value").textContent())!.trim();
  expect(token).toMatch(/^pft_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
  await expect(page.getByTestId("token-row")).toHaveCount(1);

  // As curl would: no cookie, only the bearer token.
  const bare = await fetch(`${server.url}/api/flows`);
  expect(bare.status).toBe(401);
  const withToken = await fetch(`${server.url}/api/flows`, { headers: { authorization: `Bearer ${token}` } });
  expect(withToken.status).toBe(200);
  const run = await fetch(`${server.url}/api/flows/${flowId}/runs`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
  expect(run.status).toBe(201);
  const made = await run.json();
  expect(made.triggeredBy).toBe("ci-script");

  await page.goto(`${server.url}/runs/${made.id}`);
  await expect(page.getByTestId("run-triggered-by")).toHaveText("ci-script");
  await expect(page.getByTestId("cancel-button")).toBeVisible(); // an admin may cancel
  await page.goto(`${server.url}/runs`);
  // Rows come from the client's first fetch: once shown, the page is hydrated and a typed filter
  // is not reset by hydration (under load the fill could land on the server-rendered input).
  await expect(page.getByTestId("history-row").first()).toBeVisible();
  await page.getByTestId("filter-triggered-by").fill("ci-script");
  await page.getByTestId("filter-apply").click();
  await expect(page).toHaveURL(/triggeredBy=ci-script/);
  await expect(page.getByTestId("history-row")).toHaveCount(1);
  await expect(page.getByTestId("history-triggered-by")).toHaveText("by ci-script");
  await page.getByTestId("filter-triggered-by").fill("somebody-else");
  await page.getByTestId("filter-apply").click();
  await expect(page.getByTestId("history-row")).toHaveCount(0);

  await page.goto(`${server.url}/admin/tokens`);
  await page.getByTestId("token-revoke").click();
  await expect(page.getByTestId("token-revoked")).toBeVisible();
  const revoked = await fetch(`${server.url}/api/flows`, { headers: { authorization: `Bearer ${token}` } });
  expect(revoked.status).toBe(401);
});
