/**
 * Throw-away PostgreSQL for vitest: `const pg = await startPostgres()` in beforeAll, `pg.stop()`
 * in afterAll. One cluster per test file (each on its own free port), so files run in parallel.
 * The implementation is plain ESM (postgres.mjs) so bench scripts and the CLI share it.
 */
export { attachPostgres, createDatabase, freePort, PG_BIN, startPostgres, type PostgresCluster } from "./postgres.mjs";
