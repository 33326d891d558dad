/**
 * Real Python SDK workers for the suites that drive the built server: a worker script started
 * with PERFECT_URL, PERFECT_CLIENT_ID and PERFECT_TOKEN in a process group of its own (so a stop
 * reaches the run processes it spawned too), its output kept in memory or in a log file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { sleep } from "./wait";

export interface WorkerClient {
  id: string;
  token: string;
}

export type PythonWorker = ChildProcess & { readonly log: string };

export interface PythonWorkerOptions {
  /** One URL, or several separated by commas (the SDK fails over between them). */
  url: string;
  client: WorkerClient;
  /** Extra environment, over the process's own. */
  env?: Record<string, string>;
  cwd?: string;
  /** The output goes to this file (appended) instead of memory. */
  logFile?: string;
}

export function startPythonWorker(script: string, opts: PythonWorkerOptions): PythonWorker {
  const log = opts.logFile ? fs.openSync(opts.logFile, "a") : null;
  const child = spawn("python3", [script], {
    cwd: opts.cwd,
    env: { ...process.env, PERFECT_URL: opts.url, PERFECT_CLIENT_ID: opts.client.id, PERFECT_TOKEN: opts.client.token, PYTHONUNBUFFERED: "1", ...opts.env },
    stdio: log === null ? ["ignore", "pipe", "pipe"] : ["ignore", log, log],
    detached: true,
  });
  if (log !== null) fs.closeSync(log);
  let out = "";
  child.stdout?.on("data", (c) => (out += c));
  child.stderr?.on("data", (c) => (out += c));
  child.on("error", (e) => {
    out += `[python-worker] ${script} failed to start: ${e.message}\n`;
    console.error(`[python-worker] ${script} failed to start: ${e.message}`);
  });
  const logFile = opts.logFile;
  Object.defineProperty(child, "log", { get: () => (logFile ? readOr(logFile, out) : out) });
  return child as PythonWorker;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, sig);
  } catch {
    /* already gone */
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILL the worker's whole process group: it and its runs die mid-task. */
export function kill9(child: ChildProcess): void {
  signalGroup(child, "SIGKILL");
}

/** SIGTERM the group, wait up to `graceMs` for the worker to exit, then SIGKILL what is left. */
export async function stopWorker(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (!child.pid) return;
  if (alive(child)) {
    const exited = new Promise((r) => child.once("exit", r));
    signalGroup(child, "SIGTERM");
    await Promise.race([exited, sleep(graceMs)]);
  }
  signalGroup(child, "SIGKILL"); // the leader may be gone while others in its group live on
}

/** The workers a test file starts, all of one script: start() each, kill9All() after each test. */
export class PythonWorkers {
  all: PythonWorker[] = [];

  constructor(
    private readonly script: string,
    private readonly client: WorkerClient,
  ) {}

  start(url: string, env: Record<string, string> = {}, client: WorkerClient = this.client): PythonWorker {
    const w = startPythonWorker(this.script, { url, client, env });
    this.all.push(w);
    return w;
  }

  kill9All(): void {
    for (const w of this.all) kill9(w);
    this.all = [];
  }
}
