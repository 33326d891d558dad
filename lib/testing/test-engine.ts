/** A real engine on a fresh in-memory SQLite with a controlled clock, for tests and benches. */
import { openDatabase } from "../../db/client";
import { ClientRegistry, parseClientsFile } from "../clients-file";
import { InProcessChangeFeed } from "../engine/change-feed";
import { ManualClock, type Clock } from "../engine/clock";
import { InProcessRunNotifier } from "../engine/dispatch";
import { Engine } from "../engine/engine";
import type { Sensitivity } from "../domain/states";
import { SqliteStore } from "../queries/sqlite-store";

export const TEST_CLIENTS = [
  { id: "acme", name: "Acme ETL", performanceSensitivity: "normal" as Sensitivity, token: "acme-token" },
  { id: "other", name: "Other Team", performanceSensitivity: "aggressive" as Sensitivity, token: "other-token" },
];

export function createTestEngine(opts: { file?: string; clock?: Clock; heartbeatTimeoutMs?: number; longPollMs?: number; clients?: typeof TEST_CLIENTS } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const db = openDatabase(opts.file ?? ":memory:");
  const engine = new Engine({
    store: new SqliteStore(db),
    clock,
    notifier: new InProcessRunNotifier(),
    feed: new InProcessChangeFeed(),
    clients: new ClientRegistry(parseClientsFile(JSON.stringify({ clients: opts.clients ?? TEST_CLIENTS }), "test")),
    config: { heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 15_000, longPollMs: opts.longPollMs ?? 25_000 },
  });
  return { engine, db, clock };
}
