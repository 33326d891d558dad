/**
 * The peers' side of the side-by-side benchmarks: graphile-worker and pg-boss on a PostgreSQL
 * database, BullMQ on a redis-server this module starts itself. Each peer's worker is its own
 * process (bench/lib/peer-worker.mjs), as Perfect's Python workers are; the producer and the
 * "all done?" check live in the benchmark process.
 *
 *  - peerDispatcher(peer): one idle worker process, concurrency 1; fire() = enqueue → the
 *    handler is called (CLOCK_MONOTONIC both sides);
 *  - peerThroughput(peer, { workers, concurrency }): trial(jobs) enqueues `jobs` empty jobs
 *    (8 enqueues in flight, one job each, as Perfect's triggers) and resolves jobs/s until the
 *    queue holds no job that is not completed (checked every 20 ms, as for Perfect).
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { ROOT, freePort } from "./server.mjs";
import { closedLoop } from "./http.mjs";
import { nowMs, sleep } from "./stats.mjs";

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "peer-worker.mjs");
const QUEUE = "bench";

export function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

function within(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Debian's redis-server on a free loopback port, no persistence (`--save "" --appendonly no`):
 * installed with apt-get when missing and we are root. Returns { port, version, stop() }.
 */
export async function startRedis() {
  const which = () => {
    try {
      return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  let bin = which();
  if (!bin && process.getuid?.() === 0) {
    console.error("[bench] redis-server missing: apt-get install -y redis-server …");
    try {
      execFileSync("apt-get", ["install", "-y", "redis-server"], { stdio: ["ignore", process.stderr, "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    } catch {
      execFileSync("apt-get", ["update"], { stdio: ["ignore", process.stderr, "inherit"] });
      execFileSync("apt-get", ["install", "-y", "redis-server"], { stdio: ["ignore", process.stderr, "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    }
    bin = which();
  }
  if (!bin) throw new Error("redis-server is not installed and cannot be installed here (not root): apt-get install redis-server");
  const version = /v=(\S+)/.exec(execFileSync(bin, ["--version"], { encoding: "utf8" }))?.[1];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out = (out + c).slice(-5000)));
    child.stderr.on("data", (c) => (out = (out + c).slice(-5000)));
    const ready = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/Ready to accept connections/i.test(out)) {
          clearTimeout(t);
          resolve(true);
        } else if (child.exitCode !== null) {
          clearTimeout(t);
          resolve(false);
        } else setTimeout(check, 50);
      };
      check();
    });
    if (ready) {
      return {
        port,
        version,
        pid: child.pid,
        async stop() {
          if (child.exitCode !== null) return;
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await Promise.race([exited, sleep(10_000)]);
          if (child.exitCode === null) child.kill("SIGKILL");
        },
      };
    }
    child.kill("SIGKILL");
    if (attempt >= 3) throw new Error(`redis-server did not start:\n${out}`);
  }
}

/**
 * A peer's producer and "all done?" check. kind: graphile-worker | pg-boss (target: a
 * PostgreSQL url) | bullmq (target: a redis port). Sets up the peer's schema/queue first.
 */
export async function openPeer(kind, target) {
  if (kind === "graphile-worker") {
    const { makeWorkerUtils } = await import("graphile-worker");
    const pg = (await import("pg")).default;
    const utils = await makeWorkerUtils({ connectionString: target });
    await utils.migrate();
    const pool = new pg.Pool({ connectionString: target, max: 2 });
    return {
      kind,
      target,
      version: packageVersion("graphile-worker"),
      enqueue: (token) => utils.addJob(QUEUE, { token }),
      // graphile-worker deletes a job once it completed: none left = all done.
      pending: async () => (await pool.query("SELECT count(*)::int AS n FROM graphile_worker.jobs")).rows[0].n,
      async close() {
        await utils.release();
        await pool.end();
      },
    };
  }
  if (kind === "pg-boss") {
    const mod = await import("pg-boss");
    const PgBoss = mod.default ?? mod.PgBoss;
    const boss = new PgBoss(target);
    boss.on("error", (e) => console.error(`[pg-boss] ${e.message}`));
    await boss.start();
    try {
      await boss.createQueue(QUEUE);
    } catch {
      /* exists */
    }
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: target, max: 2 });
    return {
      kind,
      target,
      version: packageVersion("pg-boss"),
      enqueue: (token) => boss.send(QUEUE, { token }),
      pending: async () => (await pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'", [QUEUE])).rows[0].n,
      async close() {
        await boss.stop({ graceful: false, wait: true });
        await pool.end();
      },
    };
  }
  if (kind === "bullmq") {
    const { Queue } = await import("bullmq");
    const queue = new Queue(QUEUE, { connection: { host: "127.0.0.1", port: Number(target), maxRetriesPerRequest: null } });
    await queue.waitUntilReady();
    return {
      kind,
      target,
      version: packageVersion("bullmq"),
      enqueue: (token) => queue.add("empty", { token }),
      pending: async () => {
        const c = await queue.getJobCounts("wait", "active", "delayed", "prioritized", "paused");
        return Object.values(c).reduce((s, n) => s + n, 0);
      },
      close: () => queue.close(),
    };
  }
  throw new Error(`unknown peer ${kind}`);
}

/** One worker process of the peer; resolves once it waits for jobs. */
export function startPeerWorker(peer, { concurrency = 1, onLine = () => {} } = {}) {
  const child = spawn(process.execPath, [WORKER, peer.kind, String(peer.target), String(concurrency)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  readline.createInterface({ input: child.stdout }).on("line", (l) => onLine(l));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${peer.kind} worker did not start:\n${err}`)), 60_000);
    child.stderr.on("data", (c) => {
      err = (err + c).slice(-5000);
      if (/READY/.test(err)) {
        clearTimeout(timer);
        resolve({
          child,
          stderr: () => err,
          async stop() {
            if (child.exitCode !== null) return;
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, sleep(15_000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
          },
        });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${peer.kind} worker exited (${code}):\n${err}`));
    });
  });
}

