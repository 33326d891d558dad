/** The pieces of access control that are pure or local: hashing, token and cookie shapes, hosts, loopback, roles. */
import { describe, expect, it } from "vitest";
import { bearerOf, cookieValue, newApiToken, parseApiToken, sessionCookie } from "./credentials";
import { allowedHosts, hostAllowed, hostName, isLoopback } from "./hosts";
import { roleAtLeast } from "./roles";
import { hashSecret, sameText, sha256, verifySecret } from "./secrets";

describe("secrets", () => {
  it("scrypt hashes are salted, carry their parameters, and verify only the right secret", async () => {
    const a = await hashSecret("hunter22");
    const b = await hashSecret("hunter22");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toContain("hunter22");
    expect(await verifySecret("hunter22", a)).toBe(true);
    expect(await verifySecret("hunter23", a)).toBe(false);
    expect(await verifySecret("", a)).toBe(false);
  });

  it("a malformed or hostile stored hash never verifies", async () => {
    for (const bad of ["", "plain", "scrypt$1$8$1$x$y", "scrypt$99999999$8$1$AAAA$AAAA", "bcrypt$16384$8$1$AAAA$AAAA", "scrypt$16384$8$1$$"]) {
      expect(await verifySecret("x", bad), bad).toBe(false);
    }
  });

  it("sha256 and constant-time text equality", () => {
    expect(sha256("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(sameText("abc", "abc")).toBe(true);
    expect(sameText("abc", "abd")).toBe(false);
    expect(sameText("abc", "abcd")).toBe(false);
  });
});

describe("credentials", () => {
  it("API tokens: pft_<12 alnum id>_<43 char secret>, parsed back, anything else refused", () => {
    const t = newApiToken();
    expect(t.token).toBe(`pft_${t.id}_${t.secret}`);
    expect(t.id).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(parseApiToken(t.token)).toEqual({ id: t.id, secret: t.secret });
    expect(newApiToken().id).not.toBe(t.id);
    for (const bad of ["", "pft_", `pft_${t.id}`, `xyz_${t.id}_${t.secret}`, `pft_${t.id}_${t.secret}x`, `pft_${t.id}!_${t.secret}`]) expect(parseApiToken(bad), bad).toBeNull();
  });

  it("cookies and bearer headers", () => {
    expect(cookieValue("a=1; perfect_session=abc; b=2", "perfect_session")).toBe("abc");
    expect(cookieValue("xperfect_session=abc", "perfect_session")).toBeNull();
    expect(cookieValue(null, "perfect_session")).toBeNull();
    expect(sessionCookie("id", 60, false)).toBe("perfect_session=id; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
    expect(sessionCookie("id", 60, true)).toMatch(/; Secure$/);
    expect(bearerOf("Bearer pft_x")).toBe("pft_x");
    expect(bearerOf("bearer   pft_x  ")).toBe("pft_x");
    expect(bearerOf("Basic abc")).toBeNull();
    expect(bearerOf("Bearer a b")).toBeNull();
  });
});

describe("hosts and loopback", () => {
  it("the default allow-list: loopback names and this machine's own; the env var replaces it; * allows any", () => {
    const d = allowedHosts({});
    for (const h of ["localhost:3000", "127.0.0.1:3000", "[::1]:3000", "LOCALHOST"]) expect(hostAllowed(h, d), h).toBe(true);
    for (const h of ["attacker.test", "attacker.test:3000", "127.0.0.1.attacker.test", "", undefined]) expect(hostAllowed(h, d), String(h)).toBe(false);
    const lan = allowedHosts({ PERFECT_ALLOWED_HOSTS: "perfect.lan, 10.0.0.5" });
    expect(hostAllowed("10.0.0.5:3000", lan)).toBe(true);
    expect(hostAllowed("perfect.lan", lan)).toBe(true);
    expect(hostAllowed("localhost", lan)).toBe(false);
    expect(allowedHosts({ PERFECT_ALLOWED_HOSTS: "*" })).toBeNull();
    expect(hostAllowed("anything", null)).toBe(true);
    expect(hostName("[::1]:80")).toBe("[::1]");
  });

  it("loopback is 127.0.0.0/8, ::1 and IPv4-mapped loopback; nothing else", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.1", "192.168.1.5", "::ffff:10.0.0.1", "fe80::1", "unknown", "", null, undefined, "127.0.0.1.evil"]) expect(isLoopback(a), String(a)).toBe(false);
  });

  it("roles: viewer < operator < admin", () => {
    const table: [Parameters<typeof roleAtLeast>[0], Parameters<typeof roleAtLeast>[1], boolean][] = [
      ["viewer", "viewer", true], ["viewer", "operator", false], ["viewer", "admin", false],
      ["operator", "viewer", true], ["operator", "operator", true], ["operator", "admin", false],
      ["admin", "viewer", true], ["admin", "operator", true], ["admin", "admin", true],
    ];
    for (const [have, need, ok] of table) expect(roleAtLeast(have, need), `${have} ≥ ${need}`).toBe(ok);
  });
});
