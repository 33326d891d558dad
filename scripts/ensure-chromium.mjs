#!/usr/bin/env node
// pretest: the end-to-end suite drives Debian's Chromium (Playwright cannot download browsers
// here). Installs it on a fresh machine when we can (root + apt), otherwise says how.
import { execSync } from "node:child_process";
import fs from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
if (fs.existsSync(CHROMIUM)) process.exit(0);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasApt = fs.existsSync("/usr/bin/apt-get");
if (!isRoot || !hasApt) {
  console.error(`[pretest] ${CHROMIUM} is missing. Install Debian's Chromium: sudo apt-get update && sudo apt-get install -y chromium`);
  process.exit(1);
}
console.log("[pretest] installing Debian's chromium (needed by the end-to-end tests)…");
try {
  execSync("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium", { stdio: "inherit", shell: "/bin/bash" });
} catch {
  console.error("[pretest] apt-get install chromium failed; install it by hand and rerun npm test");
  process.exit(1);
}
