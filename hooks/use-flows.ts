"use client";
/** Registered flows, and triggering a run of one. Owns the /api/flows keys. */
import useSWR from "swr";
import type { FlowView, RunView } from "@/lib/contracts/dashboard";
import { getJson, postJson } from "./api-fetch";

export const FLOWS_KEY = "/api/flows";
export const isFlowsKey = (key: string): boolean => key === FLOWS_KEY || key.startsWith("/api/flows?") || key.startsWith("/api/flows/");

export function useFlows() {
  // The server announces registrations and runs on the event stream, but not a client going
  // silent while idle (no event is published then): a slow poll keeps the online dot honest.
  return useSWR<{ flows: FlowView[] }>(FLOWS_KEY, getJson, { refreshInterval: 5000 });
}

/** POST /api/flows/{id}/runs; rejects with ApiRequestError (status 400 names the bad field). */
export function triggerRun(flowId: string, parameters: Record<string, unknown>): Promise<RunView> {
  return postJson<RunView>(`/api/flows/${encodeURIComponent(flowId)}/runs`, { parameters });
}
