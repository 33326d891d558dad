/**
 * Access control: who is calling (a session cookie, an API token, or — only until the first
 * user exists — the machine itself) and what they may do. One instance per engine (its store
 * and clock), made by accessOf().
 *
 * Cost per request: a session is one indexed lookup (sessions ⋈ users by the SHA-256 of the
 * cookie's id); a token is one lookup of its row (for revoked_at, so a revoke on any instance
 * counts at once) after the first use, whose scrypt verification is remembered in memory for
 * TOKEN_CACHE_MS by the SHA-256 of the whole token. scrypt runs only at login, setup, token
 * creation and a token's first use per cache period.
 */
import { z } from "zod";
import type { TokenView, UserView } from "../contracts/auth";
import type { ApiTokenRecord, UserRecord } from "../domain/records";
import { USER_ROLES, type UserRole } from "../domain/states";
import type { Clock } from "../engine/clock";
import { PerfectError } from "../engine/errors";
import type { Store } from "../store/store";
import { bearerOf, cookieValue, newApiToken, parseApiToken, SESSION_COOKIE } from "./credentials";
import { isLoopback } from "./hosts";
import { roleAtLeast } from "./roles";
import { dummyHash, hashSecret, randomToken, sha256, verifySecret } from "./secrets";

/** Who a request acts as. `local`: the machine itself before the first user exists (full rights). */
export type Principal =
  | { kind: "user"; name: string; role: UserRole; userId: number; sessionHash: string }
  | { kind: "token"; name: string; role: UserRole; tokenId: string }
  | { kind: "local"; name: null; role: "admin" };

export interface Credentials {
  cookie: string | null;
  authorization: string | null;
  /** The socket's address as the front door saw it (x-perfect-peer); never a client's header. */
  peer: string | null;
}

const int = (def: number) => z.coerce.number().int().positive().default(def);
export const accessEnvSchema = z.object({
  /** A session lasts this long after its last use (sliding), at most SESSION_MAX_MS after login. */
  PERFECT_SESSION_IDLE_MS: int(7 * 24 * 3600_000),
  PERFECT_SESSION_MAX_MS: int(30 * 24 * 3600_000),
  /** Failed logins before a lock, per username and per address, within the window; the lock lasts one window. */
  PERFECT_LOGIN_MAX_FAILURES: int(5),
  PERFECT_LOGIN_MAX_FAILURES_PER_ADDRESS: int(20),
  PERFECT_LOGIN_WINDOW_MS: int(15 * 60_000),
});
export type AccessConfig = {
  sessionIdleMs: number;
  sessionMaxMs: number;
  maxFailures: number;
  maxFailuresPerAddress: number;
  windowMs: number;
};

export function loadAccessConfig(env: NodeJS.ProcessEnv = process.env): AccessConfig {
  const parsed = accessEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const e = parsed.data;
  return {
    sessionIdleMs: e.PERFECT_SESSION_IDLE_MS,
    sessionMaxMs: e.PERFECT_SESSION_MAX_MS,
    maxFailures: e.PERFECT_LOGIN_MAX_FAILURES,
    maxFailuresPerAddress: e.PERFECT_LOGIN_MAX_FAILURES_PER_ADDRESS,
    windowMs: e.PERFECT_LOGIN_WINDOW_MS,
  };
}

/** A verified token is trusted (still checked for revocation on each use) this long before scrypt again. */
export const TOKEN_CACHE_MS = 5 * 60_000;
const TOKEN_CACHE_MAX = 10_000;
/** lastSeenAt / lastUsedAt are written at most this often per session or token. */
const TOUCH_EVERY_MS = 60_000;

export const SETUP_HINT =
  "no user exists yet: create the first admin from the server's own machine — open http://localhost:<port>/setup there, " +
  "or run: curl -X POST http://localhost:<port>/api/auth/setup -H 'content-type: application/json' -d '{\"username\":\"admin\",\"password\":\"…\"}'";

export const usernameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, { message: "letters, digits and . _ @ - only" });
export const passwordSchema = z.string().min(8, { message: "at least 8 characters" }).max(1024);
export const roleSchema = z.enum(USER_ROLES);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
export const userView = (u: UserRecord): UserView => ({ username: u.username, role: u.role, createdAt: iso(u.createdAt)!, lastLoginAt: iso(u.lastLoginAt) });
export const tokenView = (t: ApiTokenRecord): TokenView => ({
  id: t.id,
  name: t.name,
  role: t.role,
  createdBy: t.createdBy,
  createdAt: iso(t.createdAt)!,
  lastUsedAt: iso(t.lastUsedAt),
  revokedAt: iso(t.revokedAt),
});

