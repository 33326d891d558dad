/**
 * Access control over real HTTP (the route handlers behind the test harness, a real engine on
 * SQLite with a controlled clock): setup, login and logout, sessions, tokens, the last admin,
 * brute force, audit of who triggered and cancelled, no secret in clear in the database file,
 * and the front door's Host check and socket-address judgement on a raw HTTP server.
 */
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { AccessControl, accessOf } from "../auth/access";
import { FrontDoor, installFrontDoor, peerOf } from "../api/front-door";
import { loadLimits } from "../api/limits";
import { isHttps } from "../auth/http";
import { pageAccess } from "../auth/page-gate";
import { ManualClock } from "../engine/clock";
import { ETL_FLOW, api, serveTestEngine } from "./helpers";

const { env, fresh } = serveTestEngine();
const PW = "correct horse battery";

function cookieOf(res: { headers: Headers }): string {
  const set = res.headers.get("set-cookie") ?? "";
  return set.split(";")[0];
}

async function withAdmin(over: Parameters<typeof fresh>[0] = {}) {
  const e = fresh(over);
  const a = api(e);
  const setup = await a.post("/api/auth/setup", { username: "root", password: PW });
  expect(setup.status).toBe(201);
  const admin = { cookie: cookieOf(setup) };
  const as = (h: Record<string, string>) => ({
    get: (p: string) => a.call("GET", p, undefined, h),
    post: (p: string, b: unknown = {}) => a.call("POST", p, b, h),
    patch: (p: string, b: unknown) => a.call("PATCH", p, b, h),
    del: (p: string) => a.call("DELETE", p, undefined, h),
  });
  return { e, a, admin, as, root: as(admin) };
}

