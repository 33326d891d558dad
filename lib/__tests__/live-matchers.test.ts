/** Which SWR keys a change refetches (issue 10 item 6): only those it can affect. */
import { describe, expect, it } from "vitest";
import { matchersFor, type LiveView } from "../../hooks/use-live-events";

const KEYS = [
  "/api/runs/7",
  "/api/runs/8",
  "/api/runs?limit=50",
  "/api/runs?state=FAILED&limit=50",
  "/api/runs?limit=50&cursor=100",
  "/api/flows",
  "/api/flows/1",
  "/api/flows/1/schedules",
  "/api/flows/2/schedules",
  "/api/schedules/1",
  "/api/schedules/12",
  "/api/schedules/preview?cron=*+*+*+*+*&count=5",
  "/api/stats/tasks",
];

function affected(change: Parameters<typeof matchersFor>[0], view: LiveView): string[] {
  const m = matchersFor(change, view);
  return KEYS.filter((k) => m.some((f) => f(k)));
}

describe("live refetch keys", () => {
  const shows = (key: string, runId: string) => runId === "7" && key === "/api/runs?limit=50&cursor=100";

  it("a progress tick of a run refetches that run and only the lists that show it", () => {
    const view: LiveView = { listShows: shows, lastState: () => "RUNNING" };
    expect(affected({ kind: "run", runId: "7", flowId: "1", state: "RUNNING", progress: 0.4 }, view)).toEqual([
      "/api/runs/7",
      "/api/runs?limit=50&cursor=100",
    ]);
  });

  it("a state change also refetches the first pages (where it may now appear) and the flows", () => {
    const view: LiveView = { listShows: shows, lastState: () => "RUNNING" };
    expect(affected({ kind: "run", runId: "7", flowId: "1", state: "FAILED", progress: 0.4 }, view)).toEqual([
      "/api/runs/7",
      "/api/runs?limit=50",
      "/api/runs?state=FAILED&limit=50",
      "/api/runs?limit=50&cursor=100",
      "/api/flows",
      "/api/flows/1",
    ]);
  });

  it("a log line refetches nothing but that run's logs", () => {
    const view: LiveView = { listShows: () => true, lastState: () => undefined };
    expect(affected({ kind: "log", runId: "7", lastLogId: "3", count: 1 }, view)).toEqual([]);
  });

  it("a schedule change refetches that flow's schedules and that schedule, exactly", () => {
    const view: LiveView = { listShows: () => true, lastState: () => undefined };
    expect(affected({ kind: "schedule", scheduleId: "1", flowId: "1" }, view)).toEqual(["/api/flows/1/schedules", "/api/schedules/1"]);
  });

  it("a run's state change does not refetch schedule lists (a flows page of cards stays cheap)", () => {
    const view: LiveView = { listShows: () => false, lastState: () => "RUNNING" };
    const keys = affected({ kind: "run", runId: "9", flowId: "1", state: "COMPLETED", progress: 1 }, view);
    expect(keys).toContain("/api/flows/1");
    expect(keys.filter((k) => k.includes("schedule"))).toEqual([]);
  });

  it("a registration refetches its flow's schedules (code schedules are replaced)", () => {
    const view: LiveView = { listShows: () => false, lastState: () => undefined };
    expect(affected({ kind: "flow", flowId: "2", clientId: "c" }, view)).toEqual(["/api/flows", "/api/flows/1", "/api/flows/2/schedules", "/api/stats/tasks"]);
  });

  it("a change of a kind this build does not know refetches nothing (and does not throw)", () => {
    const view: LiveView = { listShows: () => true, lastState: () => undefined };
    expect(matchersFor({ kind: "artifact", runId: "7" }, view)).toEqual([]);
  });
});
