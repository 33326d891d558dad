import path from "node:path";
import { defineConfig } from "vitest/config";

/** Real processes (the built server, Python workers, Chromium): run after `next build`. */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    // Plus the benchmark smoke: it drives the built app and Chromium too (correctness only).
    include: ["lib/__tests__/reliability/**/*.test.ts", "bench/**/*.test.ts"],
    environment: "node",
    // With PERFECT_TEST_BACKEND=postgres: one PostgreSQL cluster for the run (test/support).
    globalSetup: ["test/support/pg-global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
