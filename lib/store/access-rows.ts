/**
 * Access-control rows as both adapters read them (snake_case columns → records), and the one
 * login-failure upsert both dialects run. No driver here: plain text and mapping.
 */
import type { ApiTokenRecord, LoginFailureRecord, SessionRecord, UserRecord } from "../domain/records";

/**
 * One more failure of a key, in one statement on both dialects: a window older than windowMs
 * restarts at 1; reaching max failures sets locked_until (kept while it lies in the future).
 */
export const LOGIN_FAILURE_UPSERT = (key: string, now: string, windowMs: string, max: string, lockMs: string) => `
  INSERT INTO login_failures (key, failures, window_started_at, locked_until)
  VALUES (${key}, 1, ${now}, CASE WHEN 1 >= ${max} THEN ${now} + ${lockMs} ELSE NULL END)
  ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN login_failures.window_started_at <= ${now} - ${windowMs} THEN 1 ELSE login_failures.failures + 1 END,
    window_started_at = CASE WHEN login_failures.window_started_at <= ${now} - ${windowMs} THEN ${now} ELSE login_failures.window_started_at END,
    locked_until = CASE
      WHEN (CASE WHEN login_failures.window_started_at <= ${now} - ${windowMs} THEN 1 ELSE login_failures.failures + 1 END) >= ${max} THEN ${now} + ${lockMs}
      WHEN login_failures.locked_until > ${now} THEN login_failures.locked_until
      ELSE NULL END
  RETURNING *`;

function userOf(r: Record<string, unknown>): UserRecord {
  return {
    id: Number(r.id),
    username: r.username as string,
    passwordHash: r.password_hash as string,
    role: r.role as UserRecord["role"],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    lastLoginAt: r.last_login_at === null || r.last_login_at === undefined ? null : Number(r.last_login_at),
  };
}

function sessionOf(r: Record<string, unknown>): SessionRecord {
  return { idHash: r.s_id_hash as string, userId: Number(r.s_user_id), createdAt: Number(r.s_created_at), expiresAt: Number(r.s_expires_at), lastSeenAt: Number(r.s_last_seen_at) };
}

function tokenOf(r: Record<string, unknown>): ApiTokenRecord {
  const opt = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: r.id as string,
    name: r.name as string,
    role: r.role as ApiTokenRecord["role"],
    tokenHash: r.token_hash as string,
    createdBy: (r.created_by as string | null) ?? null,
    createdAt: Number(r.created_at),
    lastUsedAt: opt(r.last_used_at),
    revokedAt: opt(r.revoked_at),
  };
}

function failureOf(r: Record<string, unknown>): LoginFailureRecord {
  return {
    key: r.key as string,
    failures: Number(r.failures),
    windowStartedAt: Number(r.window_started_at),
    lockedUntil: r.locked_until === null || r.locked_until === undefined ? null : Number(r.locked_until),
  };
}

export const accessRows = { userOf, sessionOf, tokenOf, failureOf };
