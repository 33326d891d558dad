/**
 * The app's one engine. The only module that knows about globalThis: state kept there survives
 * Next's dev hot reload, where module-level singletons would be rebuilt (and timers doubled).
 */
import fs from "node:fs";
import { openDatabase } from "../../db/client";
import { ClientRegistry, readClientsFile } from "../clients-file";
import { loadConfig } from "../config";
import { SqliteStore } from "../queries/sqlite-store";
import { InProcessChangeFeed } from "./change-feed";
import { systemClock } from "./clock";
import { InProcessRunNotifier } from "./dispatch";
import { Engine } from "./engine";

const KEY = Symbol.for("perfect.engine");
type Holder = { [KEY]?: Engine };

/** Tests install an engine of their own (fresh database, controlled clock). */
export function setEngine(engine: Engine | undefined): void {
  const g = globalThis as Holder;
  g[KEY]?.stop();
  g[KEY] = engine;
}

export function getEngine(): Engine {
  const g = globalThis as Holder;
  if (!g[KEY]) g[KEY] = createAppEngine();
  return g[KEY]!;
}

function createAppEngine(): Engine {
  const config = loadConfig();
  const clientConfigs = readClientsFile(config.clientsFile);
  if (process.env.NODE_ENV === "production" && clientConfigs.some((c) => c.devToken)) {
    console.warn(
      "\n[perfect] WARNING ***************************************************************\n" +
        `[perfect] WARNING  ${config.clientsFile} still uses the token "dev-token" in production.\n` +
        "[perfect] WARNING  Anyone who can reach this server can act as that client: set a secret token.\n" +
        "[perfect] WARNING ***************************************************************\n",
    );
  }
  const db = openDatabase(config.dbPath);
  const clients = new ClientRegistry(clientConfigs);
  const engine = new Engine({
    store: new SqliteStore(db),
    clock: systemClock,
    notifier: new InProcessRunNotifier(),
    feed: new InProcessChangeFeed(),
    clients,
    config: { heartbeatTimeoutMs: config.heartbeatTimeoutMs, longPollMs: config.longPollMs },
  });
  engine.start();
  watchClientsFile(config.clientsFile, engine);
  return engine;
}

/** A changed clients.json is picked up without a restart; an invalid edit keeps the old set. */
function watchClientsFile(file: string, engine: Engine): void {
  fs.watchFile(file, { interval: 1000, persistent: false }, (cur, prev) => {
    if (cur.mtimeMs === prev.mtimeMs) return;
    try {
      engine.clients.replace(readClientsFile(file));
      engine.syncClients();
      console.info(`[perfect] reloaded ${file}`);
    } catch (e) {
      console.error(`[perfect] kept the previous clients: ${(e as Error).message}`);
    }
  });
}
