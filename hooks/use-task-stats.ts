"use client";
/** Per-task duration statistics with the SLOW/CRITICAL thresholds in force. */
import useSWR from "swr";
import type { TaskStatView } from "@/lib/contracts/dashboard";
import { getJson } from "./api-fetch";

export const STATS_KEY = "/api/stats/tasks";
export const isStatsKey = (key: string): boolean => key === STATS_KEY || key.startsWith(`${STATS_KEY}?`);

export function useTaskStats() {
  return useSWR<{ stats: TaskStatView[] }>(STATS_KEY, getJson);
}
