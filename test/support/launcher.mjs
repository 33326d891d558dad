// The one launcher of the BUILT app (`next start`) as a real process on a free 127.0.0.1 port,
// for every suite that needs one: vitest's reliability tests (ServerProcess, server-process.ts),
// Playwright (e2e/global-setup.ts) and the benchmarks (bench/lib/server.mjs). Each server gets a
// folder of its own with its SQLite file (PERFECT_DB_PATH) and clients file, or a PostgreSQL
// database of its own on a test cluster (`pgPort`); it can be stopped, killed with -9 and started
// again on the same folder, database and port.
// Plain ESM so bench scripts run it with node; typed for TypeScript by launcher.d.mts. No
// `import.meta` here: Playwright's loader turns an imported .mjs into CommonJS, where it breaks —
// so every caller names the app it serves (`appDir`).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDatabase, freePort } from "./postgres.mjs";

export { freePort };

/** The client a server gets when it is given none and its folder has no clients file yet. */
export const DEFAULT_CLIENT = { id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "test-token" };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tempDir(prefix = "perfect-srv-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function isBuilt(appDir) {
  return fs.existsSync(path.join(appDir, ".next", "BUILD_ID"));
}

/** Builds once when there is no build; another engineer's rebuild in progress is waited out. */
export async function ensureBuild(appDir) {
  for (let i = 0; i < 60 && !isBuilt(appDir); i++) {
    if (i === 0 && !fs.existsSync(path.join(appDir, ".next"))) break;
    await sleep(2000); // a concurrent `next build` removes BUILD_ID until it finishes
  }
  if (!isBuilt(appDir)) {
    console.error(`[launcher] no build in ${appDir}: running \`next build\` …`);
    execFileSync(path.join(appDir, "node_modules", ".bin", "next"), ["build"], { cwd: appDir, stdio: "inherit" });
  }
}

/** The process and all its descendants (Linux /proc): `next start` serves from a child process. */
export function processTree(pid) {
  const seen = new Set();
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        const kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim();
        if (kids) for (const k of kids.split(/\s+/)) visit(Number(k));
      }
    } catch {
      /* gone */
    }
  };
  visit(pid);
  return [...seen];
}

/** Resident set size of a process and its descendants, in MB: now and the peaks summed (Linux /proc). */
export function rssMb(pid) {
  let kb = 0;
  let peakKb = 0;
  for (const p of processTree(pid)) {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peakKb += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { rss: kb / 1024, peak: peakKb / 1024 };
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; ticks of 10 ms). */
export function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds of a process and all its descendants. */
export function cpuTree(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    const c = cpuSeconds(p);
    if (Number.isFinite(c)) total += c;
  }
  return total;
}

/**
 * One `next start` of the built app in `appDir` (required: the checkout, or another built copy).
 * Other options:
 *  - dir: its folder (default: a new temporary one), dbPath (default dir/perfect.db);
 *  - clients: written to dir/clients.json; without them an existing file is kept, else
 *    DEFAULT_CLIENT is written;
 *  - env: overrides, applied last (PERFECT_DATABASE_URL here means "this database, not mine");
 *  - pgPort: a test PostgreSQL cluster's port: the server gets a database of its own on it
 *    (created at the first start, kept across restarts), unless env names one;
 *  - nodeArgs (e.g. --cpu-prof);
 *  - port: fixed, else a free one is picked at the first start and kept for restarts;
 *  - logFile: the output goes to this file (appended) instead of memory; keepOutput: how many
 *    characters of output to keep in memory (default all);
 *  - timeoutMs (default 60 s) for /api/health; attempts (default 1): a start that fails (a
 *    concurrent `next build`, a port taken meanwhile) is retried after 5 s on a new port;
 *  - detached (default true): its own process group, so stop and kill9 reach next's child too;
 *  - stopGraceMs (default 10 s): how long stop() waits after SIGTERM before SIGKILL.
 */
export class AppServer {
  /** @type {import("node:child_process").ChildProcess | null} */
  child = null;
  port = 0;
  /** The database created for this server on the test cluster (pgPort), or null. */
  databaseUrl = null;
  #output = "";
  #healthyOnce = false;

  constructor(opts) {
    if (!opts.appDir) throw new Error("AppServer: appDir (the built app to serve) is required");
    this.opts = opts;
    this.appDir = path.resolve(opts.appDir);
    this.dir = opts.dir ?? tempDir();
    this.dbPath = opts.dbPath ?? path.join(this.dir, "perfect.db");
    this.clientsFile = path.join(this.dir, "clients.json");
    this.port = opts.port ?? 0;
    if (opts.clients || !fs.existsSync(this.clientsFile)) {
      fs.writeFileSync(this.clientsFile, JSON.stringify({ clients: opts.clients ?? [DEFAULT_CLIENT] }, null, 2));
    }
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.child?.pid;
  }

