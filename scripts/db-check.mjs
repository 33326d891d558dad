#!/usr/bin/env node
// Fails when a dialect's schema and its migrations disagree (SQLite: db/schema.ts ↔
// db/migrations; PostgreSQL: db/pg/schema.ts ↔ db/pg-migrations): regenerates into a scratch
// copy of each migrations folder and checks that drizzle-kit found nothing new to write.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const DIALECTS = [
  { dialect: "sqlite", schema: "./db/schema.ts", migrations: "db/migrations", generate: "npm run db:generate" },
  { dialect: "postgresql", schema: "./db/pg/schema.ts", migrations: "db/pg-migrations", generate: "npm run db:generate:pg" },
];
const list = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();

function check({ dialect, schema, migrations, generate }) {
  // drizzle-kit resolves `out` relative to the project, so the scratch copy lives inside it.
  const rel = path.join(".tmp", `dbcheck-${process.pid}-${dialect}`, "migrations");
  const tmp = path.join(root, ".tmp", `dbcheck-${process.pid}-${dialect}`);
  const out = path.join(root, rel);
  const config = path.join(root, `.drizzle-check-${process.pid}-${dialect}.config.ts`);
  fs.cpSync(path.join(root, migrations), out, { recursive: true });
  fs.writeFileSync(
    config,
    `import { defineConfig } from "drizzle-kit";\nexport default defineConfig({ dialect: ${JSON.stringify(dialect)}, schema: ${JSON.stringify(schema)}, out: ${JSON.stringify("./" + rel)} });\n`,
  );
  try {
    const before = list(out);
    let log;
    try {
      log = execFileSync(path.join(root, "node_modules", ".bin", "drizzle-kit"), ["generate", "--config", config], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      console.error(`db:check FAILED (${dialect}): drizzle-kit failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
      return false;
    }
    const added = list(out).filter((f) => !before.includes(f));
    if (added.length) {
      console.error(`db:check FAILED (${dialect}): ${schema} has changes with no migration (drizzle-kit would write ${added.join(", ")}).`);
      console.error(`Run \`${generate}\` and commit ${migrations}.`);
      return false;
    }
    // drizzle-kit exits 0 on some failures: insist on its explicit "nothing to do".
    if (!/No schema changes/i.test(log)) {
      console.error(`db:check FAILED (${dialect}): drizzle-kit did not run cleanly:\n` + log);
      return false;
    }
    console.log(`db:check ok (${dialect}): ${before.length} migration(s) match ${schema}`);
    return true;
  } finally {
    fs.rmSync(config, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

let ok = true;
for (const d of DIALECTS) ok = check(d) && ok;
if (!ok) process.exitCode = 1;
