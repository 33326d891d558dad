"use client";
/**
 * The flow page's figures (GET /api/flows/{id}/summary?window=…) and its tasks' statistics
 * (GET /api/stats/tasks?flowId=…). Both keys are matched by the live stream's existing matchers
 * (use-live-events.tsx): the summary is a flow key (`/api/flows/…`, revalidated when a run
 * changes state), the statistics a stats key (revalidated on `stats` changes), so a run that
 * finishes while the page is open shows up without a reload.
 */
import useSWR from "swr";
import { FLOW_SUMMARY_WINDOWS, type FlowSummaryView, type FlowSummaryWindow, type RunSummary, type TaskStatView } from "@/lib/contracts/dashboard";
import { getJson } from "./api-fetch";
import { flowKey } from "./use-flows";
import { STATS_KEY } from "./use-task-stats";

export const FLOW_WINDOWS = Object.keys(FLOW_SUMMARY_WINDOWS) as FlowSummaryWindow[];
export const DEFAULT_FLOW_WINDOW: FlowSummaryWindow = "24h";

/** A `?window=` value from the URL, or the default for anything else. */
export function parseFlowWindow(v: string | null | undefined): FlowSummaryWindow {
  return v && (FLOW_WINDOWS as string[]).includes(v) ? (v as FlowSummaryWindow) : DEFAULT_FLOW_WINDOW;
}

export const flowSummaryKey = (id: string, window: FlowSummaryWindow): string => `${flowKey(id)}/summary?window=${window}`;
export const flowTaskStatsKey = (id: string): string => `${STATS_KEY}?flowId=${encodeURIComponent(id)}`;

export function useFlowSummary(id: string, window: FlowSummaryWindow) {
  return useSWR<FlowSummaryView>(flowSummaryKey(id, window), getJson, { keepPreviousData: true });
}

export function useFlowTaskStats(id: string) {
  return useSWR<{ stats: TaskStatView[] }>(flowTaskStatsKey(id), getJson);
}

/** The flow's runs RUNNING or PENDING now, whatever their age (a run list key: a state change revalidates it). */
export const flowActiveRunsKey = (id: string): string => `/api/runs?state=PENDING&state=RUNNING&flowId=${encodeURIComponent(id)}&limit=200`;

export function useFlowActiveRuns(id: string) {
  return useSWR<{ runs: RunSummary[]; nextCursor: string | null }>(flowActiveRunsKey(id), getJson);
}
