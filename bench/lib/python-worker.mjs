/**
 * The benchmarks' Python workers: one of bench/py's worker scripts served by the real SDK,
 * resolved once it has registered, its stdout report lines handed to `onLine` (with the
 * CLOCK_MONOTONIC time they arrived), stopped with SIGINT and then SIGKILL.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { BENCH_CLIENT, ROOT } from "./server.mjs";
import { sleep } from "./stats.mjs";

const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Starts bench/py/`script` against `base`; `env` adds to the worker's environment. */
export function startPythonWorker(
  base,
  { script = "bench_worker.py", clientId = BENCH_CLIENT.id, token = BENCH_CLIENT.token, maxConcurrentRuns = 4, isolation = "process", env = {}, onLine = () => {} } = {},
) {
  const child = spawn("python3", [path.join(ROOT, "bench", "py", script)], {
    env: {
      ...process.env,
      PERFECT_URL: base,
      PERFECT_CLIENT_ID: clientId,
      PERFECT_TOKEN: token,
      BENCH_MAX_CONCURRENT_RUNS: String(maxConcurrentRuns),
      BENCH_ISOLATION: isolation,
      PYTHONUNBUFFERED: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  readline.createInterface({ input: child.stdout }).on("line", (l) => onLine(l, monoMs()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python worker did not register:\n${err}`)), 30_000);
    child.stderr.on("data", (c) => {
      err = (err + c).slice(-5000);
      if (/serving \d+ flow/.test(err)) {
        clearTimeout(timer);
        resolve({
          child,
          stderr: () => err,
          stop: async () => {
            if (child.exitCode !== null) return;
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGINT");
            await Promise.race([exited, sleep(15_000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
          },
        });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`python worker exited (${code}):\n${err}`));
    });
  });
}

/** The id of the flow `name` of client `clientId`, once a worker has registered it (10 s at most). */
export async function flowIdOf(api, name, clientId = BENCH_CLIENT.id) {
  for (let i = 0; i < 100; i++) {
    const f = (await api.get(`/api/flows?name=${encodeURIComponent(name)}`)).flows.find((x) => x.name === name && (x.clientId ?? x.client?.id ?? clientId) === clientId);
    if (f) return f.id;
    await sleep(100);
  }
  throw new Error(`flow ${name} was not registered`);
}
