#!/usr/bin/env node
// Fails when db/schema.ts and db/migrations disagree: regenerates into a scratch copy of the
// migrations folder and checks that drizzle-kit found nothing new to write.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
// drizzle-kit resolves `out` relative to the project, so the scratch copy lives inside it.
const rel = path.join(".tmp", `dbcheck-${process.pid}`, "migrations");
const tmp = path.join(root, ".tmp", `dbcheck-${process.pid}`);
const out = path.join(root, rel);
fs.cpSync(path.join(root, "db", "migrations"), out, { recursive: true });
const config = path.join(root, `.drizzle-check-${process.pid}.config.ts`);
fs.writeFileSync(
  config,
  `import { defineConfig } from "drizzle-kit";\nexport default defineConfig({ dialect: "sqlite", schema: "./db/schema.ts", out: ${JSON.stringify("./" + rel)} });\n`,
);
const list = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();
try {
  const before = list(out);
  const log = execFileSync(path.join(root, "node_modules", ".bin", "drizzle-kit"), ["generate", "--config", config], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  // drizzle-kit exits 0 on some failures: insist on its explicit "nothing to do" or a new file.
  if (!/No schema changes/i.test(log) && list(out).length === before.length) {
    console.error("db:check FAILED: drizzle-kit did not run cleanly:\n" + log);
    process.exitCode = 1;
  }
  const added = list(out).filter((f) => !before.includes(f));
  if (added.length) {
    console.error(`db:check FAILED: db/schema.ts has changes with no migration (drizzle-kit would write ${added.join(", ")}).`);
    console.error("Run `npm run db:generate` and commit db/migrations.");
    process.exitCode = 1;
  } else if (!process.exitCode) {
    console.log(`db:check ok: ${before.length} migration(s) match db/schema.ts`);
  }
} finally {
  fs.rmSync(config, { force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
}
