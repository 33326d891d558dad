/**
 * One error type for everything the engine refuses. lib/api maps `code` to an HTTP status in
 * one table; anything that is not a PerfectError is a bug and is answered as an opaque 500.
 */
export const ERROR_CODES = [
  "validation_error",
  "invalid_json",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "run_finished",
  "seq_gap",
  "client_removed",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A brand instead of `instanceof`: Next bundles lib/ into several server chunks, so the engine
 * (created once, from instrumentation) and a route can hold two copies of this class.
 */
const BRAND = Symbol.for("perfect.error");

export function isPerfectError(e: unknown): e is PerfectError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

export class PerfectError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "PerfectError";
  }
}

export const notFound = (what: string, id: string) => new PerfectError("not_found", `${what} ${id} not found`, { id });
export const invalid = (field: string, message: string) =>
  new PerfectError("validation_error", `${field}: ${message}`, { field });
