/**
 * One worker event batch through the engine in-process, no HTTP: N single-log-event batches
 * (the ingest bench's "one event a request" without Next) on a SQLite file, reporting wall and
 * CPU µs per batch. For a figure that a busy machine cannot move, count instructions with
 * callgrind at two sizes and divide the difference (startup and JIT warm-up cancel out):
 *
 *   N=500  valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.500  node --import tsx bench/engine-batch.mts
 *   N=2500 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.2500 node --import tsx bench/engine-batch.mts
 *   → (Ir(2500) − Ir(500)) / 2000 instructions per batch
 *
 * ENGINE=<path of another checkout's test engine module> measures that build the same way
 * (before the redesign: <checkout>/lib/testing/test-engine.ts). tsx comes with drizzle-kit.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const enginePath = process.env.ENGINE ?? new URL("../test/support/test-engine.ts", import.meta.url).pathname;
const { createTestEngine } = await import(pathToFileURL(enginePath).href);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-engine-batch-"));
const { engine } = createTestEngine({ file: path.join(dir, "batch.db") });
await engine.ready;
const reg = await engine.register("acme", { worker: {}, flows: [{ name: "F", tags: {}, tasks: [{ name: "emit", estimatedTime: 1000 }], parameters: [] }] });
for (let i = 0; i < 16; i++) await engine.triggerRun(reg.flows[0].id, {}, "api");
const claimed = await engine.claim("acme", reg.workerId, 16);
const seqs = new Map<string, number>();
for (const r of claimed) {
  await engine.applyEvents("acme", r.id, { workerId: reg.workerId, events: [{ seq: 1, type: "task_started", call: 0, task: "emit", attempt: 1 }] });
  seqs.set(r.id, 1);
}
const N = Number(process.env.N ?? 20000);
const t0 = performance.now();
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) {
  const r = claimed[i % claimed.length];
  const seq = seqs.get(r.id)! + 1;
  seqs.set(r.id, seq);
  const ts = new Date().toISOString();
  await engine.applyEvents("acme", r.id, { workerId: reg.workerId, sentAt: ts, events: [{ seq, type: "log", ts, level: "INFO", message: `processed chunk ${i}` }] });
}
const wall = performance.now() - t0;
const cpu = process.cpuUsage(c0);
console.log(`${N} single-event batches: ${((wall / N) * 1000).toFixed(1)} µs wall, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU each`);
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
