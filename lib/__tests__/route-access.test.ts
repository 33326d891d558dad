/**
 * Every route under app/api (found on disk) × every kind of caller → the status it must get,
 * on SQLite and on PostgreSQL. The table below is the rule book: a route file or method that
 * appears without a row FAILS this test (and so does a row whose route is gone). Each cell runs
 * on a fresh database seeded the same way, and a refused request must leave it unchanged.
 *
 * To add a route: one row `"METHOD /api/path/:param": { role, ok, body? }` — `role` is the
 * least role the route's wrapper states (`public`: anyone; `worker`: the worker protocol, which
 * dashboard credentials never open), `ok` the status an allowed caller gets for this request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserRole } from "../domain/states";
import { ManualClock } from "../engine/clock";
import { setEngine } from "../server";
import { openPostgresBackend } from "../store/postgres";
import { startTestDatabases, type TestDatabases } from "../store/postgres/test-database";
import { openSqliteBackend } from "../store/sqlite";
import type { Backend } from "../store/store";
import { apiClient } from "../../test/support/api-client";
import { apiRoutes, startHarness } from "../../test/support/http-harness";
import { engineOn } from "../../test/support/test-engine";
import { AccessControl } from "../auth/access";
import { hashSecret, sha256 } from "../auth/secrets";
import { SESSION_COOKIE } from "../auth/credentials";
import { ETL_FLOW } from "./helpers";

type Rule = UserRole | "public" | "worker";
interface Row {
  role: Rule;
  /** The status for a caller the rule lets in (this request, on the seeded database). */
  ok: number;
  body?: unknown;
}

const PASSWORD = "correct horse battery";

