/**
 * The composition root: configuration → clients file → storage backend → engine, once per
 * process. The only module that keeps the engine on globalThis (state there survives Next's
 * dev hot reload, where module-level singletons would be rebuilt and timers doubled), and the
 * only one that chooses a storage adapter: the engine imports none.
 */
import fs from "node:fs";
import { AlertRegistry, readAlertsFile, watchAlertsFile } from "./alerts/alerts-file";
import { ClientRegistry, readClientsFile } from "./clients-file";
import { loadConfig, type ServerConfig } from "./config";
import { systemClock } from "./engine/clock";
import { Engine } from "./engine/engine";
import { openSqliteBackend } from "./store/sqlite";
import type { Backend } from "./store/store";

const KEY = Symbol.for("perfect.engine");
type Holder = { [KEY]?: Engine };

/** Tests install an engine of their own (fresh database, controlled clock). */
export function setEngine(engine: Engine | undefined): void {
  const g = globalThis as Holder;
  g[KEY]?.stop();
  g[KEY] = engine;
}

/** The app's engine. With PostgreSQL it must have been started (instrumentation does). */
export function getEngine(): Engine {
  const g = globalThis as Holder;
  if (!g[KEY]) {
    const config = loadConfig();
    if (config.databaseUrl) throw new Error("the PostgreSQL engine is not started yet");
    g[KEY] = assemble(config, openSqliteBackend(config.dbPath));
  }
  return g[KEY]!;
}

/** Starts the configured engine (idempotent): called once at server start. */
export async function startEngine(): Promise<Engine> {
  const g = globalThis as Holder;
  if (g[KEY]) return g[KEY]!;
  const config = loadConfig();
  const engine = assemble(config, await openBackend(config));
  await engine.ready;
  g[KEY] = engine;
  return engine;
}

/** The storage backend the configuration names. */
export async function openBackend(config: Pick<ServerConfig, "databaseUrl" | "dbPath">): Promise<Backend> {
  if (config.databaseUrl) {
    // Loaded only when configured: the embedded SQLite server never opens a PostgreSQL pool.
    const { openPostgresBackend } = await import("./store/postgres");
    return openPostgresBackend(config.databaseUrl);
  }
  return openSqliteBackend(config.dbPath);
}

function assemble(config: ServerConfig, backend: Backend): Engine {
  const clientConfigs = readClientsFile(config.clientsFile);
  // Read before anything opens: an invalid alerts.json stops the server, naming the field.
  const alerts = new AlertRegistry(readAlertsFile(config.alertsFile), config.alertsFile);
  if (process.env.NODE_ENV === "production" && clientConfigs.some((c) => c.devToken)) {
    console.warn(
      "\n[perfect] WARNING ***************************************************************\n" +
        `[perfect] WARNING  ${config.clientsFile} still uses the token "dev-token" in production.\n` +
        "[perfect] WARNING  Anyone who can reach this server can act as that client: set a secret token.\n" +
        "[perfect] WARNING ***************************************************************\n",
    );
  }
  const engine = new Engine({
    store: backend.store,
    clock: systemClock,
    notifier: backend.notifier,
    feed: backend.feed,
    clients: new ClientRegistry(clientConfigs),
    config: { heartbeatTimeoutMs: config.heartbeatTimeoutMs, longPollMs: config.longPollMs, scheduleGraceMs: config.scheduleGraceMs },
    alerts,
    alertOptions: { publicUrl: config.publicUrl, ...alertTimingFromEnv() },
  });
  engine.start();
  watchClientsFile(config.clientsFile, engine);
  watchAlertsFile(config.alertsFile, alerts);
  return engine;
}

/**
 * Retry timing of the delivery loop. Not part of the public configuration: the real-process
 * tests shorten the backoff (PERFECT_TEST_ALERT_BACKOFF_MS) so a retry does not take seconds.
 */
function alertTimingFromEnv(): { backoffBaseMs?: number } {
  const base = Number(process.env.PERFECT_TEST_ALERT_BACKOFF_MS);
  return Number.isInteger(base) && base > 0 ? { backoffBaseMs: base } : {};
}

/** A changed clients.json is picked up without a restart; an invalid edit keeps the old set. */
function watchClientsFile(file: string, engine: Engine): void {
  fs.watchFile(file, { interval: 1000, persistent: false }, (cur, prev) => {
    if (cur.mtimeMs === prev.mtimeMs) return;
    try {
      engine.clients.replace(readClientsFile(file));
      engine.syncClients().then(
        () => console.info(`[perfect] reloaded ${file}`),
        (e) => console.error(`[perfect] could not store the reloaded clients: ${(e as Error).message}`),
      );
    } catch (e) {
      console.error(`[perfect] kept the previous clients: ${(e as Error).message}`);
    }
  });
}