const unauthorized = (message: string) => new PerfectError("unauthorized", message);
const INVALID_LOGIN = "invalid username or password";

export class AccessControl {
  /** Once a user exists one always does (the last admin cannot be removed): then never asked again. */
  private usersExist = false;
  private readonly tokenCache = new Map<string, { tokenId: string; verifiedAt: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly config: AccessConfig = loadAccessConfig(),
  ) {}

  /** Whether the first user exists (one count while none does; nothing after). */
  async setupDone(): Promise<boolean> {
    if (this.usersExist) return true;
    this.usersExist = (await this.store.countUsers()) > 0;
    return this.usersExist;
  }

  /**
   * Who is calling, or null without valid credentials. Before setup the machine itself
   * (judged by the socket's address) is `local`; nobody else is anyone.
   */
  async identify(c: Credentials): Promise<Principal | null> {
    if (!(await this.setupDone())) return isLoopback(c.peer) ? { kind: "local", name: null, role: "admin" } : null;
    const bearer = bearerOf(c.authorization);
    if (bearer !== null) return this.identifyToken(bearer);
    const sid = cookieValue(c.cookie, SESSION_COOKIE);
    if (sid !== null) return this.identifySession(sid);
    return null;
  }

  /** The caller, who must hold at least `role`: 401 without credentials, 403 with too low a role. */
  async require(c: Credentials, role: UserRole): Promise<Principal> {
    const who = await this.identify(c);
    if (!who) {
      if (!(await this.setupDone())) throw unauthorized(SETUP_HINT);
      throw unauthorized("sign in, or send Authorization: Bearer <API token>");
    }
    if (!roleAtLeast(who.role, role)) throw new PerfectError("forbidden", `this needs the ${role} role; ${who.name ?? "you"} ${who.kind === "token" ? "(token) " : ""}has ${who.role}`);
    return who;
  }

  private async identifySession(sid: string): Promise<Principal | null> {
    if (sid.length > 100) return null;
    const idHash = sha256(sid);
    const found = await this.store.getSession(idHash);
    const now = this.clock.now();
    if (!found) return null;
    if (found.session.expiresAt <= now) {
      await this.store.deleteSession(idHash);
      return null;
    }
    if (now - found.session.lastSeenAt >= TOUCH_EVERY_MS) {
      const expiresAt = Math.min(now + this.config.sessionIdleMs, found.session.createdAt + this.config.sessionMaxMs);
      await this.store.touchSession(idHash, now, expiresAt);
    }
    const u = found.user;
    return { kind: "user", name: u.username, role: u.role, userId: u.id, sessionHash: idHash };
  }

  private async identifyToken(text: string): Promise<Principal | null> {
    const parsed = parseApiToken(text);
    if (!parsed) return null;
    const key = sha256(text);
    const now = this.clock.now();
    const row = await this.store.getApiToken(parsed.id);
    if (!row || row.revokedAt !== null) {
      this.tokenCache.delete(key);
      return null;
    }
    const cached = this.tokenCache.get(key);
    if (!cached || cached.tokenId !== row.id || now - cached.verifiedAt >= TOKEN_CACHE_MS) {
      // scrypt for every wrong secret under a real id would let anyone who saw an id spend the
      // server's CPU: past a budget of failures per id (shared by instances, like logins) it
      // is 429 without scrypt. A holder whose verified token is cached never reaches this.
      const failures = `token:${row.id}`;
      const [lock] = await this.store.getLoginFailures([failures]);
      if (lock && lock.lockedUntil !== null && lock.lockedUntil > now) {
        const retryAfterSec = Math.max(1, Math.ceil((lock.lockedUntil - now) / 1000));
        throw new PerfectError("rate_limited", `too many wrong secrets for API token ${row.id}: retry after ${retryAfterSec} s`, { retryAfterSec });
      }
      if (!(await verifySecret(parsed.secret, row.tokenHash))) {
        const c = this.config;
        await this.store.recordLoginFailure(failures, now, c.windowMs, c.maxFailures, c.windowMs);
        return null;
      }
      if (lock) await this.store.clearLoginFailures(failures);
      if (this.tokenCache.size >= TOKEN_CACHE_MAX) this.tokenCache.clear();
      this.tokenCache.set(key, { tokenId: row.id, verifiedAt: now });
    }
    if (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_EVERY_MS) await this.store.touchApiToken(row.id, now);
    return { kind: "token", name: row.name, role: row.role, tokenId: row.id };
  }