describe("setup", () => {
  it("before setup loopback needs no login; setup makes the first admin, signs them in, and is refused afterwards (409, nothing changed)", async () => {
    const e = fresh();
    const a = api(e);
    expect((await a.get("/api/auth/status")).body).toEqual({ setupRequired: true, loopback: true });
    expect((await a.get("/api/flows")).status).toBe(200);
    expect((await a.get("/api/auth/me")).body).toMatchObject({ username: null, role: "admin", via: "local", setupRequired: true });
    expect((await a.post("/api/auth/setup", { username: "root", password: "short" })).status).toBe(400);
    const setup = await a.post("/api/auth/setup", { username: "root", password: PW });
    expect(setup.status).toBe(201);
    const set = setup.headers.get("set-cookie")!;
    expect(set).toMatch(/^perfect_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect((await a.call("GET", "/api/auth/me", undefined, { cookie: cookieOf(setup) })).body).toMatchObject({ username: "root", role: "admin", via: "session" });
    // Now the machine itself needs credentials like anyone else.
    expect((await a.get("/api/flows")).status).toBe(401);
    const again = await a.post("/api/auth/setup", { username: "second", password: PW });
    expect(again.status).toBe(409);
    expect((await e.store.listUsers()).map((u) => u.username)).toEqual(["root"]);
    expect((await a.get("/api/auth/status")).body).toEqual({ setupRequired: false, loopback: true });
  });

  it("judges the socket's address, not headers: a spoofed X-Forwarded-For or x-perfect-peer from 127.0.0.1 is still loopback; a non-loopback peer gets 401 with how to set up", async () => {
    const e = fresh();
    const a = api(e);
    const spoofed = await a.call("GET", "/api/flows", undefined, { "x-forwarded-for": "203.0.113.9", "x-perfect-peer": "203.0.113.9" });
    expect(spoofed.status).toBe(200);
    // The rule itself, given a non-loopback peer as the front door would pass it on.
    const access = accessOf(e.engine);
    expect(await access.identify({ cookie: null, authorization: null, peer: "203.0.113.9" })).toBeNull();
    await expect(access.require({ cookie: null, authorization: null, peer: "::ffff:10.1.2.3" }, "viewer")).rejects.toMatchObject({ code: "unauthorized", message: expect.stringMatching(/api\/auth\/setup/) });
    await expect(access.setup("10.1.2.3", { username: "x", password: PW })).rejects.toMatchObject({ code: "forbidden" });
    expect(await e.store.countUsers()).toBe(0);
    expect(await access.identify({ cookie: null, authorization: null, peer: "127.0.0.1" })).toMatchObject({ kind: "local", role: "admin" });
    // The front door's peer: the socket, unless PERFECT_TRUST_PROXY=1.
    const req = { socket: { remoteAddress: "127.0.0.1" }, headers: { "x-forwarded-for": "203.0.113.9" } } as unknown as http.IncomingMessage;
    expect(peerOf(req, false)).toBe("127.0.0.1");
    expect(peerOf(req, true)).toBe("203.0.113.9");
  });
});

describe("sessions", () => {
  it("login sets a rotated session; logout deletes it server-side; wrong pairs get one generic answer", async () => {
    const { a, root } = await withAdmin();
    expect((await root.post("/api/users", { username: "vera", password: PW, role: "viewer" })).status).toBe(201);
    const first = await a.post("/api/auth/login", { username: "vera", password: PW });
    expect(first.status).toBe(200);
    expect(first.body.user).toMatchObject({ username: "vera", role: "viewer" });
    const c1 = cookieOf(first);
    const second = await a.call("POST", "/api/auth/login", { username: "vera", password: PW }, { cookie: c1 });
    const c2 = cookieOf(second);
    expect(c2).not.toBe(c1);
    // Rotated: the session the browser held before the login is gone.
    expect((await a.call("GET", "/api/auth/me", undefined, { cookie: c1 })).status).toBe(401);
    expect((await a.call("GET", "/api/auth/me", undefined, { cookie: c2 })).body.username).toBe("vera");
    const wrongPw = await a.post("/api/auth/login", { username: "vera", password: "nope-nope" });
    const noUser = await a.post("/api/auth/login", { username: "nobody", password: "nope-nope" });
    expect([wrongPw.status, noUser.status]).toEqual([401, 401]);
    expect(wrongPw.body).toEqual(noUser.body);
    expect(wrongPw.body.error.message).toBe("invalid username or password");
    const out = await a.call("POST", "/api/auth/logout", undefined, { cookie: c2 });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^perfect_session=; .*Max-Age=0/);
    expect((await a.call("GET", "/api/auth/me", undefined, { cookie: c2 })).status).toBe(401);
  });

  it("a session expires after its idle time (sliding while used)", async () => {
    const clock = new ManualClock();
    const { a, admin } = await withAdmin({ clock });
    const idle = accessOf(env.engine).config.sessionIdleMs;
    clock.advance(idle - 60_000);
    expect((await a.call("GET", "/api/flows", undefined, admin)).status).toBe(200); // slides it
    clock.advance(idle - 60_000);
    expect((await a.call("GET", "/api/flows", undefined, admin)).status).toBe(200);
    clock.advance(idle + 1);
    expect((await a.call("GET", "/api/flows", undefined, admin)).status).toBe(401);
  });
});

describe("brute force", () => {
  it("N bad logins → 429 with Retry-After, then even the right password is refused until the window passes", async () => {
    const clock = new ManualClock();
    const { a } = await withAdmin({ clock });
    const { maxFailures, windowMs } = accessOf(env.engine).config;
    for (let i = 0; i < maxFailures; i++) expect((await a.post("/api/auth/login", { username: "root", password: `wrong-${i}` })).status).toBe(401);
    const locked = await a.post("/api/auth/login", { username: "root", password: PW });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBe(Math.ceil(windowMs / 1000));
    // Another instance shares the count: it lives in login_failures.
    const other = new AccessControl(env.store, clock);
    await expect(other.login("127.0.0.1", { username: "root", password: PW }, null)).rejects.toMatchObject({ code: "rate_limited" });
    clock.advance(windowMs - 1000);
    expect((await a.post("/api/auth/login", { username: "root", password: PW })).status).toBe(429);
    clock.advance(1000);
    expect((await a.post("/api/auth/login", { username: "root", password: PW })).status).toBe(200);
  });
});

