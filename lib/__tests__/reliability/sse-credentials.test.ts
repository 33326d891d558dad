/**
 * A live stream (GET /api/events) ends with its credential: the built server rechecks each
 * stream's session or API token every PERFECT_SSE_RECHECK_MS (short here) and ends the streams
 * whose session was logged out or whose token was revoked, while a stream with a valid session,
 * opened first and so rechecked first, stays open. Order and outcome only.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerProcess } from "../../../test/support/server-process";

let s: ServerProcess;

interface Stream {
  opened: Promise<number>;
  ended: Promise<void>;
  isEnded: () => boolean;
  close: () => void;
}

function openStream(headers: Record<string, string>): Stream {
  let done = false;
  let req: http.ClientRequest | undefined;
  let resolveOpened!: (status: number) => void;
  const opened = new Promise<number>((r) => (resolveOpened = r));
  const ended = new Promise<void>((resolve) => {
    req = http.get({ host: "127.0.0.1", port: s.port, path: "/api/events", headers: { accept: "text/event-stream", ...headers }, agent: false }, (res) => {
      resolveOpened(res.statusCode ?? 0);
      res.resume();
      const end = () => {
        done = true;
        resolve();
      };
      res.on("end", end);
      res.on("close", end);
    });
    req.on("error", () => {
      done = true;
      resolve();
    });
  });
  return { opened, ended, isEnded: () => done, close: () => req?.destroy() };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: r.status, cookie: (r.headers.get("set-cookie") ?? "").split(";")[0], json: await r.json().catch(() => null) };
}

describe("live streams end with their credential", () => {
  beforeAll(async () => {
    s = new ServerProcess({ env: { PERFECT_SSE_RECHECK_MS: "300" } });
    await s.start();
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
  }, 60_000);

  it("logout and token revocation end the streams they opened; a valid session's stream stays open", async () => {
    const setup = await post("/api/auth/setup", { username: "root", password: "correct horse battery" });
    expect(setup.status).toBe(201);
    const keep = await post("/api/auth/login", { username: "root", password: "correct horse battery" });
    const leaving = await post("/api/auth/login", { username: "root", password: "correct horse battery" });
    expect([keep.status, leaving.status]).toEqual([200, 200]);
    const token = await post("/api/tokens", { name: "dash", role: "viewer" }, { cookie: setup.cookie });
    expect(token.status).toBe(201);

    const control = openStream({ cookie: keep.cookie });
    expect(await control.opened).toBe(200);
    const bySession = openStream({ cookie: leaving.cookie });
    const byToken = openStream({ authorization: `Bearer ${token.json.token}` });
    expect([await bySession.opened, await byToken.opened]).toEqual([200, 200]);

    expect((await post("/api/auth/logout", {}, { cookie: leaving.cookie })).status).toBeLessThan(300);
    const revoked = await fetch(`${s.url}/api/tokens/${token.json.id}`, { method: "DELETE", headers: { cookie: setup.cookie } });
    expect(revoked.status).toBe(204);

    await bySession.ended;
    await byToken.ended;
    // Opened before them, so rechecked before them: still open, its session valid.
    expect(control.isEnded()).toBe(false);
    // And their reconnects are refused.
    expect(await openStream({ cookie: leaving.cookie }).opened).toBe(401);
    expect(await openStream({ authorization: `Bearer ${token.json.token}` }).opened).toBe(401);
    control.close();
  }, 60_000);
});
