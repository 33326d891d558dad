"use client";
/**
 * One shared EventSource on /api/events for the whole dashboard. Each change revalidates the SWR
 * keys it touches (the hooks own the keys; this maps change kinds to their key matchers).
 * Changes are coalesced for a few milliseconds so a burst (many logs, many runs) costs one fetch
 * per key. Whenever the stream (re)opens, everything shown is revalidated: nothing is missed.
 */
import { useEffect } from "react";
import { useSWRConfig } from "swr";
import type { Change } from "@/lib/domain/changes";
import { getJson } from "./api-fetch";
import { connectionHealth } from "./connection-health";
import { isClientsKey } from "./use-clients";
import { isAlertsKey } from "./use-alerts";
import { isConcurrencyKey } from "./use-concurrency";
import { isFlowsKey } from "./use-flows";
import { runKey } from "./use-run";
import { isRunLogsKey } from "./use-run-logs";
import { isRunListKey } from "./use-runs";
import { flowSchedulesKey, isScheduleChangeKey } from "./use-schedules";
import { isStatsKey } from "./use-task-stats";
import { isSummaryKey } from "./use-summary";

const EVENTS_URL = "/api/events";
const COALESCE_MS = 40;
/** The stream counts as down only after this long without reopening (avoids banner flicker). */
const DOWN_GRACE_MS = 1500;

type KeyMatcher = (key: string) => boolean;

/** What the matchers may ask of the browser's state: what a cached list shows, and each run's last known state. */
export interface LiveView {
  /** True when the cached answer of this key lists the run. */
  listShows(key: string, runId: string): boolean;
  /** The state this browser last saw the run in (undefined for a run it never saw). */
  lastState(runId: string): string | undefined;
}

/** The first page of a run list (no cursor): where a new run, or one that changed state, can appear. */
const isFirstListPage = (key: string): boolean => isRunListKey(key) && !/[?&]cursor=/.test(key);

/**
 * A change as it arrives: one the contract names, or one of a kind this build does not know yet
 * (a newer server) — that one refetches nothing rather than breaking the stream's handler.
 */
export type IncomingChange = Change | { kind: string; [field: string]: unknown };

const KNOWN_KINDS: ReadonlySet<string> = new Set<Change["kind"]>(["run", "taskRun", "log", "client", "flow", "stats", "schedule", "concurrency", "alert"]);

/**
 * The SWR keys a change can affect, and no others: a progress tick of one run refetches that
 * run and the lists that show it — not every list and the flows page in every browser.
 */
export function matchersFor(incoming: IncomingChange, view?: LiveView): KeyMatcher[] {
  if (!KNOWN_KINDS.has(incoming.kind)) return [];
  const change = incoming as Change;
  switch (change.kind) {
    case "run": {
      const k = runKey(change.runId);
      if (!view) return [(key) => key === k, isRunListKey, isFlowsKey, isSummaryKey];
      const stateChanged = view.lastState(change.runId) !== change.state;
      const lists: KeyMatcher = (key) => isRunListKey(key) && (view.listShows(key, change.runId) || (stateChanged && isFirstListPage(key)));
      return stateChanged ? [(key) => key === k, lists, isFlowsKey, isSummaryKey] : [(key) => key === k, lists];
    }
    case "taskRun": {
      const k = runKey(change.runId);
      return [(key) => key === k];
    }
    case "log":
      return [isRunLogsKey(change.runId)];
    case "client":
      return [isClientsKey, isFlowsKey, isSummaryKey];
    case "flow": {
      // A registration replaces the flow's schedules declared in code.
      const k = flowSchedulesKey(change.flowId);
      return [isFlowsKey, isStatsKey, (key) => key === k];
    }
    case "stats":
      return [isStatsKey];
    case "schedule":
      // Created, changed, deleted or fired (its next fire times moved): that flow's schedule
      // list and the schedule itself — exact keys, so schedule 1 does not refetch schedule 12.
      return [isScheduleChangeKey(change.flowId, change.scheduleId)];
    case "concurrency":
      // A key's limit, holders or line: the limits page (one list of every key).
      return [isConcurrencyKey];
    case "alert":
      // A delivery queued, tried or ended: the Alerts page (its destinations' health and the log).
      return [isAlertsKey];
  }
}

export function LiveEventsProvider() {
  const { mutate, cache } = useSWRConfig();

  useEffect(() => {
    let source: EventSource | null = null;
    let closed = false;
    let pending: KeyMatcher[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    let downTimer: ReturnType<typeof setTimeout> | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let retryDelay = 1000;
    // Last state seen per run, bounded: only a state change reaches the flows page and first pages.
    const states = new Map<string, string>();
    const view: LiveView = {
      listShows: (key, runId) => {
        const data = cache.get(key)?.data as { runs?: { id: string }[] } | undefined;
        return !!data?.runs?.some((r) => r.id === runId);
      },
      lastState: (runId) => states.get(runId),
    };

    const revalidate = (matchers: KeyMatcher[]) =>
      mutate((key) => typeof key === "string" && matchers.some((m) => m(key)));

    const flush = () => {
      flushTimer = null;
      const matchers = pending;
      pending = [];
      if (matchers.length) void revalidate(matchers);
    };

    const onChange = (ev: MessageEvent<string>) => {
      let change: IncomingChange;
      try {
        change = JSON.parse(ev.data) as IncomingChange;
      } catch {
        return;
      }
      if (!change || typeof change !== "object" || typeof change.kind !== "string") return;
      const m = matchersFor(change, view);
      if (change.kind === "run") {
        const run = change as Extract<Change, { kind: "run" }>;
        states.delete(run.runId);
        states.set(run.runId, run.state);
        if (states.size > 5000) states.delete(states.keys().next().value!);
      }
      pending.push(...m);
      flushTimer ??= setTimeout(flush, COALESCE_MS);
    };

    const onOpen = () => {
      if (downTimer) clearTimeout(downTimer);
      downTimer = null;
      retryDelay = 1000;
      connectionHealth.streamOpen();
      // Changes made before the stream (re)opened were never announced on it: a drop, or
      // simply the gap between a page's first fetches and this open. Refetch what is shown.
      void mutate(() => true);
    };

    const connect = () => {
      if (closed) return;
      source = new EventSource(EVENTS_URL);
      source.addEventListener("hello", onOpen);
      source.addEventListener("change", onChange as EventListener);
      source.onerror = () => {
        downTimer ??= setTimeout(() => {
          downTimer = null;
          connectionHealth.streamDown();
        }, DOWN_GRACE_MS);
        // EventSource retries by itself while CONNECTING; a CLOSED source (HTTP error) does not.
        if (source && source.readyState === EventSource.CLOSED) {
          source.close();
          source = null;
          // An HTTP error: when it is a 401 (the session ended — the server ends a stream whose
          // credential is gone), one read says so and getJson takes the page to the login.
          void getJson("/api/auth/me").catch(() => {});
          retryTimer = setTimeout(connect, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 15_000);
        }
      };
    };

    const onNetwork = () => {
      connectionHealth.browserOnline(navigator.onLine);
      if (navigator.onLine) void mutate(() => true);
    };
    connectionHealth.browserOnline(navigator.onLine);
    window.addEventListener("online", onNetwork);
    window.addEventListener("offline", onNetwork);

    connect();
    return () => {
      closed = true;
      window.removeEventListener("online", onNetwork);
      window.removeEventListener("offline", onNetwork);
      source?.close();
      for (const t of [flushTimer, downTimer, retryTimer]) if (t) clearTimeout(t);
    };
  }, [mutate, cache]);

  return null;
}
