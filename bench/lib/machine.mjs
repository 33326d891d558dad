/** The machine a figure was measured on (cores, CPU model, memory, Node, SQLite). */
import fs from "node:fs";
import os from "node:os";

export function machineInfo() {
  let model = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpu: model,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}
