import type { ChildProcess } from "node:child_process";

export interface ClientEntry {
  id: string;
  name: string;
  performanceSensitivity?: string;
  token: string;
}

export interface AppServerOptions {
  /** The server's folder (default: a new temporary one). */
  dir?: string;
  /** The SQLite file (default dir/perfect.db). */
  dbPath?: string;
  /** Written to dir/clients.json; without them an existing file is kept, else DEFAULT_CLIENT. */
  clients?: ClientEntry[];
  /** Applied last, over the launcher's own settings. */
  env?: Record<string, string>;
  /** A test PostgreSQL cluster's port: a database of its own there, unless env names one. */
  pgPort?: number | string;
  /** The built app to serve: the checkout, or another built copy. */
  appDir: string;
  nodeArgs?: string[];
  /** Fixed port; otherwise a free one, picked at the first start and kept for restarts. */
  port?: number;
  /** The output goes to this file (appended) instead of memory. */
  logFile?: string;
  /** Characters of output kept in memory (default all). */
  keepOutput?: number;
  /** For /api/health (default 60 s). */
  timeoutMs?: number;
  /** Starts tried before giving up (default 1), 5 s apart, each on a new port. */
  attempts?: number;
  /** Its own process group (default true): stop and kill9 reach next's child process too. */
  detached?: boolean;
  /** After SIGTERM, how long stop() waits before SIGKILL (default 10 s). */
  stopGraceMs?: number;
}

export class AppServer {
  constructor(opts: AppServerOptions);
  readonly opts: AppServerOptions;
  readonly appDir: string;
  readonly dir: string;
  readonly dbPath: string;
  readonly clientsFile: string;
  child: ChildProcess | null;
  port: number;
  /** The database created for this server on the test cluster (pgPort), or null. */
  databaseUrl: string | null;
  readonly url: string;
  readonly pid: number | undefined;
  readonly backend: "sqlite" | "postgres";
  /** What the server printed, across restarts. */
  readonly output: string;
  rss(): { rss: number; peak: number };
  /** Starts, or starts again on the same folder, database and port; waits for /api/health. */
  start(timeoutMs?: number): Promise<void>;
  /** SIGKILL the whole process group: no chance to flush anything. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace. */
  stop(): Promise<void>;
  /** Removes the folder. */
  cleanup(): void;
}

export const DEFAULT_CLIENT: ClientEntry;
export function freePort(): Promise<number>;
export function tempDir(prefix?: string): string;
export function isBuilt(appDir: string): boolean;
/** Builds `appDir` once when it has no build; a rebuild in progress is waited out. */
export function ensureBuild(appDir: string): Promise<void>;
export function processTree(pid: number): number[];
export function rssMb(pid: number): { rss: number; peak: number };
export function cpuSeconds(pid: number): number;
export function cpuTree(pid: number): number;
