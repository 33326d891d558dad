/**
 * Runs the BUILT app (`next start`) as its own process on a free loopback port, with a temp
 * database and clients file: the load generators always run in a different process.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./stats.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The app to serve: this checkout, or another built copy (PERFECT_BENCH_APP_DIR) for before/after runs. */
export const APP_DIR = process.env.PERFECT_BENCH_APP_DIR ? path.resolve(process.env.PERFECT_BENCH_APP_DIR) : ROOT;
export const BENCH_CLIENT = { id: "bench", name: "Bench Client", performanceSensitivity: "normal", token: "bench-token" };

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "perfect-bench-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Builds once when there is no build; another engineer's rebuild in progress is waited out. */
export async function ensureBuild() {
  const id = path.join(APP_DIR, ".next", "BUILD_ID");
  for (let i = 0; i < 60 && !fs.existsSync(id); i++) {
    if (i === 0 && !fs.existsSync(path.join(APP_DIR, ".next"))) break;
    await sleep(2000); // a concurrent `next build` removes BUILD_ID until it finishes
  }
  if (!fs.existsSync(id)) {
    console.error("[bench] no build found: running `next build` …");
    execFileSync(path.join(APP_DIR, "node_modules", ".bin", "next"), ["build"], { cwd: APP_DIR, stdio: "inherit" });
  }
}

/** Resident set size of a process and its descendants, in MB (Linux /proc). */
export function rssMb(pid) {
  const seen = new Set();
  let kb = 0;
  let peakKb = 0;
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peakKb += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        const kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim();
        if (kids) for (const k of kids.split(/\s+/)) visit(Number(k));
      }
    } catch {
      /* gone */
    }
  };
  visit(pid);
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

/**
 * Starts `next start` with its own PERFECT_DB_PATH and PERFECT_CLIENTS_FILE and waits for
 * /api/health. Options: dbPath (reuse a seeded file), clients, env, nodeArgs (e.g. --cpu-prof),
 * timeoutMs and attempts (a concurrent `next build` can make a start fail; it is retried).
 */
export async function startServer(opts = {}) {
  await ensureBuild();
  const ownDir = !opts.dir;
  const dir = opts.dir ?? tempDir();
  const dbPath = opts.dbPath ?? path.join(dir, "perfect.db");
  const clientsFile = path.join(dir, "clients.json");
  fs.writeFileSync(clientsFile, JSON.stringify({ clients: opts.clients ?? [BENCH_CLIENT] }));
  let lastError;
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(APP_DIR, "node_modules", "next", "dist", "bin", "next"), "start", "-p", String(port), "-H", "127.0.0.1"], {
      cwd: APP_DIR,
      env: {
        ...process.env,
        NODE_ENV: "production",
        PERFECT_DB_PATH: dbPath,
        PERFECT_CLIENTS_FILE: clientsFile,
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
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => (output = (output + c).slice(-20_000)));
    child.stderr.on("data", (c) => (output = (output + c).slice(-20_000)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    let healthy = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const r = await fetch(`${url}/api/health`);
        if (r.ok) {
          healthy = true;
          break;
        }
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    if (healthy) {
      const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await Promise.race([exited, sleep(15_000)]);
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        }
        if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
      };
      return { url, port, pid: child.pid, dir, dbPath, clientsFile, child, stop, rss: () => rssMb(child.pid), output: () => output };
    }
    lastError = new Error(`server did not start (attempt ${attempt}):\n${output.slice(-3000)}`);
    if (ownDir && attempt === attempts) fs.rmSync(dir, { recursive: true, force: true });
    child.kill("SIGKILL");
    if (attempt === attempts) break;
    // Most likely a concurrent rebuild of .next: wait for it and try again.
    await sleep(5000);
    await ensureBuild();
  }
  throw lastError;
}
