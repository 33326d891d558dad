/**
 * A real engine on a fresh SQLite database (in memory unless a file is given) with a controlled
 * clock, for tests and benches.
 */
import type { AlertRegistry } from "../../lib/alerts/alerts-file";
import { ClientRegistry, parseClientsFile } from "../../lib/clients-file";
import type { AlertsOptions } from "../../lib/engine/systems/alerts";
import type { Sensitivity } from "../../lib/domain/states";
import { ManualClock, type Clock } from "../../lib/engine/clock";
import { Engine } from "../../lib/engine/engine";
import { openSqliteBackend } from "../../lib/store/sqlite";
import type { Backend } from "../../lib/store/store";

export const TEST_CLIENTS = [
  { id: "acme", name: "Acme ETL", performanceSensitivity: "normal" as Sensitivity, token: "acme-token" },
  { id: "other", name: "Other Team", performanceSensitivity: "aggressive" as Sensitivity, token: "other-token" },
];

export interface TestEngineOptions {
  file?: string;
  clock?: Clock;
  heartbeatTimeoutMs?: number;
  longPollMs?: number;
  scheduleGraceMs?: number;
  clients?: typeof TEST_CLIENTS;
  /** Alert rules (none by default) and the delivery loop's timing. */
  alerts?: AlertRegistry;
  alertOptions?: Partial<AlertsOptions>;
}

export function createTestEngine(opts: TestEngineOptions = {}) {
  const backend = openSqliteBackend(opts.file ?? ":memory:");
  const { engine, clock } = engineOn(backend, opts);
  return { engine, db: backend.store.db, store: backend.store, clock };
}

/** A real engine with a controlled clock on any backend (a test's PostgreSQL database, say). */
export function engineOn(backend: Backend, opts: TestEngineOptions = {}) {
  const clock = opts.clock ?? new ManualClock();
  const engine = new Engine({
    store: backend.store,
    clock,
    notifier: backend.notifier,
    feed: backend.feed,
    clients: new ClientRegistry(parseClientsFile(JSON.stringify({ clients: opts.clients ?? TEST_CLIENTS }), "test")),
    config: { heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 15_000, longPollMs: opts.longPollMs ?? 25_000, scheduleGraceMs: opts.scheduleGraceMs ?? 30_000 },
    alerts: opts.alerts,
    alertOptions: opts.alertOptions,
  });
  return { engine, store: backend.store, clock };
}