/** One idle worker process (concurrency 1); fire() = enqueue → handler called, in ms. */
export async function peerDispatcher(peer) {
  const starts = new Map();
  const waiters = new Map();
  const worker = await startPeerWorker(peer, {
    concurrency: 1,
    onLine: (line) => {
      const m = /^START (\S+) (\d+)$/.exec(line);
      if (!m) return;
      const at = Number(BigInt(m[2])) / 1e6;
      starts.set(m[1], at);
      waiters.get(m[1])?.(at);
    },
  });
  await sleep(500);
  let n = 0;
  return {
    async fire() {
      const token = `d${n++}`;
      const started = within(new Promise((r) => waiters.set(token, r)), 10_000, `${peer.kind} job ${token} did not start within 10 s\n${worker.stderr()}`);
      const t0 = nowMs();
      await peer.enqueue(token);
      const at = starts.get(token) ?? (await started);
      waiters.delete(token);
      return at - t0;
    },
    stop: () => worker.stop(),
  };
}

/** `workers` worker processes of `concurrency` each; trial(jobs) → jobs/s until none pending. */
export async function peerThroughput(peer, { workers = 2, concurrency = 4, enqueueConcurrency = 8 } = {}) {
  const seen = new Map();
  const onLine = (line) => {
    const m = /^START (\S+) (\d+)$/.exec(line);
    if (m) seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  };
  const procs = [];
  for (let w = 0; w < workers; w++) procs.push(await startPeerWorker(peer, { concurrency, onLine }));
  await sleep(500);
  let trialNo = 0;
  let tokens = 0;
  return {
    async trial(jobs) {
      const tn = trialNo++;
      const t0 = nowMs();
      const r = await closedLoop({ concurrency: enqueueConcurrency, count: jobs, maxMs: 120_000, send: (i) => peer.enqueue(`t${tn}_${i}`) });
      if (r.failed) throw new Error(`${r.failed} ${peer.kind} enqueues failed`);
      tokens += jobs;
      let last = 0;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const n = await peer.pending();
        last = nowMs();
        if (n === 0) break;
        if (Date.now() > deadline) throw new Error(`${peer.kind}: jobs did not finish within 120 s`);
        await sleep(20);
      }
      return (jobs / (last - t0)) * 1000;
    },
    check() {
      const ran = [...seen].filter(([tok]) => tok.startsWith("t"));
      const duplicates = ran.reduce((s, [, n]) => s + n - 1, 0);
      return { jobs: tokens, duplicates, missing: tokens - ran.length, exactlyOnce: duplicates === 0 && tokens === ran.length };
    },
    async stop() {
      for (const p of procs) await p.stop();
    },
  };
}
