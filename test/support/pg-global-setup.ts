/**
 * vitest globalSetup: with PERFECT_TEST_BACKEND=postgres, one throw-away PostgreSQL cluster for
 * the whole run; every ServerProcess then gets a database of its own on it.
 */
import { startPostgres, type PostgresCluster } from "./postgres.mjs";

let cluster: PostgresCluster | null = null;

export async function setup(): Promise<void> {
  if (process.env.PERFECT_TEST_BACKEND !== "postgres") return;
  cluster = await startPostgres();
  process.env.PERFECT_TEST_PG_PORT = String(cluster.port);
  // Tests that restart the cluster mid-run attach to it by its folder (attachPostgres).
  process.env.PERFECT_TEST_PG_DIR = cluster.dir;
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
