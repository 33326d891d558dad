/**
 * Reading a request body with a hard size cap: refused from Content-Length before anything is
 * read, and counted while streaming (chunked bodies), so an oversized body is never buffered
 * whole. A JSON body is then bounded in depth and size (json-bounds.ts) before anyone walks it.
 */
import { PerfectError } from "../engine/errors";
import { checkJsonBounds } from "../domain/json-bounds";
import { MAX_BODY_BYTES } from "./limits";

export { MAX_BODY_BYTES };

/** The body's bytes, at most `limit` of them (413 beyond, the rest never read). */
export async function readBytes(req: Request, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = req.headers.get("content-length");
  // Refused unread (the front door refuses it even earlier, before Next sees the request).
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  return jsonOf(await readBytes(req, limit));
}

/** A body's bytes as a JSON value, bounded in depth and size (400 naming the field beyond). */
export function jsonOf(bytes: Buffer): unknown {
  const value = parse(bytes.toString("utf8"));
  const violation = checkJsonBounds(value);
  if (violation) throw new PerfectError("validation_error", `${violation.field}: ${violation.message}`, { field: violation.field });
  return value;
}

/** Stops reading a body that will be refused: cancelling the stream releases its socket data. */
export async function discard(req: Request): Promise<void> {
  if (req.body && !req.bodyUsed) await req.body.cancel().catch(() => {});
}

function parse(text: string): unknown {
  if (!text.trim()) throw new PerfectError("invalid_json", "request body must be a JSON document", { field: "(body)" });
  try {
    return JSON.parse(text);
  } catch {
    throw new PerfectError("invalid_json", "request body is not valid JSON", { field: "(body)" });
  }
}

export function tooLarge(limit: number): PerfectError {
  return new PerfectError("payload_too_large", `request body exceeds ${limit} bytes`, { limit });
}
