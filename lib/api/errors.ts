/** Every error answer: one code → status table, one translator, no stack traces on the wire. */
import { ZodError } from "zod";
import { PerfectError, isPerfectError, type ErrorCode } from "../engine/errors";

export const STATUS: Record<ErrorCode, number> = {
  validation_error: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  run_finished: 409,
  seq_gap: 409,
  client_removed: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
};

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>) {
  return { error: details ? { code, message, details } : { code, message } };
}

export function zodToPerfect(err: ZodError, prefix = ""): PerfectError {
  const issue = err.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "(body)";
  return new PerfectError("validation_error", `${field}: ${issue.message}`, { field });
}

/** An error's answer: status, JSON body and extra headers (Retry-After for a 429). */
export function apiErrorAnswer(err: unknown): { status: number; body: ReturnType<typeof errorBody>; headers: Record<string, string> } {
  if (err instanceof ZodError) err = zodToPerfect(err);
  if (isPerfectError(err)) {
    const headers: Record<string, string> = {};
    if (err.code === "rate_limited") headers["Retry-After"] = String(Number(err.details?.retryAfterSec) || 1);
    return { status: STATUS[err.code], body: errorBody(err.code, err.message, err.details), headers };
  }
  console.error("[perfect] unexpected error:", err);
  return { status: 500, body: errorBody("internal", "internal server error"), headers: {} };
}

export function handleApiError(err: unknown): Response {
  const a = apiErrorAnswer(err);
  return Response.json(a.body, { status: a.status, headers: a.headers });
}
