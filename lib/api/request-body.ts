/**
 * Reading a JSON body with a hard size cap: refused from Content-Length before anything is read,
 * and counted while streaming (chunked bodies), so an oversized body is never buffered whole.
 */
import { PerfectError } from "../engine/errors";

export const MAX_BODY_BYTES = 1024 * 1024;

export async function readJson(req: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) return parse("");
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
  return parse(Buffer.concat(chunks).toString("utf8"));
}

function parse(text: string): unknown {
  if (!text.trim()) throw new PerfectError("invalid_json", "request body must be a JSON document", { field: "(body)" });
  try {
    return JSON.parse(text);
  } catch {
    throw new PerfectError("invalid_json", "request body is not valid JSON", { field: "(body)" });
  }
}

function tooLarge(limit: number): PerfectError {
  return new PerfectError("payload_too_large", `request body exceeds ${limit} bytes`, { limit });
}
