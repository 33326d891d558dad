"use client";
/** One run with its task runs (live progress, ETA, warnings), and cancelling or retrying it. */
import useSWR, { mutate } from "swr";
import type { RunView } from "@/lib/contracts/dashboard";
import { getJson, postJson } from "./api-fetch";

export const runKey = (id: string): string => `/api/runs/${encodeURIComponent(id)}`;

export function useRun(id: string) {
  return useSWR<RunView>(runKey(id), getJson);
}

export async function cancelRun(id: string): Promise<RunView> {
  const run = await postJson<RunView>(`${runKey(id)}/cancel`, {});
  await mutate(runKey(id), run, { revalidate: false });
  return run;
}

/** A new run of the same flow and parameters (`retryOf` this one); the caller navigates to it. */
export async function retryRun(id: string): Promise<RunView> {
  const run = await postJson<RunView>(`${runKey(id)}/retry`, {});
  await mutate(runKey(id));
  return run;
}

export const reportUrl = (id: string): string => `${runKey(id)}/report`;
