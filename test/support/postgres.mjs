// Throw-away PostgreSQL clusters for tests and benchmarks: initdb into a temporary folder, start
// on a free 127.0.0.1 port, create database `perfect`, stop and delete at the end. No system
// service is needed. The server binaries refuse to run as root, so as root every binary runs
// through `runuser -u postgres --` in a folder owned by that user.
// Typed for TypeScript by postgres.d.mts; `postgres-cli.mjs` drives it from the shell.
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const PG_BIN = process.env.PERFECT_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
async function pg(bin, args) {
  const file = path.join(PG_BIN, bin);
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
  try {
    return await run(cmd, argv, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    throw new Error(`${bin} ${args.join(" ")} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** A port nobody listens on now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function pgCtlOptions(dir, port, settings) {
  // Settings as -c flags; the socket lives in the cluster's own folder (no /var/run needed).
  const extra = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
  return `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${extra}`.trim();
}

async function pgStart(dir, port, settings) {
  await pg("pg_ctl", ["-D", dir, "-l", path.join(dir, "postgres.log"), "-o", pgCtlOptions(dir, port, settings), "-w", "-t", "60", "start"]);
}

/**
 * Starts a fresh cluster. `settings` are server settings (defaults favour speed: no fsync — a
 * test cluster never outlives its machine). Returns its url and port, restart() (stop + start,
 * same folder and port: "PostgreSQL restarts mid-run") and stop() (stop and delete).
 * @param {{ settings?: Record<string, string|number>, dir?: string }} [opts]
 */
export async function startPostgres(opts = {}) {
  if (!fs.existsSync(path.join(PG_BIN, "initdb"))) {
    throw new Error(`${PG_BIN}/initdb is missing: run \`node scripts/ensure-postgres.mjs\` (installs Debian's postgresql)`);
  }
  const settings = { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: 200, ...opts.settings };
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "perfect-pg-"));
  if (isRoot) await run("chown", ["-R", "postgres:postgres", dir]);
  fs.chmodSync(dir, 0o700);
  await pg("initdb", ["-D", dir, "-U", "perfect", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  let port = 0;
  // Another process may take the free port between the probe and the start: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await pgStart(dir, port, settings);
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
  fs.writeFileSync(path.join(dir, "perfect-cluster.json"), JSON.stringify({ port, settings }));
  await createDatabase(port, "perfect");
  return clusterHandle(dir, port, settings);
}

/** A new empty database `name` on the cluster listening on 127.0.0.1:`port`; returns its url. */
export async function createDatabase(port, name) {
  await pg("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "perfect", name]);
  return `postgres://perfect@127.0.0.1:${port}/${name}`;
}

function clusterHandle(dir, port, settings) {
  let stopped = false;
  return {
    url: `postgres://perfect@127.0.0.1:${port}/perfect`,
    port,
    dir,
    /** A new empty database on this cluster (one per test file or test). */
    createDatabase: (name) => createDatabase(port, name),
    async restart() {
      await pg("pg_ctl", ["-D", dir, "-m", "fast", "-w", "stop"]);
      await pgStart(dir, port, settings);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        // Immediate: the folder is deleted next, so the shutdown checkpoint a fast stop writes
        // (every database a test file created, under a busy disk more than a minute) is waste.
        await pg("pg_ctl", ["-D", dir, "-m", "immediate", "-w", "stop"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The handle of a cluster started earlier (by the CLI) in `dir`. */
export function attachPostgres(dir) {
  const { port, settings } = JSON.parse(fs.readFileSync(path.join(dir, "perfect-cluster.json"), "utf8"));
  return clusterHandle(dir, port, settings);
}
