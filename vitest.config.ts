import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["lib/**/*.test.ts"],
    // The reliability suite needs the production build and real processes: its own step.
    exclude: ["lib/__tests__/reliability/**", "node_modules/**"],
    environment: "node",
    // Never let a test fall back to the app's own database file.
    env: { PERFECT_DB_PATH: ":memory:", PERFECT_CLIENTS_FILE: "clients.json" },
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