describe("users, roles and tokens", () => {
  it("the last admin cannot be demoted or deleted (409); with two admins one can go", async () => {
    const { root, e } = await withAdmin();
    expect((await root.patch("/api/users/root", { role: "viewer" })).status).toBe(409);
    expect((await root.del("/api/users/root")).status).toBe(409);
    expect((await root.post("/api/users", { username: "ada", password: PW, role: "admin" })).status).toBe(201);
    expect((await root.post("/api/users", { username: "ada", password: PW, role: "viewer" })).status).toBe(409);
    expect((await root.patch("/api/users/ada", { role: "operator" })).body).toMatchObject({ username: "ada", role: "operator" });
    expect((await root.patch("/api/users/ada", { role: "admin" })).status).toBe(200);
    expect((await root.del("/api/users/root")).status).toBe(204);
    expect((await e.store.listUsers()).map((u) => [u.username, u.role])).toEqual([["ada", "admin"]]);
    expect((await root.get("/api/users")).status).toBe(401); // root's sessions went with it
  });

  it("a viewer reads but a forged trigger is 403 and creates nothing; an operator token triggers and cancels, recorded as triggeredBy / cancelledBy", async () => {
    const { a, root, as, e } = await withAdmin();
    const flowId = (await a.worker().register([ETL_FLOW])).body.flows[0].id;
    await root.post("/api/users", { username: "vera", password: PW, role: "viewer" });
    const vera = as({ cookie: cookieOf(await a.post("/api/auth/login", { username: "vera", password: PW })) });
    expect((await vera.get("/api/flows")).status).toBe(200);
    const forged = await vera.post(`/api/flows/${flowId}/runs`, {});
    expect(forged.status).toBe(403);
    expect((await e.store.listRuns({ state: [], tag: [], limit: 10 })).runs).toEqual([]);

    const made = await root.post("/api/tokens", { name: "ci-bot", role: "operator" });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^pft_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const listed = (await root.get("/api/tokens")).body.tokens;
    expect(listed).toEqual([expect.objectContaining({ id: made.body.id, name: "ci-bot", role: "operator", createdBy: "root", revokedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(made.body.token.slice(17));
    const bot = as({ authorization: `Bearer ${made.body.token}` });
    const run = (await bot.post(`/api/flows/${flowId}/runs`, {})).body;
    expect(run).toMatchObject({ triggeredBy: "ci-bot", cancelledBy: null });
    const byRoot = (await root.post(`/api/flows/${flowId}/runs`, {})).body;
    expect(byRoot.triggeredBy).toBe("root");
    expect((await bot.post(`/api/runs/${byRoot.id}/cancel`)).body).toMatchObject({ state: "CANCELLED", cancelledBy: "ci-bot" });
    expect((await vera.get(`/api/runs?triggeredBy=ci-bot`)).body.runs.map((r: { id: string }) => r.id)).toEqual([run.id]);
    expect((await vera.get(`/api/runs?triggeredBy=root`)).body.runs.map((r: { id: string }) => r.id)).toEqual([byRoot.id]);
    // The token costs no scrypt per request once verified, yet a revoke counts at once.
    expect((await bot.get("/api/auth/me")).body).toMatchObject({ username: "ci-bot", role: "operator", via: "token" });
    expect((await root.del(`/api/tokens/${made.body.id}`)).status).toBe(204);
    expect((await bot.get("/api/flows")).status).toBe(401);
    expect((await root.del(`/api/tokens/nope`)).status).toBe(404);
  });

  it("runs the scheduler makes are triggeredBy `schedule`", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { a, root, e } = await withAdmin({ clock });
    const flowId = (await a.worker().register([ETL_FLOW])).body.flows[0].id;
    expect((await root.post(`/api/flows/${flowId}/schedules`, { intervalSeconds: 60 })).status).toBe(201);
    clock.advance(61_000);
    await e.engine.fireDueSchedules();
    const runs = (await root.get(`/api/runs?triggeredBy=schedule`)).body.runs;
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r: { trigger: string; triggeredBy: string }) => r.trigger === "schedule" && r.triggeredBy === "schedule")).toBe(true);
  });
});

