/**
 * Starts everything the end-to-end suite talks to, on a free loopback port and in a temporary
 * directory: the built Perfect server (`next start`), the example worker
 * (sdk-python/examples/example_flows.py) and the e2e worker (e2e/worker_flows.py). Returns the
 * teardown, which stops the process groups and removes the directory.
 *
 * Environment passed to the tests: PERFECT_E2E_URL, PERFECT_E2E_WORKER_PID (the e2e worker,
 * which worker-loss.spec.ts kills), PERFECT_E2E_DIR. With PERFECT_TEST_BACKEND=postgres a
 * second `next start` instance ("B") shares the database and PERFECT_E2E_URL_B is its URL
 * (multi-instance.spec.ts); the workers poll only the first one. The processes' output ends up in
 * test-results/e2e-logs/. Options: PERFECT_E2E_APP_DIR (where the built app is, default the
 * repository), PERFECT_E2E_KEEP_DIR=1 (keep the temporary directory), PERFECT_E2E_CHROMIUM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startPostgres } from "../test/support/postgres.mjs";
import { E2E_CLIENT, E2E_TOKEN, EXAMPLE_CLIENT, EXAMPLE_FLOWS, E2E_FLOWS } from "./support/constants";

const ROOT = path.resolve(__dirname, "..");
/** Where the built app lives (its `.next/`); the repository itself unless told otherwise. */
const APP_DIR = path.resolve(process.env.PERFECT_E2E_APP_DIR ?? ROOT);

/**
 * The example flows declare real schedules (Daily Sales ETL at 06:00 Berlin, the weekly report
 * on Mondays): paused for the suite, so a run that spans 06:00 Berlin sees only the runs its
 * specs make. The specs' own schedules are created (and removed) by the specs.
 */
