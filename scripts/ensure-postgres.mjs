#!/usr/bin/env node
// pretest: the PostgreSQL store tests start throw-away clusters from Debian's PostgreSQL 15
// server binaries (test/support/postgres.mjs). Installs them on a fresh machine when we can
// (root + apt), otherwise says how. No system cluster or service is needed: the tests start
// their own, so the one Debian's package creates is stopped and kept from starting.
import { execSync } from "node:child_process";
import fs from "node:fs";

const INITDB = `${process.env.PERFECT_PG_BIN ?? "/usr/lib/postgresql/15/bin"}/initdb`;
if (fs.existsSync(INITDB)) process.exit(0);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasApt = fs.existsSync("/usr/bin/apt-get");
if (!isRoot || !hasApt) {
  console.error(`[pretest] ${INITDB} is missing. Install Debian's PostgreSQL: sudo apt-get update && sudo apt-get install -y postgresql`);
  process.exit(1);
}
console.log("[pretest] installing Debian's postgresql (needed by the PostgreSQL store tests)…");
try {
  // policy-rc.d exit 101 keeps the package's maintainer scripts from starting a cluster service.
  const policy = "/usr/sbin/policy-rc.d";
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    execSync("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql", { stdio: "inherit", shell: "/bin/bash" });
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
  // If a cluster service did start anyway (systemd machines), stop it: it would hold port 5432.
  execSync("(command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | while read v n; do pg_ctlcluster $v $n stop || true; done) || true", { stdio: "inherit", shell: "/bin/bash" });
} catch {
  console.error("[pretest] apt-get install postgresql failed; install it by hand and rerun npm test");
  process.exit(1);
}
if (!fs.existsSync(INITDB)) {
  console.error(`[pretest] postgresql installed but ${INITDB} is missing (another major version?); set PERFECT_PG_BIN`);
  process.exit(1);
}
