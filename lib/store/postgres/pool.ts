import pg from "pg";
import { PG_TYPES } from "./pg-store";

/**
 * The pool of one instance. Idle clients that lose their server (a PostgreSQL restart) emit
 * 'error' on the pool: logged, never thrown (an unhandled 'error' would end the process); the
 * pool replaces them on the next checkout.
 */
export function createPgPool(url: string, max = Number(process.env.PERFECT_PG_POOL_MAX ?? 20)): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types: PG_TYPES, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
  pool.on("error", (e) => console.error(`[perfect] PostgreSQL pool: idle connection lost: ${e.message}`));
  return pool;
}
