import { defineConfig } from "@playwright/test";

/**
 * End-to-end tests of the dashboard against the *built* app (`npm run build` first) and real
 * Python workers, all started by e2e/global-setup.ts on a free loopback port. No browser is
 * downloaded: Debian's Chromium drives the tests.
 */
export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  globalSetup: "./e2e/global-setup.ts",
  // The suite shares one server and one set of workers; state (statistics, the worker kill)
  // builds up, so tests run one at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    // Set by the global setup (the port is picked at run time); fixtures read it too.
    baseURL: process.env.PERFECT_E2E_URL,
    viewport: { width: 1280, height: 900 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    acceptDownloads: true,
    // The suite's server has no users: its home page would open to /setup; these browsers have
    // said "not now" (lib/auth/page-gate.ts). e2e/auth.spec.ts checks the first visit itself.
    storageState: {
      cookies: [{ name: "perfect_setup_later", value: "1", domain: "127.0.0.1", path: "/", expires: -1, httpOnly: false, secure: false, sameSite: "Lax" }],
      origins: [],
    },
    launchOptions: {
      executablePath: process.env.PERFECT_E2E_CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    // The multi-instance spec needs the second instance the PostgreSQL setup starts.
    { name: "dashboard", testIgnore: process.env.PERFECT_TEST_BACKEND === "postgres" ? /worker-loss\.spec\.ts/ : /(worker-loss|multi-instance)\.spec\.ts/ },
    // Kills the e2e worker for good: runs after everything else.
    { name: "worker-loss", testMatch: /worker-loss\.spec\.ts/, dependencies: ["dashboard"] },
  ],
});
