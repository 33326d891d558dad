#!/usr/bin/env node
/**
 * Before and after, side by side on one machine in one invocation: the same benchmark scripts
 * (this checkout's) against two builds of the server — `--before DIR` (another checkout, built
 * with `next build`) and this one — alternated round by round so drift on the machine hits both
 * alike. Prints a markdown table of each figure's median (and p99) per side and the ratio, and
 * writes the raw results to bench/results/before-after.json.
 *
 *   node bench/before-after.mjs --before /tmp/before [--rounds 2] [--only dispatch,ingest,sse,e2e]
 *
 * Only benchmarks whose scripts speak a protocol both builds serve make sense here.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { plan } from "./run-all.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const next = argv[i + 1];
    out[argv[i].slice(2)] = next === undefined || next.startsWith("--") ? true : (i++, next);
  }
  return out;
}

function runScript(script, args, appDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bench", script), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...(appDir ? { PERFECT_BENCH_APP_DIR: appDir } : {}) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const fmt = (x) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en-US") : String(Math.round(x * 100) / 100)) : "—");

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.before) throw new Error("--before DIR (a built checkout of the earlier commit) is required");
  const before = path.resolve(args.before);
  const rounds = Number(args.rounds ?? 2);
  const only = String(args.only ?? "dispatch,ingest,sse,e2e").split(",");
  const steps = plan({ db: "" }).filter((s) => only.includes(s.id) && !s.needsDb);
  const results = [];
  for (const step of steps) {
    const sides = { before: [], after: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
      const order = r % 2 ? ["after", "before"] : ["before", "after"];
      for (const side of order) {
        console.error(`[before-after] ${step.id} round ${r + 1}/${rounds}: ${side}`);
        sides[side].push(await runScript(step.script, args.quick ? step.quick : step.args, side === "before" ? before : null));
      }
    }
    results.push({ id: step.id, script: step.script, args: args.quick ? step.quick : step.args, ...sides });
  }
  fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "bench", "results", "before-after.json"), JSON.stringify({ before, rounds, results }, null, 2));
  const lines = ["| benchmark | figure | before (median · p99) | after (median · p99) | after / before |", "| --- | --- | --- | --- | --- |"];
  for (const r of results) {
    const figures = r.after[0].figures.filter((f) => f.kind !== "pending" && f.kind !== "info");
    for (const f of figures) {
      const pick = (side, key) => median(r[side].map((res) => res.figures.find((g) => g.what === f.what)?.[key]));
      const b = pick("before", "median");
      const a = pick("after", "median");
      lines.push(`| ${r.id} | ${f.what} (${f.unit}) | ${fmt(b)} · ${fmt(pick("before", "p99"))} | ${fmt(a)} · ${fmt(pick("after", "p99"))} | ${fmt(a / b)} |`);
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
