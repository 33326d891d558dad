/**
 * Applies db/pg-migrations (drizzle-kit's, from db/pg/schema.ts) with drizzle's node-postgres
 * migrator. Several instances may start at once on one database: a session advisory lock makes
 * them take turns, so each migration runs once.
 */
import path from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type pg from "pg";

/** Any 64-bit number of our own: the key of the migration lock. */
const MIGRATION_LOCK = 7_301_955_225;

export function pgMigrationsFolder(): string {
  return path.join(process.cwd(), "db", "pg-migrations");
}

export async function migratePostgres(pool: pg.Pool, migrationsFolder = pgMigrationsFolder()): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
