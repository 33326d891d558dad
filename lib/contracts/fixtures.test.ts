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
  "events.response.json": eventBatchResponseSchema,
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
  it("events.request.json covers every event type", () => {
    const data = JSON.parse(fs.readFileSync(path.join(dir, "events.request.json"), "utf8"));
    const types = new Set(data.events.map((e: { type: string }) => e.type));
    for (const t of ["task_started", "log", "task_progress", "task_retrying", "task_completed", "task_failed", "run_failed"]) expect(types).toContain(t);
  });
});
