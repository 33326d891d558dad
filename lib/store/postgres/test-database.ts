/**
 * Fresh PostgreSQL databases for tests: one throw-away cluster per test file, one migrated
 * template database, and a copy of it per test (CREATE DATABASE … TEMPLATE is a file copy: far
 * faster than migrating each time).
 */
import pg from "pg";
import { startPostgres, type PostgresCluster } from "../../../test/support/postgres";
import { migratePostgres } from "./migrate";
import { createPgPool } from "./pool";

export interface TestDatabases {
  cluster: PostgresCluster;
  /** A new, empty, migrated database; returns its url. */
  fresh(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestDatabases(): Promise<TestDatabases> {
  const cluster = await startPostgres();
  const template = await cluster.createDatabase("perfect_template");
  const pool = createPgPool(template, 2);
  await migratePostgres(pool);
  await pool.end();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  let n = 0;
  return {
    cluster,
    async fresh() {
      const name = `perfect_t${++n}`;
      await admin.query(`CREATE DATABASE ${name} TEMPLATE perfect_template`);
      return cluster.url.replace(/\/perfect$/, `/${name}`);
    },
    async stop() {
      await admin.end().catch(() => {});
      await cluster.stop();
    },
  };
}
