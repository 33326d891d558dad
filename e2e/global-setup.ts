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
import fs from "node:fs";
import path from "node:path";
import { getJson } from "../test/support/api-client";
import { AppServer, isBuilt, tempDir } from "../test/support/launcher.mjs";
import { startPostgres } from "../test/support/postgres.mjs";
import { startPythonWorker, stopWorker, type PythonWorker } from "../test/support/python-worker";
import { until } from "../test/support/wait";
import { startReceiver, type Receiver } from "../test/support/webhook-receiver.mjs";
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

function alive(child: PythonWorker): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!isBuilt(APP_DIR)) {
    throw new Error(
      `[e2e] no production build in ${path.join(APP_DIR, ".next")}: run \`npm run build\` first (the e2e suite drives the built app).`,
    );
  }
  const dir = tempDir("perfect-e2e-");
  const servers: AppServer[] = [];
  const workers: PythonWorker[] = [];
  let receiver: Receiver | null = null;
  // PERFECT_TEST_BACKEND=postgres: the same suite on a throw-away PostgreSQL cluster.
  const pg = process.env.PERFECT_TEST_BACKEND === "postgres" ? await startPostgres() : null;

  const teardown = async () => {
    for (const w of [...workers].reverse()) await stopWorker(w);
    for (const s of [...servers].reverse()) await s.stop();
    await pg?.stop();
    await receiver?.close();
    // Keep the server's and workers' output with the other artifacts, for failed runs.
    const logs = path.join(ROOT, "test-results", "e2e-logs");
    fs.mkdirSync(logs, { recursive: true });
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".log"))) fs.copyFileSync(path.join(dir, f), path.join(logs, f));
    if (process.env.PERFECT_E2E_KEEP_DIR !== "1") fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`[e2e] kept ${dir}`);
  };

  try {
    // Aggressive sensitivity: SLOW/CRITICAL shows after few samples and small drifts.
    const clients = [
      { id: EXAMPLE_CLIENT, name: "Perfect Example Flows", performanceSensitivity: "aggressive", token: E2E_TOKEN },
      { id: E2E_CLIENT, name: "E2E Test Flows", performanceSensitivity: "aggressive", token: E2E_TOKEN },
    ];
    // Alerts (alerts.spec.ts): a receiver that accepts everything, and a destination nobody
    // listens on (its test alert stays PENDING, retried). Failed runs of the suite go to the first.
    receiver = await startReceiver(() => 204);
    const alertsFile = path.join(dir, "alerts.json");
    fs.writeFileSync(
      alertsFile,
      JSON.stringify({
        destinations: [
          { id: "e2e-hook", type: "webhook", url: receiver.url, secret: `whsec_${Buffer.from("the e2e suite's webhook secret!").toString("base64")}` },
          { id: "e2e-down", type: "webhook", url: "http://127.0.0.1:9/nobody-listens" },
        ],
        rules: [{ on: ["run.failed"], to: ["e2e-hook"] }],
      }),
    );
    // Both instances share the folder: its clients file (written once) and, on SQLite, its database.
    const startServer = async (name: string) => {
      const server = new AppServer({
        dir,
        appDir: APP_DIR,
        clients: servers.length === 0 ? clients : undefined,
        env: { ...(pg ? { PERFECT_DATABASE_URL: pg.url } : {}), PERFECT_HEARTBEAT_TIMEOUT_MS: "3000", PERFECT_ALERTS_FILE: alertsFile },
        logFile: path.join(dir, `${name}.log`),
      });
      servers.push(server);
      await server.start().catch((e: Error) => {
        throw new Error(`[e2e] the ${name} did not start: ${e.message}`);
      });
      return server.url;
    };
    const url = await startServer("server");
    // PostgreSQL: a second instance on the same database, for the cross-instance spec.
    const urlB = pg ? await startServer("server-b") : null;

    const worker = (name: string, script: string, clientId: string) => {
      const w = startPythonWorker(script, {
        url,
        client: { id: clientId, token: E2E_TOKEN },
        cwd: ROOT,
        env: { PERFECT_EXAMPLE_SPEED: "0.15" },
        logFile: path.join(dir, `${name}.log`),
      });
      workers.push(w);
      return w;
    };
    const example = worker("example-worker", path.join(ROOT, "sdk-python", "examples", "example_flows.py"), EXAMPLE_CLIENT);
    const e2eWorker = worker("e2e-worker", path.join(ROOT, "e2e", "worker_flows.py"), E2E_CLIENT);

    const expected = [...EXAMPLE_FLOWS, ...E2E_FLOWS];
    let exited = "";
    await until("both workers to register their flows", async () => {
      for (const [name, w] of [["example-worker", example], ["e2e-worker", e2eWorker]] as const) {
        if (!alive(w)) exited ||= `${name} exited with ${w.exitCode}\n${tail(path.join(dir, `${name}.log`))}`;
      }
      if (exited) return true;
      const { flows } = (await getJson(`${url}/api/flows`)) as { flows: { name: string; online: boolean }[] };
      const online = new Set(flows.filter((f) => f.online).map((f) => f.name));
      return expected.every((n) => online.has(n));
    }, 30_000).catch((e: Error) => {
      throw new Error(`[e2e] ${e.message}`);
    });
    if (exited) throw new Error(`[e2e] ${exited}`);
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
