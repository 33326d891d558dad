/**
 * The benchmarks' server: the BUILT app (`next start`) in its own process, started by the one
 * launcher (test/support/launcher.mjs) with the bench's defaults — the bench client, budgets
 * opened wide for load generators, a build made when there is none, retries when a concurrent
 * `next build` breaks a start. The load generators always run in a different process.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppServer, cpuSeconds, ensureBuild as ensureBuildOf, freePort, rssMb, tempDir as tempDirOf } from "../../test/support/launcher.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export { cpuSeconds, freePort, rssMb };
/** The app to serve: this checkout, or another built copy (PERFECT_BENCH_APP_DIR) for before/after runs. */
export const APP_DIR = process.env.PERFECT_BENCH_APP_DIR ? path.resolve(process.env.PERFECT_BENCH_APP_DIR) : ROOT;
export const BENCH_CLIENT = { id: "bench", name: "Bench Client", performanceSensitivity: "normal", token: "bench-token" };

export function tempDir(prefix = "perfect-bench-") {
  return tempDirOf(prefix);
}

/** Builds APP_DIR once when there is no build; another engineer's rebuild in progress is waited out. */
export function ensureBuild() {
  return ensureBuildOf(APP_DIR);
}

/** What every benchmark server runs with unless opts.env says otherwise. */
const BENCH_ENV = {
  // Benchmarks hold runs RUNNING for a while without events: keep them from failing.
  PERFECT_HEARTBEAT_TIMEOUT_MS: "600000",
  // The dispatch benchmark parks 1,000 workers' polls from one address (127.0.0.1), past
  // the default of 256 per client and address; and the load generators trigger faster
  // than a person would. bench/floods.mjs runs with the defaults (opts.env wins).
  PERFECT_POLLS_PER_ADDRESS: "4096",
  PERFECT_RATE_POLLS_PER_SEC: "100000",
  PERFECT_RATE_POLLS_BURST: "100000",
  PERFECT_RATE_MUTATIONS_PER_SEC: "100000",
  PERFECT_RATE_MUTATIONS_BURST: "100000",
  PERFECT_RATE_REGISTER_PER_SEC: "100000",
  PERFECT_RATE_REGISTER_BURST: "100000",
  PERFECT_SSE_MAX_PER_ADDRESS: "2000",
  PERFECT_SSE_MAX_STREAMS: "4000",
};

/**
 * Starts `next start` of APP_DIR with its own PERFECT_DB_PATH and PERFECT_CLIENTS_FILE and waits
 * for /api/health. Options: dir, dbPath (reuse a seeded file), clients, env, nodeArgs (e.g.
 * --cpu-prof), timeoutMs and attempts (a concurrent `next build` can make a start fail; it is
 * retried). stop() also removes the folder when it was made here.
 */
export async function startServer(opts = {}) {
  await ensureBuild();
  const ownDir = !opts.dir;
  const server = new AppServer({
    dir: opts.dir ?? tempDir(),
    dbPath: opts.dbPath,
    clients: opts.clients ?? [BENCH_CLIENT],
    env: { ...BENCH_ENV, ...opts.env },
    appDir: APP_DIR,
    nodeArgs: opts.nodeArgs,
    timeoutMs: opts.timeoutMs ?? 120_000,
    attempts: opts.attempts ?? 4,
    keepOutput: 20_000,
    // In the bench's own process group: Ctrl-C on a benchmark stops its servers too.
    detached: false,
    stopGraceMs: 15_000,
  });
  try {
    await server.start();
  } catch (e) {
    if (ownDir) server.cleanup();
    throw e;
  }
  const { url, port, pid, dir, dbPath, clientsFile, child } = server;
  const stop = async () => {
    await server.stop();
    if (ownDir) server.cleanup();
  };
  return { url, port, pid, dir, dbPath, clientsFile, child, stop, rss: () => rssMb(pid), output: () => server.output };
}
