/**
 * `npm start`'s decision (scripts/start.mjs): build when there is no build or the sources
 * changed, reuse the build otherwise; data, test output and tests are not sources. On a
 * temporary directory laid out like the project, with a fake `.next/BUILD_ID`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decide, sourceFiles, startArgs, writeStamp } from "../../scripts/start.mjs";

let root: string;

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

/** What a successful `npm start` build leaves: BUILD_ID and the stamp of the sources it saw. */
function built(): void {
  const d = decide(root);
  write(".next/BUILD_ID", "abc");
  writeStamp(root, d.hash);
}

/** Sets a file's modification time `s` seconds from now. */
function touchAt(rel: string, s: number): void {
  const t = new Date(Date.now() + s * 1000);
  fs.utimesSync(path.join(root, rel), t, t);
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-start-"));
  write("app/page.tsx", "export default function Page() { return null; }\n");
  write("components/ui/button.tsx", "export const x = 1;\n");
  write("lib/engine.ts", "export const y = 2;\n");
  write("lib/__tests__/engine.test.ts", "// a test\n");
  write("public/favicon.svg", "<svg/>");
  write("package.json", "{}\n");
  write("package-lock.json", "{}\n");
  write("next.config.mjs", "export default {};\n");
  write("tsconfig.json", "{}\n");
  write("README.md", "# readme\n");
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe("scripts/start.mjs: build or not", () => {
  it("builds when there is no build", () => {
    const d = decide(root);
    expect(d.build).toBe(true);
    expect(d.reason).toMatch(/no production build/);
  });

  it("builds when .next exists but holds no finished build", () => {
    write(".next/cache/x", "partial");
    expect(decide(root).build).toBe(true);
  });

  it("does not build again when nothing changed", () => {
    built();
    const d = decide(root);
    expect(d.build).toBe(false);
    expect(d.reason).toMatch(/up to date/);
  });

  it("builds when a source file's content changed", () => {
    built();
    write("components/ui/button.tsx", "export const x = 3;\n");
    const d = decide(root);
    expect(d.build).toBe(true);
    expect(d.reason).toMatch(/sources changed/);
  });

  it("builds when a source file is added, or removed", () => {
    built();
    write("app/runs/page.tsx", "export default function Runs() { return null; }\n");
    expect(decide(root).build).toBe(true);
    built();
    fs.rmSync(path.join(root, "app/runs/page.tsx"));
    expect(decide(root).build).toBe(true);
  });

  it("builds when the lock file or the Next config changed", () => {
    built();
    write("package-lock.json", '{"lockfileVersion":3}\n');
    expect(decide(root).build).toBe(true);
    built();
    write("next.config.mjs", "export default { poweredByHeader: false };\n");
    expect(decide(root).build).toBe(true);
  });

  it("a touched source with the same content needs no build (content, not clocks)", () => {
    built();
    touchAt("lib/engine.ts", 60);
    expect(decide(root).build).toBe(false);
  });

  it("does not build for changes outside the sources: data/, test-results/, tests, the README", () => {
    built();
    write("data/perfect.db", "sqlite bytes");
    write("test-results/e2e-logs/server.log", "log");
    write("lib/__tests__/engine.test.ts", "// another test\n");
    write("lib/__tests__/new.test.ts", "// new test\n");
    write("README.md", "# changed readme\n");
    write(".next/cache/y", "cache");
    expect(decide(root).build).toBe(false);
    expect(sourceFiles(root)).not.toContain("README.md");
    expect(sourceFiles(root).some((f) => f.startsWith("data/") || f.includes("__tests__"))).toBe(false);
  });

  it("a build made without the script (no stamp) is kept when it is newer than every source, rebuilt otherwise", () => {
    write(".next/BUILD_ID", "abc");
    touchAt(".next/BUILD_ID", 60);
    const kept = decide(root);
    expect(kept.build).toBe(false);
    expect(kept.adopt).toBe(true);

    touchAt("lib/engine.ts", 120);
    const stale = decide(root);
    expect(stale.build).toBe(true);
    expect(stale.reason).toBe("lib/engine.ts is newer than the build");
  });

  it("passes PORT on as -p unless a port is given, and keeps the caller's arguments", () => {
    expect(startArgs([], { PORT: "8080" })).toEqual(["start", "-p", "8080"]);
    expect(startArgs(["-H", "0.0.0.0"], {})).toEqual(["start", "-H", "0.0.0.0"]);
    expect(startArgs(["-p", "4000"], { PORT: "8080" })).toEqual(["start", "-p", "4000"]);
    expect(startArgs(["--port=4000"], { PORT: "8080" })).toEqual(["start", "--port=4000"]);
  });
});
