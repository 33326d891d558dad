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
    ]);
  });

  it("a log line refetches nothing but that run's logs", () => {
    const view: LiveView = { listShows: () => true, lastState: () => undefined };
    expect(affected({ kind: "log", runId: "7", lastLogId: "3", count: 1 }, view)).toEqual([]);
  });
});
