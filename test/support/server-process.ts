/**
 * The built app (`next start`) as a real process for the reliability suites: the launcher's
 * AppServer (test/support/launcher.mjs: free port, own folder, database and clients file,
 * stop / kill9 / restart) with the tests' one default: with PERFECT_TEST_BACKEND=postgres
 * (test/support/pg-global-setup.ts) each server gets a database of its own on the run's cluster.
 */
import path from "node:path";
import { AppServer, type ClientEntry } from "./launcher.mjs";

/** This checkout: the app the tests serve (`npm run build` first). */
export const ROOT = path.resolve(__dirname, "..", "..");

export interface ServerOptions {
  dir?: string;
  port?: number;
  clients?: ClientEntry[];
  env?: Record<string, string>;
}

export class ServerProcess extends AppServer {
  constructor(opts: ServerOptions = {}) {
    super({ ...opts, appDir: ROOT, pgPort: process.env.PERFECT_TEST_PG_PORT });
  }
}
