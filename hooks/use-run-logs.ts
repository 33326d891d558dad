"use client";
/**
 * A run's logs, fetched incrementally: each revalidation asks only for lines after the last id
 * already held (`after=`), and appends them. One cache entry per filter (task run, levels).
 */
import useSWR, { useSWRConfig } from "swr";
import type { LogView } from "@/lib/contracts/dashboard";
import type { LogLevel } from "@/lib/domain/states";
import { getJson } from "./api-fetch";
import { runKey } from "./use-run";

export interface LogFilter {
  taskRunId: string;
  levels: LogLevel[];
}

const BATCH = 1000;
/** Stop after this many batches per revalidation (each request stays bounded at BATCH lines); the
 * next change event continues from there. 120 batches: a finished 100,000-line run opens whole,
 * since no change event would come to fetch the rest. */
const MAX_BATCHES = 120;

export const logsKey = (runId: string, filter: LogFilter): string => {
  const p = new URLSearchParams();
  if (filter.taskRunId) p.set("taskRunId", filter.taskRunId);
  for (const l of filter.levels) p.append("level", l);
  return `${runKey(runId)}/logs?${p.toString()}`;
};

export const isRunLogsKey = (runId: string) => (key: string): boolean => key.startsWith(`${runKey(runId)}/logs?`);

export function useRunLogs(runId: string, filter: LogFilter) {
  const { cache } = useSWRConfig();
  return useSWR<LogView[]>(logsKey(runId, filter), async (key: string) => {
    // Read what the cache holds *now*: a revalidation started while another was in flight
    // still asks from the last line actually stored, and SWR keeps only the newest answer.
    const held = (cache.get(key)?.data as LogView[] | undefined) ?? [];
    let all = held;
    let after = held.length ? Number(held[held.length - 1].id) : 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const url = `${key}${key.endsWith("?") ? "" : "&"}after=${after}&limit=${BATCH}`;
      const { logs } = await getJson<{ logs: LogView[] }>(url);
      if (!logs.length) break;
      all = all.concat(logs);
      after = Number(logs[logs.length - 1].id);
      if (logs.length < BATCH) break;
    }
    return all;
  });
}