/** THE TABLE. Params: :id of flows/runs/schedules/tokens are the seeded ones, :username "victim", :key "db", :clientId "acme". */
export const ROUTE_TABLE: Record<string, Row> = {
  "GET /api/health": { role: "public", ok: 200 },
  "GET /api/auth/status": { role: "public", ok: 200 },
  "POST /api/auth/setup": { role: "public", ok: 409, body: { username: "second", password: PASSWORD } },
  "POST /api/auth/login": { role: "public", ok: 200, body: { username: "victim", password: PASSWORD } },
  "POST /api/auth/logout": { role: "public", ok: 204 },
  "GET /api/auth/me": { role: "viewer", ok: 200 },

  "GET /api/clients": { role: "viewer", ok: 200 },
  "GET /api/events": { role: "viewer", ok: 200 },
  "GET /api/summary": { role: "viewer", ok: 200 },
  "GET /api/flows": { role: "viewer", ok: 200 },
  "GET /api/flows/:id": { role: "viewer", ok: 200 },
  "GET /api/flows/:id/schedules": { role: "viewer", ok: 200 },
  "GET /api/flows/:id/summary": { role: "viewer", ok: 200 },
  "GET /api/runs": { role: "viewer", ok: 200 },
  "GET /api/runs/:id": { role: "viewer", ok: 200 },
  "GET /api/runs/:id/logs": { role: "viewer", ok: 200 },
  "GET /api/runs/:id/report": { role: "viewer", ok: 200 },
  "GET /api/schedules/:id": { role: "viewer", ok: 200 },
  "GET /api/schedules/preview": { role: "viewer", ok: 200, body: undefined },
  "GET /api/stats/tasks": { role: "viewer", ok: 200 },
  "GET /api/concurrency-limits": { role: "viewer", ok: 200 },
  "GET /api/concurrency-limits/:key": { role: "viewer", ok: 200 },
  "GET /api/alerts": { role: "viewer", ok: 200 },
  "GET /api/alerts/deliveries": { role: "viewer", ok: 200 },
  "GET /api/metrics": { role: "viewer", ok: 200 },
  "GET /api/runs/:id/artifacts": { role: "viewer", ok: 200 },
  "GET /api/variables": { role: "viewer", ok: 200 },
  "GET /api/variables/:name": { role: "viewer", ok: 404 },

  "POST /api/flows/:id/runs": { role: "operator", ok: 201, body: {} },
  "POST /api/runs/:id/cancel": { role: "operator", ok: 200, body: {} },
  "POST /api/runs/:id/retry": { role: "operator", ok: 409, body: {} },
  "POST /api/flows/:id/schedules": { role: "operator", ok: 201, body: { intervalSeconds: 120 } },
  "PATCH /api/schedules/:id": { role: "operator", ok: 200, body: { intervalSeconds: 300, active: false } },
  "DELETE /api/schedules/:id": { role: "operator", ok: 204 },
  "PUT /api/variables/:name": { role: "operator", ok: 200, body: { value: { rows: 3 } } },
  "DELETE /api/variables/:name": { role: "operator", ok: 404 },
  "POST /api/flows/:id/backfill": { role: "operator", ok: 200, body: { scheduleId: ":schedule", from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:10:00Z", dryRun: true } },

  "PUT /api/concurrency-limits/:key": { role: "admin", ok: 200, body: { limit: 3 } },
  "DELETE /api/concurrency-limits/:key": { role: "admin", ok: 204 },
  "GET /api/users": { role: "admin", ok: 200 },
  "POST /api/users": { role: "admin", ok: 201, body: { username: "newcomer", password: PASSWORD, role: "viewer" } },
  "PATCH /api/users/:username": { role: "admin", ok: 200, body: { role: "operator" } },
  "DELETE /api/users/:username": { role: "admin", ok: 204 },
  "GET /api/tokens": { role: "admin", ok: 200 },
  "POST /api/tokens": { role: "admin", ok: 201, body: { name: "ci", role: "viewer" } },
  "DELETE /api/tokens/:id": { role: "admin", ok: 204 },
  "POST /api/alerts/test": { role: "admin", ok: 404, body: { destinationId: "none-configured" } },

  "POST /api/worker/:clientId/register": { role: "worker", ok: 200, body: { flows: [] } },
  "POST /api/worker/:clientId/poll": { role: "worker", ok: 200, body: {} },
  "POST /api/worker/:clientId/heartbeat": { role: "worker", ok: 200, body: {} },
  "POST /api/worker/:clientId/goodbye": { role: "worker", ok: 204, body: {} },
  "POST /api/worker/:clientId/runs/:runId/events": { role: "worker", ok: 200, body: {} },
  "POST /api/worker/:clientId/runs/:runId/subflows": { role: "worker", ok: 200, body: {} },
  "POST /api/worker/:clientId/runs/:runId/slots": { role: "worker", ok: 200, body: {} },
  "DELETE /api/worker/:clientId/runs/:runId/slots/:slotId": { role: "worker", ok: 204 },
  "POST /api/worker/:clientId/runs": { role: "worker", ok: 201, body: {} },
  "POST /api/worker/:clientId/runs/:runId/artifacts": { role: "worker", ok: 201, body: {} },
  "PATCH /api/worker/:clientId/runs/:runId/artifacts/:artifactId": { role: "worker", ok: 200, body: {} },
  "GET /api/worker/:clientId/variables/:name": { role: "worker", ok: 200 },
  "PUT /api/worker/:clientId/variables/:name": { role: "worker", ok: 200, body: { value: 1 } },
};

const CALLERS = ["none", "viewer", "operator", "admin", "revokedToken", "expiredSession"] as const;
type Caller = (typeof CALLERS)[number];
const RANK: Record<UserRole, number> = { viewer: 0, operator: 1, admin: 2 };
/** The role each caller holds when its credential is good (revoked / expired ones are admins: their role must not matter). */
const HOLDS: Partial<Record<Caller, UserRole>> = { viewer: "viewer", operator: "operator", admin: "admin" };

export function expectedStatus(row: Row, caller: Caller): number {
  if (row.role === "public") return row.ok;
  if (row.role === "worker") return 401;
  const role = HOLDS[caller];
  if (!role) return 401;
  return RANK[role] >= RANK[row.role] ? row.ok : 403;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

const onDisk = async () => {
  const out: string[] = [];
  for (const r of apiRoutes()) {
    const mod = (await import(r.file)) as Record<string, unknown>;
    for (const m of METHODS) if (typeof mod[m] === "function") out.push(`${m} ${r.pattern}`);
  }
  return out.sort();
};

describe("the route table covers every route", () => {
  it("every app/api/**/route.ts method has a row, and every row a route", async () => {
    const found = await onDisk();
    const missing = found.filter((k) => !(k in ROUTE_TABLE));
    const stale = Object.keys(ROUTE_TABLE).filter((k) => !found.includes(k));
    expect(missing, "routes without a rule in ROUTE_TABLE").toEqual([]);
    expect(stale, "rows of ROUTE_TABLE whose route is gone").toEqual([]);
  });
});

const IDLE = 7 * 24 * 3600_000;

for (const backendName of ["sqlite", "postgres"] as const) {
  describe(`route access on ${backendName}`, () => {
    let url = "";
    let closeHarness: () => Promise<void>;
    let dbs: TestDatabases | undefined;
    let passwordHash = "";
    let tokenSecretHash = "";
    beforeAll(async () => {
      const h = await startHarness();
      url = h.url;
      closeHarness = h.close;
      if (backendName === "postgres") dbs = await startTestDatabases();
      // One scrypt each for the whole file: every seeded user and token shares them.
      passwordHash = await hashSecret(PASSWORD);
      tokenSecretHash = await hashSecret("s".repeat(43));
    }, 120_000);
    afterAll(async () => {
      setEngine(undefined);
      await closeHarness?.();
      await dbs?.stop();
    }, 120_000);

    /** A fresh database: a flow, a PENDING run, a schedule, a limit (made before setup, from loopback), then users, sessions and tokens. */
    async function seeded() {
      const backend: Backend = backendName === "postgres" ? await openPostgresBackend(await dbs!.fresh()) : openSqliteBackend(":memory:");
      const clock = new ManualClock(Date.UTC(2026, 5, 1));
      const { engine, store } = engineOn(backend, { clock });
      await engine.ready;
      setEngine(engine);
      const a = apiClient(url);
      const reg = (await a.worker("acme", "acme-token").register([ETL_FLOW])).body;
      const flowId = reg.flows[0].id as string;
      const run = (await a.post(`/api/flows/${flowId}/runs`, {})).body;
      const schedule = (await a.post(`/api/flows/${flowId}/schedules`, { intervalSeconds: 60 })).body;
      expect((await a.put(`/api/concurrency-limits/db`, { limit: 2 })).status).toBe(200);
      const now = clock.now();
      const users: Record<string, number> = {};
      for (const [username, role] of [["root", "admin"], ["op", "operator"], ["viewer", "viewer"], ["victim", "viewer"]] as const) {
        users[username] = (await store.insertUser({ username, passwordHash, role, createdAt: now, updatedAt: now, lastLoginAt: null }))!.id;
      }
      const session = async (sid: string, userId: number, expiresAt: number) =>
        store.insertSession({ idHash: sha256(sid), userId, createdAt: now - 1000, expiresAt, lastSeenAt: now - 1000 });
      await session("sid-admin", users.root, now + IDLE);
      await session("sid-viewer", users.viewer, now + IDLE);
      await session("sid-expired", users.root, now - 1);
      const token = async (id: string, role: UserRole, revokedAt: number | null) =>
        store.insertApiToken({ id, name: `token-${id}`, role, tokenHash: tokenSecretHash, createdBy: "root", createdAt: now, lastUsedAt: null, revokedAt });
      await token("operator0000", "operator", null);
      await token("revoked00000", "admin", now - 1);
      await token("victim000000", "viewer", null);
      const headers: Record<Caller, Record<string, string>> = {
        none: {},
        viewer: { cookie: `${SESSION_COOKIE}=sid-viewer` },
        operator: { authorization: `Bearer pft_operator0000_${"s".repeat(43)}` },
        admin: { cookie: `${SESSION_COOKIE}=sid-admin` },
        revokedToken: { authorization: `Bearer pft_revoked00000_${"s".repeat(43)}` },
        expiredSession: { cookie: `${SESSION_COOKIE}=sid-expired` },
      };
      const fingerprint = async () =>
        JSON.stringify({
          users: (await store.listUsers()).map((u) => [u.username, u.role, u.passwordHash]),
          tokens: (await store.listApiTokens()).map((t) => [t.id, t.revokedAt]),
          runs: (await store.listRuns({ state: [], tag: [], limit: 100 })).runs.map((r) => [r.id, r.state, r.cancelRequestedAt]),
          schedules: (await store.listSchedules(Number(flowId))).map((s) => [s.id, s.active, s.intervalSeconds]),
          limits: (await store.listConcurrencyLimits()).map((l) => [l.key, l.limit]),
          variables: (await store.listVariables()).map((v) => [v.name, v.value]),
        });
      const params: Record<string, string> = { clientId: "acme", runId: run.id, slotId: "1", key: "db", username: "victim", name: "rows", artifactId: "1" };
      const pathOf = (pattern: string) =>
        pattern.replace(/:(\w+)/g, (_, name: string) => {
          if (name !== "id") return encodeURIComponent(params[name]);
          if (pattern.startsWith("/api/flows/")) return flowId;
          if (pattern.startsWith("/api/runs/")) return run.id;
          if (pattern.startsWith("/api/schedules/")) return schedule.id;
          if (pattern.startsWith("/api/tokens/")) return "victim000000";
          throw new Error(`no seeded value for :id in ${pattern}`);
        });
      const bodyOf = (b: unknown) => (b === undefined ? undefined : JSON.parse(JSON.stringify(b).replace('":schedule"', JSON.stringify(schedule.id))));
      return { backend, headers, fingerprint, pathOf, bodyOf, schedule };
    }

    async function send(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<number> {
      const controller = new AbortController();
      const res = await fetch(url + path + (path === "/api/schedules/preview" ? "?intervalSeconds=60" : ""), {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      // An event stream never ends: its status is all this needs.
      if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) controller.abort();
      else await res.text();
      return res.status;
    }

    it("two instances racing: two setups make one admin; demoting the last two admins at once leaves one", async () => {
      const backend: Backend = backendName === "postgres" ? await openPostgresBackend(await dbs!.fresh()) : openSqliteBackend(":memory:");
      try {
        const clock = new ManualClock();
        const [a, b] = [new AccessControl(backend.store, clock), new AccessControl(backend.store, clock)];
        const setups = await Promise.allSettled([a.setup("127.0.0.1", { username: "one", password: PASSWORD }), b.setup("::1", { username: "two", password: PASSWORD })]);
        expect(setups.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
        expect(setups.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "conflict" } });
        expect(await backend.store.countUsers()).toBe(1);
        const first = (await backend.store.listUsers())[0].username;
        await a.createUser({ username: "second", password: PASSWORD, role: "admin" });
        const demotions = await Promise.allSettled([a.updateUser(first, { role: "viewer" }), b.updateUser("second", { role: "viewer" })]);
        expect(demotions.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
        expect((await backend.store.listUsers()).filter((u) => u.role === "admin")).toHaveLength(1);
      } finally {
        await backend.close();
      }
    }, 60_000);

    for (const [key, row] of Object.entries(ROUTE_TABLE)) {
      it(`${key} (${row.role})`, async () => {
        const [method, pattern] = key.split(" ");
        const got: Record<string, number> = {};
        const want: Record<string, number> = {};
        for (const caller of CALLERS) {
          const s = await seeded();
          try {
            const before = await s.fingerprint();
            got[caller] = await send(method, s.pathOf(pattern), s.bodyOf(row.body), s.headers[caller]);
            want[caller] = expectedStatus(row, caller);
            if (want[caller] === 401 || want[caller] === 403) expect(await s.fingerprint(), `${caller}: a refused request changed something`).toBe(before);
          } finally {
            setEngine(undefined);
            await s.backend.close();
          }
        }
        expect(got).toEqual(want);
      }, 120_000);
    }
  });
}
