"use client";
/** Registered flows, a page at a time, and triggering a run of one. Owns the /api/flows keys. */
import useSWR from "swr";
import type { FlowView, RunView } from "@/lib/contracts/dashboard";
import { getJson, postJson } from "./api-fetch";
import { isSchedulesKey } from "./use-schedules";

export const FLOWS_KEY = "/api/flows";
export const FLOWS_PAGE_SIZE = 50;
/**
 * The flow lists and single flows. A flow's schedules live under /api/flows/{id}/ too but are
 * not flow keys: they change on `schedule` changes, not on every run's state (use-schedules.ts).
 */
export const isFlowsKey = (key: string): boolean =>
  key === FLOWS_KEY || key.startsWith("/api/flows?") || (key.startsWith("/api/flows/") && !isSchedulesKey(key));
export const flowKey = (id: string): string => `${FLOWS_KEY}/${encodeURIComponent(id)}`;

export interface FlowPage {
  flows: FlowView[];
  nextCursor: string | null;
}

/** The key of one page: `/api/flows?limit=…[&name=…][&cursor=…]` (a plain SWR key, so live events revalidate it). */
export function flowsPageKey({ name = "", cursor = null, limit = FLOWS_PAGE_SIZE }: { name?: string; cursor?: string | null; limit?: number } = {}): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (name.trim()) q.set("name", name.trim());
  if (cursor) q.set("cursor", cursor);
  return `${FLOWS_KEY}?${q}`;
}

/**
 * One page of flows. The first page also polls slowly: the server announces registrations and
 * runs on the event stream, but not a client going silent while idle (no event is published
 * then), and the online dots must stay honest. Later pages follow the event stream only.
 */
export function useFlowsPage(opts: { name?: string; cursor?: string | null; limit?: number } = {}) {
  return useSWR<FlowPage>(flowsPageKey(opts), getJson, { refreshInterval: opts.cursor ? 0 : 5000, keepPreviousData: true });
}

/** The first page (name order): for pickers and suggestions. */
export function useFlows(opts: { name?: string; limit?: number } = {}) {
  return useFlowsPage(opts);
}

/** One flow (the flow page); polls slowly for the same reason as the first page: the online dot. */
export function useFlow(id: string) {
  return useSWR<FlowView>(flowKey(id), getJson, { refreshInterval: 5000 });
}

/** POST /api/flows/{id}/runs; rejects with ApiRequestError (status 400 names the bad field). */
export function triggerRun(flowId: string, parameters: Record<string, unknown>): Promise<RunView> {
  return postJson<RunView>(`/api/flows/${encodeURIComponent(flowId)}/runs`, { parameters });
}
