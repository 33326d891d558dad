/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), with node:crypto only: the
 * signature is base64 HMAC-SHA256 of "id.timestamp.body" keyed by the secret's bytes (the base64
 * after `whsec_`), sent as `v1,<signature>`. A retry signs again with a fresh timestamp; the id
 * and the body stay the same, so a receiver can deduplicate by webhook-id.
 */
import crypto from "node:crypto";

export function webhookSignature(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = crypto.createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`, "utf8").digest("base64");
  return `v1,${mac}`;
}

/** The headers of one send; unsigned (no webhook-signature) without a key. */
export function webhookHeaders(key: Buffer | null, id: string, timestampSeconds: number, body: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
  };
  if (key) headers["webhook-signature"] = webhookSignature(key, id, timestampSeconds, body);
  return headers;
}

/** A new webhook id (`msg_` + 128 random bits). */
export function newWebhookId(): string {
  return `msg_${crypto.randomBytes(16).toString("base64url")}`;
}