  get backend() {
    return this.databaseUrl || this.opts.env?.PERFECT_DATABASE_URL ? "postgres" : "sqlite";
  }

  /** Everything the server printed (across restarts), or the last `keepOutput` characters. */
  get output() {
    if (this.opts.logFile) {
      try {
        return fs.readFileSync(this.opts.logFile, "utf8");
      } catch {
        return "";
      }
    }
    return this.#output;
  }

  rss() {
    return this.child?.pid ? rssMb(this.child.pid) : { rss: 0, peak: 0 };
  }

  /** Starts (or starts again, on the same folder, database and port) and waits for /api/health. */
  async start(timeoutMs = this.opts.timeoutMs ?? 60_000) {
    if (!isBuilt(this.appDir)) {
      throw new Error(`no production build in ${path.join(this.appDir, ".next")}: run \`npm run build\` first (npm test does it)`);
    }
    if (this.opts.pgPort && !this.databaseUrl && !this.opts.env?.PERFECT_DATABASE_URL) {
      const name = `perfect_${path.basename(this.dir).replace(/[^a-zA-Z0-9]/g, "_").toLowerCase()}`;
      this.databaseUrl = await createDatabase(this.opts.pgPort, name);
    }
    const attempts = this.opts.attempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      if (!this.port) this.port = await freePort();
      try {
        await this.#spawnAndWait(timeoutMs);
        this.#healthyOnce = true;
        return;
      } catch (e) {
        await this.kill9();
        if (attempt >= attempts) throw e;
        console.error(`[launcher] ${e.message.split("\n")[0]}; trying again (${attempt + 1}/${attempts})`);
        // Most likely a concurrent rebuild of .next, or the port taken meanwhile.
        if (!this.opts.port && !this.#healthyOnce) this.port = 0;
        await sleep(5000);
        await ensureBuild(this.appDir);
      }
    }
  }

  async #spawnAndWait(timeoutMs) {
    const next = path.join(this.appDir, "node_modules", "next", "dist", "bin", "next");
    const log = this.opts.logFile ? fs.openSync(this.opts.logFile, "a") : null;
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), next, "start", "-p", String(this.port), "-H", "127.0.0.1"], {
      cwd: this.appDir,
      env: {
        ...process.env,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        PERFECT_DB_PATH: this.dbPath,
        PERFECT_CLIENTS_FILE: this.clientsFile,
        ...(this.databaseUrl ? { PERFECT_DATABASE_URL: this.databaseUrl } : {}),
        ...this.opts.env,
      },
      stdio: log === null ? ["ignore", "pipe", "pipe"] : ["ignore", log, log],
      detached: this.opts.detached ?? true,
    });
    if (log !== null) fs.closeSync(log);
    this.child = child;
    const keep = this.opts.keepOutput ?? Infinity;
    const capture = (c) => {
      this.#output += c;
      if (this.#output.length > keep) this.#output = this.#output.slice(-keep);
    };
    child.stdout?.on("data", capture);
    child.stderr?.on("data", capture);
    let spawnError = null;
    child.on("error", (e) => (spawnError = e));
    const tail = () => this.output.slice(-5000);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`server could not start: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`server on ${this.url} exited (${child.exitCode ?? child.signalCode}) before /api/health answered:\n${tail()}`);
      }
      try {
        const r = await fetch(`${this.url}/api/health`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`server on ${this.url} did not answer /api/health within ${timeoutMs} ms:\n${tail()}`);
  }

  /** SIGKILL (the whole process group when detached): no chance to flush anything. */
  async kill9() {
    await this.#signal("SIGKILL");
  }

  /** SIGTERM, then SIGKILL if it is still there after stopGraceMs. */
  async stop() {
    await this.#signal("SIGTERM");
  }

  async #signal(sig) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.child = null;
      return;
    }
    const exited = new Promise((r) => child.once("exit", r));
    const send = (s) => {
      try {
        if (this.opts.detached ?? true) process.kill(-child.pid, s);
        else child.kill(s);
      } catch {
        child.kill(s);
      }
    };
    send(sig);
    await Promise.race([exited, sleep(this.opts.stopGraceMs ?? 10_000)]);
    if (child.exitCode === null && child.signalCode === null) {
      send("SIGKILL");
      await Promise.race([exited, sleep(5000)]);
    }
    this.child = null;
  }

  /** Removes the folder (the SQLite file and the clients file with it). */
  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