  // ------------------------------------------------------------ setup, login, logout

  /** The first admin, from the machine itself and only while no user exists; logged in at once. */
  async setup(peer: string | null, body: unknown): Promise<{ user: UserView; sessionId: string; maxAgeSec: number }> {
    if (!isLoopback(peer)) throw new PerfectError("forbidden", "the first admin can only be created from the server's own machine (a loopback address)");
    if (await this.setupDone()) throw new PerfectError("conflict", "setup is done: a user already exists; sign in instead");
    const { username, password } = z.object({ username: usernameSchema, password: passwordSchema }).parse(body);
    const passwordHash = await hashSecret(password);
    const now = this.clock.now();
    const user = await this.store.transaction(async (tx) => {
      await tx.lockUsers();
      if ((await tx.countUsers()) > 0) return null;
      return tx.insertUser({ username, passwordHash, role: "admin", createdAt: now, updatedAt: now, lastLoginAt: now });
    });
    if (!user) {
      this.usersExist = true;
      throw new PerfectError("conflict", "setup is done: a user already exists; sign in instead");
    }
    this.usersExist = true;
    const s = await this.openSession(user.id, now);
    return { user: userView(user), ...s };
  }

  /**
   * A new session for the right username and password. Rate-limited per username and per
   * address through login_failures (shared by every instance): past the limit 429 with
   * Retry-After, even for the right password, until the lock ends. The answer to a wrong
   * username and to a wrong password is the same, after the same scrypt work.
   */
  async login(peer: string | null, body: unknown, previousSid: string | null): Promise<{ user: UserView; sessionId: string; maxAgeSec: number }> {
    const { username, password } = z.object({ username: z.string().min(1).max(200), password: z.string().min(1).max(1024) }).parse(body);
    const now = this.clock.now();
    const keys = [`user:${username.toLowerCase()}`, `addr:${peer ?? "unknown"}`];
    const locks = await this.store.getLoginFailures(keys);
    const until = Math.max(0, ...locks.map((l) => (l.lockedUntil !== null && l.lockedUntil > now ? l.lockedUntil : 0)));
    if (until > now) {
      const retryAfterSec = Math.max(1, Math.ceil((until - now) / 1000));
      throw new PerfectError("rate_limited", `too many failed logins: retry after ${retryAfterSec} s`, { retryAfterSec });
    }
    const user = await this.store.getUserByName(username);
    const ok = await verifySecret(password, user?.passwordHash ?? (await dummyHash()));
    if (!user || !ok) {
      const c = this.config;
      await this.store.recordLoginFailure(keys[0], now, c.windowMs, c.maxFailures, c.windowMs);
      await this.store.recordLoginFailure(keys[1], now, c.windowMs, c.maxFailuresPerAddress, c.windowMs);
      throw unauthorized(INVALID_LOGIN);
    }
    await this.store.clearLoginFailures(keys[0]);
    // Rotated at login: whatever session the browser held before is gone.
    if (previousSid) await this.store.deleteSession(sha256(previousSid));
    await this.store.updateUser(user.id, { lastLoginAt: now });
    const s = await this.openSession(user.id, now);
    return { user: userView({ ...user, lastLoginAt: now }), ...s };
  }

  private async openSession(userId: number, now: number): Promise<{ sessionId: string; maxAgeSec: number }> {
    const sessionId = randomToken(32);
    const expiresAt = now + Math.min(this.config.sessionIdleMs, this.config.sessionMaxMs);
    await this.store.insertSession({ idHash: sha256(sessionId), userId, createdAt: now, expiresAt, lastSeenAt: now });
    // Old sessions are swept as new ones open: the table holds only live ones and a few more.
    await this.store.deleteExpiredSessions(now);
    return { sessionId, maxAgeSec: Math.ceil(this.config.sessionMaxMs / 1000) };
  }

