// The wire fixtures are shared with the Python SDK's tests: both sides check them, so the
// TypeScript schemas and the SDK's payloads cannot drift apart.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  errorBodySchema,
  eventBatchResponseSchema,
  eventBatchSchema,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  pollRequestSchema,
  pollResponseSchema,
  registerRequestSchema,
  registerResponseSchema,
  slotRequestSchema,
  slotResponseSchema,
  workerEventSchema,
} from "./worker";

const dir = path.join(__dirname, "fixtures");
const FIXTURES: Record<string, z.ZodType> = {
  "register.request.json": registerRequestSchema,
  "register.response.json": registerResponseSchema,
  "poll.request.json": pollRequestSchema,
  "poll.response.json": pollResponseSchema,
  "heartbeat.request.json": heartbeatRequestSchema,
  "heartbeat.response.json": heartbeatResponseSchema,
  "events.request.json": eventBatchSchema,
  "events-completed.request.json": eventBatchSchema,
  "events-cancelled.request.json": eventBatchSchema,
  "events.response.json": eventBatchResponseSchema,
  "slots.request.json": slotRequestSchema,
  "slots.response.json": slotResponseSchema,
  "error.json": errorBodySchema,
};

describe("shared wire fixtures", () => {
  it("every fixture file has a schema", () => {
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()).toEqual(Object.keys(FIXTURES).sort());
  });
  it.each(Object.entries(FIXTURES))("%s matches its schema", (file, schema) => {
    const data = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
    const r = schema.safeParse(data);
    expect(r.success, r.success ? "" : JSON.stringify(r.error.issues)).toBe(true);
  });
  it("the events fixtures together cover every event type the schema knows", () => {
    // The list comes from the schema itself, so a new event type without a fixture fails here.
    const known = workerEventSchema.options.map((o) => o.shape.type.value).sort();
    expect(known).toHaveLength(9);
    const seen = new Set<string>();
    for (const f of fs.readdirSync(dir).filter((x) => /^events.*\.request\.json$/.test(x))) {
      for (const e of JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")).events) seen.add(e.type);
    }
    expect([...seen].sort()).toEqual(known);
  });
});
