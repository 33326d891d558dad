/** The embedded backend: one SQLite file, wake-ups and changes in this process. */
import { InProcessChangeFeed } from "../in-process-feed";
import { InProcessRunNotifier } from "../in-process-notifier";
import type { Backend } from "../store";
import { createSqliteStore, openSqliteStore, type SqliteStore } from "./sqlite-store";

export { createSqliteStore, openSqliteStore, type SqliteStore };

export function openSqliteBackend(file: string): Backend & { store: SqliteStore } {
  const store = openSqliteStore(file);
  return { store, notifier: new InProcessRunNotifier(), feed: new InProcessChangeFeed(), close: () => store.close() };
}
