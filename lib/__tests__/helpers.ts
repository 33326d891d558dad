/** Shared set-up for integration tests: a test engine served over real HTTP. */
import { afterAll, beforeAll } from "vitest";
import { setEngine } from "../server";
import { createTestEngine } from "../../test/support/test-engine";
import { startHarness } from "../../test/support/http-harness";
import { apiClient } from "../../test/support/api-client";

export type TestEnv = ReturnType<typeof createTestEngine> & { url: string };

/** One harness per file; fresh() installs a new engine (fresh :memory: database) until the next fresh(). */
export function serveTestEngine(opts: Parameters<typeof createTestEngine>[0] = {}) {
  const env = {} as TestEnv;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const h = await startHarness();
    close = h.close;
    env.url = h.url;
  });
  afterAll(async () => {
    setEngine(undefined);
    await close();
  });
  const fresh = (over: Parameters<typeof createTestEngine>[0] = {}) => {
    const made = createTestEngine({ ...opts, ...over });
    setEngine(made.engine);
    Object.assign(env, made);
    return env;
  };
  return { env, fresh };
}

/** test/support/api-client for the harness, its worker routes defaulting to the test engine's client. */
export function api(env: TestEnv) {
  const client = apiClient(env.url);
  return { ...client, worker: (clientId = "acme", token = "acme-token") => client.worker(clientId, token) };
}

export const ETL_FLOW = {
  name: "Daily Sales ETL",
  description: "etl",
  tags: { team: "data-eng", priority: "high" },
  tasks: [
    { name: "extract", estimatedTime: 3000 },
    { name: "transform", estimatedTime: 2000 },
    { name: "load", estimatedTime: 1000 },
  ],
  parameters: [
    { name: "day", type: "str", default: "today", required: false },
    { name: "limit", type: "int", default: 100, required: false },
  ],
};

/** Events for a full successful run of ETL_FLOW, seq 1.. */
export function fullRunEvents(durations = [30, 20, 10]) {
  const names = ["extract", "transform", "load"];
  const events: any[] = [];
  let seq = 1;
  names.forEach((task, call) => {
    events.push({ seq: seq++, type: "task_started", call, task });
    events.push({ seq: seq++, type: "log", call, level: "INFO", message: `${task} running` });
    events.push({ seq: seq++, type: "task_completed", call, durationMs: durations[call] });
  });
  events.push({ seq: seq++, type: "run_completed" });
  return events;
}
