// The signer against a fixed Standard Webhooks example (lib/alerts/fixtures/webhook-signature.json),
// which sdk-python/tests/test_webhook_snippet.py also verifies with the README's Python snippet:
// the documented verification and what the server sends cannot drift apart.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newWebhookId, webhookHeaders, webhookSignature } from "./signature";

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "webhook-signature.json"), "utf8")) as {
  secret: string;
  headers: Record<string, string>;
  body: string;
};
const key = Buffer.from(fixture.secret.slice("whsec_".length), "base64");

describe("Standard Webhooks signing", () => {
  it("signs id.timestamp.body with the key after whsec_ (the fixture's signature)", () => {
    const h = fixture.headers;
    expect(webhookSignature(key, h["webhook-id"], Number(h["webhook-timestamp"]), fixture.body)).toBe(h["webhook-signature"]);
    expect(webhookHeaders(key, h["webhook-id"], Number(h["webhook-timestamp"]), fixture.body)).toEqual({ "content-type": "application/json", ...h });
  });

  it("a different timestamp, id or body changes the signature; no key, no signature header", () => {
    const h = fixture.headers;
    const base = webhookSignature(key, h["webhook-id"], 1, fixture.body);
    expect(webhookSignature(key, h["webhook-id"], 2, fixture.body)).not.toBe(base);
    expect(webhookSignature(key, "msg_other", 1, fixture.body)).not.toBe(base);
    expect(webhookSignature(key, h["webhook-id"], 1, fixture.body + " ")).not.toBe(base);
    expect(webhookHeaders(null, "msg_x", 1, "{}")).toEqual({ "content-type": "application/json", "webhook-id": "msg_x", "webhook-timestamp": "1" });
  });

  it("webhook ids are msg_ + 128 random bits, never repeated", () => {
    const ids = new Set(Array.from({ length: 1000 }, newWebhookId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^msg_[A-Za-z0-9_-]{22}$/);
  });
});