async function pauseExampleSchedules(url: string): Promise<void> {
  const { flows } = (await (await fetch(`${url}/api/flows?limit=200`)).json()) as { flows: { id: string; clientId: string }[] };
  for (const f of flows.filter((x) => x.clientId === EXAMPLE_CLIENT)) {
    const { schedules } = (await (await fetch(`${url}/api/flows/${f.id}/schedules`)).json()) as { schedules: { id: string; active: boolean }[] };
    for (const s of schedules.filter((x) => x.active)) {
      const r = await fetch(`${url}/api/schedules/${s.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ active: false }) });
      if (!r.ok) throw new Error(`could not pause schedule ${s.id} of the example flows: HTTP ${r.status}`);
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function start(name: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logDir: string }): ChildProcess {
  const log = fs.openSync(path.join(opts.logDir, `${name}.log`), "a");
  // detached: its own process group, so the teardown can stop it with everything it spawned.
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", log, log], detached: true });
  fs.closeSync(log);
  child.on("error", (e) => console.error(`[e2e] ${name} failed to start: ${e.message}`));
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  if (!alive(child)) {
    signal("SIGKILL"); // the leader may be gone while others in its group live on
    return;
  }
  const exited = new Promise((r) => child.once("exit", r));
  signal("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
  signal("SIGKILL");
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, log?: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`[e2e] timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ""}${log ? `\n--- ${log}:\n${tail(log)}` : ""}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!fs.existsSync(path.join(APP_DIR, ".next", "BUILD_ID"))) {
    throw new Error(
      `[e2e] no production build in ${path.join(APP_DIR, ".next")}: run \`npm run build\` first (the e2e suite drives the built app).`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-e2e-"));
  const clientsFile = path.join(dir, "clients.json");
  fs.writeFileSync(
    clientsFile,
    JSON.stringify(
      {
        clients: [
          // Aggressive sensitivity: SLOW/CRITICAL shows after few samples and small drifts.
          { id: EXAMPLE_CLIENT, name: "Perfect Example Flows", performanceSensitivity: "aggressive", token: E2E_TOKEN },
          { id: E2E_CLIENT, name: "E2E Test Flows", performanceSensitivity: "aggressive", token: E2E_TOKEN },
        ],
      },
      null,
      2,
    ),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const children: ChildProcess[] = [];
  // PERFECT_TEST_BACKEND=postgres: the same suite on a throw-away PostgreSQL cluster.
  const pg = process.env.PERFECT_TEST_BACKEND === "postgres" ? await startPostgres() : null;

  const teardown = async () => {
    for (const c of [...children].reverse()) await stopGroup(c);
    await pg?.stop();
    // Keep the server's and workers' output with the other artifacts, for failed runs.
    const logs = path.join(ROOT, "test-results", "e2e-logs");
    fs.mkdirSync(logs, { recursive: true });
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".log"))) fs.copyFileSync(path.join(dir, f), path.join(logs, f));
    if (process.env.PERFECT_E2E_KEEP_DIR !== "1") fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`[e2e] kept ${dir}`);
  };

  try {
    const serverEnv: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: "production",
      PERFECT_DB_PATH: path.join(dir, "perfect.db"),
      ...(pg ? { PERFECT_DATABASE_URL: pg.url } : {}),
      PERFECT_CLIENTS_FILE: clientsFile,
      PERFECT_HEARTBEAT_TIMEOUT_MS: "3000",
      NEXT_TELEMETRY_DISABLED: "1",
    };
    const startServer = async (name: string, serverPort: number) => {
      const child = start(name, path.join(APP_DIR, "node_modules", ".bin", "next"), ["start", "-p", String(serverPort), "-H", "127.0.0.1"], {
        cwd: APP_DIR,
        logDir: dir,
        env: serverEnv,
      });
      children.push(child);
      await waitFor(`the ${name}'s /api/health`, 60_000, async () => {
        if (!alive(child)) throw new Error(`${name} exited with ${child.exitCode}`);
        const r = await fetch(`http://127.0.0.1:${serverPort}/api/health`);
        return r.ok ? true : undefined;
      }, path.join(dir, `${name}.log`));
    };
    await startServer("server", port);
    // PostgreSQL: a second instance on the same database, for the cross-instance spec.
    const urlB = pg ? `http://127.0.0.1:${await freePort()}` : null;
    if (urlB) await startServer("server-b", Number(new URL(urlB).port));

    const workerEnv = (clientId: string): NodeJS.ProcessEnv => ({
      ...process.env,
      PERFECT_URL: url,
      PERFECT_CLIENT_ID: clientId,
      PERFECT_TOKEN: E2E_TOKEN,
      PERFECT_EXAMPLE_SPEED: "0.15",
      PYTHONUNBUFFERED: "1",
    });
    const example = start("example-worker", "python3", [path.join(ROOT, "sdk-python", "examples", "example_flows.py")], {
      cwd: ROOT,
      logDir: dir,
      env: workerEnv(EXAMPLE_CLIENT),
    });
    children.push(example);
    const e2eWorker = start("e2e-worker", "python3", [path.join(ROOT, "e2e", "worker_flows.py")], {
      cwd: ROOT,
      logDir: dir,
      env: workerEnv(E2E_CLIENT),
    });
    children.push(e2eWorker);

    const expected = [...EXAMPLE_FLOWS, ...E2E_FLOWS];
    await waitFor("both workers to register their flows", 30_000, async () => {
      for (const [name, c] of [["example worker", example], ["e2e worker", e2eWorker]] as const) {
        if (!alive(c)) throw new Error(`${name} exited with ${c.exitCode}\n${tail(path.join(dir, name === "example worker" ? "example-worker.log" : "e2e-worker.log"))}`);
      }
      const r = await fetch(`${url}/api/flows`);
      const { flows } = (await r.json()) as { flows: { name: string; online: boolean }[] };
      const online = new Set(flows.filter((f) => f.online).map((f) => f.name));
      return expected.every((n) => online.has(n)) ? true : undefined;
    });
    await pauseExampleSchedules(url);

    process.env.PERFECT_E2E_URL = url;
    if (urlB) process.env.PERFECT_E2E_URL_B = urlB;
    process.env.PERFECT_E2E_DIR = dir;
    process.env.PERFECT_E2E_WORKER_PID = String(e2eWorker.pid);
    console.log(`[e2e] server ${url}${urlB ? `, second instance ${urlB}` : ""}, logs in ${dir}`);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}
