/**
 * The PostgreSQL backend: a pool, the schema migrated (db/pg-migrations), the store, and the
 * notifier and change feed sharing this instance's one LISTEN connection.
 */
import type { Backend } from "../store";
import { migratePostgres } from "./migrate";
import { PgChangeFeed, PgListener, PgNotifier } from "./notify";
import { PostgresStore } from "./pg-store";
import { createPgPool } from "./pool";

export { PgChangeFeed, PgListener, PgNotifier } from "./notify";
export { PostgresStore } from "./pg-store";

export interface PostgresBackend extends Backend {
  store: PostgresStore;
  notifier: PgNotifier;
  feed: PgChangeFeed;
  listener: PgListener;
}

export async function openPostgresBackend(url: string, opts: { poolSize?: number; migrationsFolder?: string } = {}): Promise<PostgresBackend> {
  const pool = createPgPool(url, opts.poolSize);
  const listener = new PgListener(url, { log: (m) => console.error(m) });
  try {
    await migratePostgres(pool, opts.migrationsFolder);
    await listener.start();
  } catch (e) {
    await listener.close();
    await pool.end().catch(() => {});
    throw e;
  }
  const store = new PostgresStore(pool);
  const notifier = new PgNotifier(pool, listener);
  const feed = new PgChangeFeed(pool, listener);
  let closing: Promise<void> | null = null;
  return {
    store,
    notifier,
    feed,
    listener,
    close() {
      closing ??= (async () => {
        notifier.close();
        feed.close();
        await listener.close();
        await store.close();
      })();
      return closing;
    },
  };
}
