#!/usr/bin/env node
/**
 * `npm start`: serves the production build (`next start`), building it first when there is none
 * or when the sources changed since it was built — so the README's first command gives pages
 * that answer at once on their first visit, without a separate build step to forget.
 *
 *   node scripts/start.mjs [next start args…]      PORT=8080 npm start; npm start -- -H 0.0.0.0
 *
 * "Changed" is decided on content, not on clocks: a SHA-256 over the files that go into the
 * build (SOURCES below; tests excluded) is stored next to the build in .next/perfect-sources.sha256
 * after a successful `next build`. A build made without this script (`npm run build`, the test
 * runner) has no stamp: it is kept when no source file is newer than it, and the stamp is written
 * then. Data (data/), test output and the like are not sources: they never cause a rebuild.
 *
 * `next start` runs as a child; SIGINT/SIGTERM are passed on to it (and to a build in progress)
 * and this process exits with the child's code.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** What goes into the build: folders walked recursively, and single files at the root. */
export const SOURCE_DIRS = ["app", "components", "hooks", "lib", "db", "public"];
export const SOURCE_FILE_PATTERN =
  /^(next\.config\.[cm]?[jt]s|postcss\.config\.[cm]?[jt]s|tailwind\.config\.[cm]?[jt]s|tsconfig\.json|package\.json|package-lock\.json|proxy\.ts|middleware\.ts|instrumentation\.ts)$/;
/** Inside the source folders: tests and their fixtures are not part of the build. */
const IGNORED_DIR = /^(__tests__|node_modules|\.next|\.git)$/;
const IGNORED_FILE = /\.(test|spec)\.[cm]?[jt]sx?$|^\.DS_Store$/;

export const STAMP = "perfect-sources.sha256";

/** Every source file, relative to root, sorted (so the hash does not depend on readdir order). */
export function sourceFiles(root) {
  const out = [];
  const walk = (rel) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return; // a folder the project does not have (e.g. no hooks/)
    }
    for (const e of entries) {
      const child = path.posix.join(rel, e.name);
      if (e.isDirectory()) {
        if (!IGNORED_DIR.test(e.name)) walk(child);
      } else if (e.isFile() && !IGNORED_FILE.test(e.name)) {
        out.push(child);
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (e.isFile() && SOURCE_FILE_PATTERN.test(e.name)) out.push(e.name);
  }
  return out.sort();
}

/** SHA-256 over each source file's path and content. */
export function sourceHash(root, files = sourceFiles(root)) {
  const h = crypto.createHash("sha256");
  for (const f of files) {
    h.update(f);
    h.update("\0");
    h.update(fs.readFileSync(path.join(root, f)));
    h.update("\0");
  }
  return h.digest("hex");
}

function readStamp(root) {
  try {
    return fs.readFileSync(path.join(root, ".next", STAMP), "utf8").trim();
  } catch {
    return null;
  }
}

export function writeStamp(root, hash) {
  fs.writeFileSync(path.join(root, ".next", STAMP), `${hash}\n`);
}

/**
 * Whether `root` needs a `next build` before `next start`, and why (for the console).
 * Returns { build, reason, hash, adopt }: `adopt` means "keep this build made without the script
 * and write its stamp".
 */
export function decide(root) {
  const files = sourceFiles(root);
  const hash = sourceHash(root, files);
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (!fs.existsSync(buildId)) return { build: true, reason: "there is no production build yet (.next/BUILD_ID is missing)", hash, adopt: false };
  const stamp = readStamp(root);
  if (stamp === hash) return { build: false, reason: "the build is up to date with the sources", hash, adopt: false };
  if (stamp !== null) return { build: true, reason: "the sources changed since the last build", hash, adopt: false };
  // A build made by `next build` directly: trust it unless a source is newer than it.
  const builtAt = fs.statSync(buildId).mtimeMs;
  const newer = files.find((f) => fs.statSync(path.join(root, f)).mtimeMs > builtAt);
  if (newer) return { build: true, reason: `${newer} is newer than the build`, hash, adopt: false };
  return { build: false, reason: "the build is newer than every source", hash, adopt: true };
}

/** Runs a child with inherited output, passing SIGINT/SIGTERM on; resolves to its exit code. */
function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", ...opts });
    const forward = (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const onInt = () => forward("SIGINT");
    const onTerm = () => forward("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    child.on("error", (e) => {
      console.error(`[perfect] cannot run ${cmd}: ${e.message}`);
      resolve(1);
    });
    child.on("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      // A child ended by a signal: the conventional 128 + signal number.
      resolve(code ?? 128 + (os.constants.signals[signal] ?? 15));
    });
  });
}

/** `next start`'s arguments: the caller's, plus `-p $PORT` when PORT is set and no port is given. */
export function startArgs(argv, env = process.env) {
  const hasPort = argv.some((a) => a === "-p" || a === "--port" || a.startsWith("--port=") || /^-p\d+$/.test(a));
  return ["start", ...(env.PORT && !hasPort ? ["-p", env.PORT] : []), ...argv];
}

export async function main(root, argv) {
  const next = path.join(root, "node_modules", ".bin", "next");
  if (!fs.existsSync(next)) {
    console.error("[perfect] node_modules/.bin/next is missing: run `npm install` first");
    return 1;
  }
  const d = decide(root);
  if (d.build) {
    console.log(`[perfect] building the app (next build): ${d.reason} — once; later starts reuse it until the sources change`);
    const code = await run(next, ["build"], { cwd: root });
    if (code !== 0) {
      console.error(`[perfect] next build failed (exit ${code}): not starting`);
      return code;
    }
    writeStamp(root, d.hash);
  } else {
    if (d.adopt) writeStamp(root, d.hash);
    console.log(`[perfect] using the existing build: ${d.reason}`);
  }
  return run(next, startArgs(argv), { cwd: root });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  main(root, process.argv.slice(2)).then((code) => process.exit(code));
}