describe("several instances", () => {
  it("a token revoked through one instance is refused at once by another that had it cached", async () => {
    const { root, e } = await withAdmin();
    const made = (await root.post("/api/tokens", { name: "shared", role: "viewer" })).body;
    const other = new AccessControl(e.store, e.clock);
    const creds = { cookie: null, authorization: `Bearer ${made.token}`, peer: "10.0.0.9" };
    expect(await other.identify(creds)).toMatchObject({ kind: "token", name: "shared" }); // verified and cached there
    expect((await root.del(`/api/tokens/${made.id}`)).status).toBe(204);
    expect(await other.identify(creds)).toBeNull();
    // A wrong secret under a real id never passes, cached or not.
    const forged = { ...creds, authorization: `Bearer pft_${made.id}_${"x".repeat(43)}` };
    expect(await other.identify(forged)).toBeNull();
  });
});

describe("a token id under attack", () => {
  it("wrong secrets for a real token id: 401 up to the budget, then 429 without scrypt; the cached holder keeps working; the window ends it", async () => {
    const clock = new ManualClock();
    const { root, a } = await withAdmin({ clock });
    const made = (await root.post("/api/tokens", { name: "ci", role: "viewer" })).body;
    const good = { authorization: `Bearer ${made.token}` };
    expect((await a.call("GET", "/api/flows", undefined, good)).status).toBe(200); // verified, cached
    const { maxFailures, windowMs } = accessOf(env.engine).config;
    const forged = (i: number) => ({ authorization: `Bearer pft_${made.id}_${String(i).padStart(43, "x")}` });
    for (let i = 0; i < maxFailures; i++) expect((await a.call("GET", "/api/flows", undefined, forged(i))).status).toBe(401);
    const refused = await a.call("GET", "/api/flows", undefined, forged(99));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBe(Math.ceil(windowMs / 1000));
    // Another instance shares the budget (login_failures), and refuses before scrypt.
    const other = new AccessControl(env.store, clock);
    await expect(other.identify({ cookie: null, peer: "10.0.0.9", ...forged(100) })).rejects.toMatchObject({ code: "rate_limited" });
    // The holder's token, verified before, is served from the cache meanwhile.
    expect((await a.call("GET", "/api/flows", undefined, good)).status).toBe(200);
    clock.advance(windowMs);
    expect((await a.call("GET", "/api/flows", undefined, forged(101))).status).toBe(401);
  });
});

describe("pages", () => {
  it("before setup a page from another address is 401 with how to set up; from loopback it is served; /login and /setup always are", async () => {
    const e = fresh();
    const access = accessOf(e.engine);
    const page = (url: string, peer: string, headers: Record<string, string> = {}) => pageAccess(access, { method: "GET", url, headers, peer });
    expect(await page("/runs", "127.0.0.1")).toBeNull();
    const refused = await page("/runs", "192.168.1.20", { "x-forwarded-for": "127.0.0.1" });
    expect(refused).toMatchObject({ status: 401, text: expect.stringMatching(/\/setup/) });
    expect(await page("/login", "192.168.1.20")).toBeNull();
    expect(await page("/setup", "192.168.1.20")).toBeNull();
    await access.setup("127.0.0.1", { username: "root", password: PW });
    expect(await page("/", "127.0.0.1")).toMatchObject({ status: 302, location: "/login?next=%2F" });
    expect(await page("//evil.example/x", "127.0.0.1")).toMatchObject({ status: 302, location: "/login?next=%2F" });
  });

  it("the session cookie is Secure over HTTPS, and for X-Forwarded-Proto only with PERFECT_TRUST_PROXY=1", () => {
    expect(isHttps(new Request("https://perfect.example/api/auth/login"))).toBe(true);
    expect(isHttps(new Request("http://127.0.0.1/api/auth/login", { headers: { "x-forwarded-proto": "https" } }))).toBe(false);
  });
});

