#!/usr/bin/env node
// npm test's "python:postgres" step: the Python SDK's end-to-end tests against the real server
// on PostgreSQL. Starts a throw-away cluster (test/support/postgres.mjs), runs the server e2e
// modules (test_*e2e.py: the server, CLI, direct-run and Prefect-shim ones) with PERFECT_TEST_PG_PORT set (each test's server gets a database of its own on it),
// stops the cluster, and exits with unittest's status. Extra arguments go to unittest.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPostgres } from "../test/support/postgres.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cluster = await startPostgres();
let code = 1;
try {
  code = await new Promise((resolve) => {
    const child = spawn("python3", ["-m", "unittest", "discover", "-s", "tests", "-p", "test_*e2e.py", "-v", ...process.argv.slice(2)], {
      cwd: path.join(root, "sdk-python"),
      env: { ...process.env, PERFECT_TEST_PG_PORT: String(cluster.port) },
      stdio: "inherit",
    });
    child.on("close", (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    child.on("error", () => resolve(1));
    for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => child.kill(sig));
  });
} finally {
  await cluster.stop();
}
process.exit(code);
