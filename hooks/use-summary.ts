"use client";
/**
 * The flows page's summary strip (GET /api/summary). Revalidated by the live stream on every
 * run state change and client change (use-live-events.tsx), and slowly polled: "late" and
 * "workers online" also move with the clock alone, when no event is published.
 */
import useSWR from "swr";
import type { SummaryView } from "@/lib/contracts/dashboard";
import { getJson } from "./api-fetch";

export const SUMMARY_KEY = "/api/summary";
export const isSummaryKey = (key: string): boolean => key === SUMMARY_KEY;

export function useSummary() {
  return useSWR<SummaryView>(SUMMARY_KEY, getJson, { refreshInterval: 10_000, keepPreviousData: true });
}