describe("secrets at rest", () => {
  it("the SQLite file holds no password, token or session id in clear", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perfect-access-"));
    const file = path.join(dir, "perfect.db");
    try {
      const { a, root } = await withAdmin({ file });
      await root.post("/api/users", { username: "vera", password: "vera-secret-password", role: "viewer" });
      const sid = cookieOf(await a.post("/api/auth/login", { username: "vera", password: "vera-secret-password" })).split("=")[1];
      const token = (await root.post("/api/tokens", { name: "ci", role: "viewer" })).body.token as string;
      expect((await a.call("GET", "/api/flows", undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
      (env.db.$client as { pragma(s: string): unknown }).pragma("wal_checkpoint(TRUNCATE)");
      const bytes = Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
      for (const secret of [PW, "vera-secret-password", token, token.slice(17), sid]) {
        expect(secret.length).toBeGreaterThanOrEqual(17);
        expect(bytes.includes(Buffer.from(secret)), `found in clear: ${secret.slice(0, 6)}…`).toBe(false);
      }
      expect(bytes.includes(Buffer.from("vera"))).toBe(true); // the file was read: the username is there
    } finally {
      await env.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the front door on a raw HTTP server", () => {
  it("a Host not in the allow-list is 421 before routing, even with a matching Origin; the worker protocol is exempt; pages redirect to /login after setup", async () => {
    const e = fresh();
    const limits = { ...loadLimits({} as NodeJS.ProcessEnv), refusals: { delayMs: 0, maxHeld: 10 } };
    const access = accessOf(e.engine);
    installFrontDoor(new FrontDoor(limits, () => ({ authenticate: () => true }), Date.now, (r) => pageAccess(access, r)));
    const served: string[] = [];
    const server = http.createServer((req, res) => {
      served.push(`${req.method} ${req.url} peer=${req.headers["x-perfect-peer"]}`);
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1", () => sock.end(text));
        let out = "";
        sock.on("data", (d) => (out += d));
        sock.on("end", () => resolve(out));
        sock.on("error", reject);
      });
    try {
      const evil = await raw("POST /api/flows/1/runs HTTP/1.1\r\nHost: attacker.test\r\nOrigin: http://attacker.test\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
      expect(evil.split("\r\n")[0]).toBe("HTTP/1.1 421 Misdirected Request");
      const evilPage = await raw("GET / HTTP/1.1\r\nHost: attacker.test:3000\r\nConnection: close\r\n\r\n");
      expect(evilPage.split("\r\n")[0]).toMatch(/ 421 /);
      const worker = await raw("POST /api/worker/acme/heartbeat HTTP/1.1\r\nHost: 10.0.0.7:3000\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      expect(worker.split("\r\n")[0]).toMatch(/ 200 /);
      const page = await raw(`GET /runs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n`);
      expect(page.split("\r\n")[0]).toMatch(/ 200 /); // before setup, from loopback: served
      await access.setup("127.0.0.1", { username: "root", password: PW });
      const after = await raw(`GET /runs?x=1 HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`);
      expect(after.split("\r\n")[0]).toMatch(/ 302 /);
      expect(after).toMatch(/\r\nlocation: \/login\?next=%2Fruns%3Fx%3D1\r\n/i);
      const login = await raw(`GET /login HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`);
      expect(login.split("\r\n")[0]).toMatch(/ 200 /);
      expect(served).toEqual([`POST /api/worker/acme/heartbeat peer=127.0.0.1`, `GET /runs peer=127.0.0.1`, `GET /login peer=127.0.0.1`]);
    } finally {
      installFrontDoor(new FrontDoor(limits, () => undefined));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
