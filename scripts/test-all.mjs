#!/usr/bin/env node
// `npm test`: every suite, in dependency order, then one closing line "N passed, N failed".
// Steps: schema/migration check, types, ESLint, vitest (unit + route integration), production build,
// reliability under faults (real processes), on SQLite and PostgreSQL, Python SDK unittest
// (including its end-to-end tests against the built server, again on PostgreSQL), Playwright
// (again on PostgreSQL, with two instances).
// Every step runs even when an earlier one failed, so one run shows everything that is red.
import { spawn } from "node:child_process";

const skipBuild = process.env.PERFECT_SKIP_BUILD === "1";
const only = process.env.PERFECT_TEST_ONLY?.split(",");

const steps = [
  { name: "db:check", cmd: "node", args: ["scripts/db-check.mjs"], count: "step" },
  { name: "typecheck", cmd: "node_modules/.bin/tsc", args: ["--noEmit", "-p", "."], count: "step" },
  { name: "lint", cmd: "node_modules/.bin/eslint", args: ["."], count: "step" },
  { name: "vitest", cmd: "node_modules/.bin/vitest", args: ["run"], count: "vitest" },
  ...(skipBuild ? [] : [{ name: "build", cmd: "node_modules/.bin/next", args: ["build"], count: "step" }]),
  { name: "reliability", cmd: "node_modules/.bin/vitest", args: ["run", "-c", "vitest.reliability.config.ts"], count: "vitest" },
  // The same real-process suites on PostgreSQL (a throw-away cluster, a database per server),
  // plus two instances sharing one database.
  {
    name: "reliability:postgres",
    cmd: "node_modules/.bin/vitest",
    args: ["run", "-c", "vitest.reliability.config.ts", "lib/__tests__/reliability/fleet-workers.test.ts", "lib/__tests__/reliability/python-workers.test.ts", "lib/__tests__/reliability/multi-instance.test.ts", "lib/__tests__/reliability/schedules-process.test.ts", "lib/__tests__/reliability/concurrency.test.ts", "lib/__tests__/reliability/alerts-process.test.ts"],
    env: { PERFECT_TEST_BACKEND: "postgres" },
    count: "vitest",
  },
  { name: "python", cmd: "python3", args: ["-m", "unittest", "discover", "-s", "tests", "-v"], cwd: "sdk-python", count: "unittest" },
  // The SDK's end-to-end tests against the server on PostgreSQL (a throw-away cluster).
  { name: "python:postgres", cmd: "node", args: ["scripts/python-postgres.mjs"], count: "unittest" },
  { name: "e2e", cmd: "node_modules/.bin/playwright", args: ["test"], count: "playwright" },
  // The Playwright suite on PostgreSQL, with a second instance on the same database.
  { name: "e2e:postgres", cmd: "node_modules/.bin/playwright", args: ["test"], env: { PERFECT_TEST_BACKEND: "postgres" }, count: "playwright" },
].filter((s) => !only || only.includes(s.name));

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

function run(step) {
  return new Promise((resolve) => {
    console.log(`\n=== ${step.name}: ${step.cmd} ${step.args.join(" ")}`);
    const child = spawn(step.cmd, step.args, { cwd: step.cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...step.env } });
    let out = "";
    const keep = (chunk, stream) => {
      stream.write(chunk);
      out += chunk.toString();
      if (out.length > 4_000_000) out = out.slice(-2_000_000);
    };
    child.stdout.on("data", (c) => keep(c, process.stdout));
    child.stderr.on("data", (c) => keep(c, process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, out: strip(out) }));
    child.on("error", (e) => resolve({ code: 1, out: String(e) }));
  });
}

function count(kind, code, out) {
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1]) : 0;
  };
  if (kind === "vitest") {
    const line = out.split("\n").reverse().find((l) => /^\s*Tests\s/.test(l)) ?? "";
    return { passed: Number(line.match(/(\d+) passed/)?.[1] ?? 0), failed: Number(line.match(/(\d+) failed/)?.[1] ?? 0) };
  }
  if (kind === "unittest") {
    const ran = num(/Ran (\d+) tests?/);
    const failed = num(/failures=(\d+)/) + num(/errors=(\d+)/);
    return { passed: ran - failed - num(/skipped=(\d+)/), failed };
  }
  if (kind === "playwright") {
    return { passed: num(/(\d+) passed/), failed: num(/(\d+) failed/) + num(/(\d+) flaky/) };
  }
  return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
}

let passed = 0;
let failed = 0;
const red = [];
for (const step of steps) {
  const { code, out } = await run(step);
  let c = count(step.count, code, out);
  // A runner that exits non-zero without reporting a failure (crash, no tests) still fails.
  if (code !== 0 && c.failed === 0) c = { passed: c.passed, failed: 1 };
  if (code === 0 && c.passed === 0 && step.count !== "step") c = { passed: 0, failed: 1 };
  passed += c.passed;
  failed += c.failed;
  if (c.failed) red.push(step.name);
  console.log(`=== ${step.name}: ${c.passed} passed, ${c.failed} failed (exit ${code})`);
}
if (red.length) console.log(`\nfailed steps: ${red.join(", ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