  async logout(sid: string | null): Promise<void> {
    if (sid && sid.length <= 100) await this.store.deleteSession(sha256(sid));
  }

  // ------------------------------------------------------------ users

  async listUsers(): Promise<{ users: UserView[] }> {
    return { users: (await this.store.listUsers()).map(userView) };
  }

  async createUser(body: unknown): Promise<UserView> {
    const { username, password, role } = z.object({ username: usernameSchema, password: passwordSchema, role: roleSchema }).parse(body);
    const passwordHash = await hashSecret(password);
    const now = this.clock.now();
    const user = await this.store.insertUser({ username, passwordHash, role, createdAt: now, updatedAt: now, lastLoginAt: null });
    if (!user) throw new PerfectError("conflict", `user ${username} already exists`);
    this.usersExist = true;
    return userView(user);
  }

  /** A new role and/or password; the last admin cannot be demoted (409). A new password ends the user's sessions. */
  async updateUser(username: string, body: unknown): Promise<UserView> {
    const patch = z.object({ role: roleSchema.optional(), password: passwordSchema.optional() }).strict().parse(body);
    const passwordHash = patch.password === undefined ? undefined : await hashSecret(patch.password);
    const now = this.clock.now();
    const updated = await this.store.transaction(async (tx) => {
      const admins = await tx.lockUsers();
      const user = await tx.getUserByName(username);
      if (!user) throw new PerfectError("not_found", `user ${username} not found`);
      if (patch.role !== undefined && patch.role !== "admin" && user.role === "admin" && admins.length <= 1) {
        throw new PerfectError("conflict", `${username} is the last admin: make another user admin first`);
      }
      await tx.updateUser(user.id, { role: patch.role, passwordHash, updatedAt: now });
      if (passwordHash !== undefined) await tx.deleteSessionsOfUser(user.id);
      return { ...user, role: patch.role ?? user.role, updatedAt: now };
    });
    return userView(updated);
  }

  async deleteUser(username: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const admins = await tx.lockUsers();
      const user = await tx.getUserByName(username);
      if (!user) throw new PerfectError("not_found", `user ${username} not found`);
      if (user.role === "admin" && admins.length <= 1) throw new PerfectError("conflict", `${username} is the last admin: it cannot be deleted`);
      await tx.deleteUser(user.id);
    });
  }

  // ------------------------------------------------------------ API tokens

  /** A new token with a role: its text is in this answer only (the store keeps a scrypt hash of its secret). */
  async createToken(body: unknown, createdBy: string | null): Promise<TokenView & { token: string }> {
    const { name, role } = z.object({ name: z.string().trim().min(1).max(100), role: roleSchema }).parse(body);
    const t = newApiToken();
    const now = this.clock.now();
    const row: ApiTokenRecord = { id: t.id, name, role, tokenHash: await hashSecret(t.secret), createdBy, createdAt: now, lastUsedAt: null, revokedAt: null };
    await this.store.insertApiToken(row);
    return { ...tokenView(row), token: t.token };
  }

  async listTokens(): Promise<{ tokens: TokenView[] }> {
    return { tokens: (await this.store.listApiTokens()).map(tokenView) };
  }

  async revokeToken(id: string): Promise<void> {
    if (!(await this.store.revokeApiToken(id, this.clock.now()))) {
      const row = /^[A-Za-z0-9]{1,40}$/.test(id) ? await this.store.getApiToken(id) : undefined;
      if (!row) throw new PerfectError("not_found", `token ${id} not found`);
      // Already revoked: revoking again changes nothing.
    }
    for (const [k, v] of this.tokenCache) if (v.tokenId === id) this.tokenCache.delete(k);
  }
}

const KEY = Symbol.for("perfect.access");
type Holder = { [KEY]?: WeakMap<object, AccessControl> };

/** The access control of an engine (its store and clock), made once per engine. */
export function accessOf(engine: { store: Store; clock: Clock }): AccessControl {
  const g = globalThis as Holder;
  const map = (g[KEY] ??= new WeakMap());
  let a = map.get(engine);
  if (!a) map.set(engine, (a = new AccessControl(engine.store, engine.clock)));
  return a;
}

/** The name runs record as triggeredBy / cancelledBy. */
export function actorName(p: Principal | null): string | null {
  return p?.name ?? null;
}
