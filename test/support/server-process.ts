/**
 * Starts the built app (`next start`) as a real process on a free loopback port with its own
 * database and clients file, for the end-to-end, reliability and benchmark suites.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
const PG_BIN = process.env.PERFECT_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerOptions {
  dir?: string;
  port?: number;
  clients?: { id: string; name: string; performanceSensitivity?: string; token: string }[];
  env?: Record<string, string>;
}

export class ServerProcess {
  child: ChildProcess | null = null;
  output = "";
  readonly dir: string;
  readonly dbPath: string;
  readonly clientsFile: string;
  port = 0;

  constructor(private readonly opts: ServerOptions = {}) {
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "perfect-srv-"));
    this.dbPath = path.join(this.dir, "perfect.db");
    this.clientsFile = path.join(this.dir, "clients.json");
    if (!fs.existsSync(this.clientsFile)) {
      const clients = opts.clients ?? [{ id: "perfect_example", name: "Example", performanceSensitivity: "normal", token: "test-token" }];
      fs.writeFileSync(this.clientsFile, JSON.stringify({ clients }));
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** PostgreSQL for this server (PERFECT_TEST_BACKEND=postgres): its own database on the run's cluster. */
  databaseUrl: string | null = null;

  get backend(): "sqlite" | "postgres" {
    return this.databaseUrl || this.opts.env?.PERFECT_DATABASE_URL ? "postgres" : "sqlite";
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (!fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
      throw new Error("the app is not built: run `npm run build` first (npm test does it)");
    }
    this.port = this.port || this.opts.port || (await freePort());
    const pgPort = process.env.PERFECT_TEST_PG_PORT;
    if (pgPort && !this.databaseUrl && !this.opts.env?.PERFECT_DATABASE_URL) {
      const name = `perfect_${path.basename(this.dir).replace(/[^a-zA-Z0-9]/g, "_").toLowerCase()}`;
      execFileSync(path.join(PG_BIN, "createdb"), ["-h", "127.0.0.1", "-p", pgPort, "-U", "perfect", name]);
      this.databaseUrl = `postgres://perfect@127.0.0.1:${pgPort}/${name}`;
    }
    this.child = spawn(path.join(ROOT, "node_modules", ".bin", "next"), ["start", "-p", String(this.port), "-H", "127.0.0.1"], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: "production",
        PERFECT_DB_PATH: this.dbPath,
        PERFECT_CLIENTS_FILE: this.clientsFile,
        ...(this.databaseUrl ? { PERFECT_DATABASE_URL: this.databaseUrl } : {}),
        ...this.opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdout!.on("data", (c) => (this.output += c));
    this.child.stderr!.on("data", (c) => (this.output += c));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`server exited (${this.child.exitCode}):\n${this.output}`);
      try {
        const r = await fetch(`${this.url}/api/health`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not become healthy in ${timeoutMs} ms:\n${this.output}`);
  }

  /** SIGKILL the whole process group: no chance to flush anything. */
  async kill9(): Promise<void> {
    await this.signal("SIGKILL");
  }

  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid!, sig);
    } catch {
      child.kill(sig);
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    this.child = null;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
