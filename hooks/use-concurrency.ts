"use client";
/**
 * Global concurrency limits (docs/API.md › Concurrency limits): each key's limit, holders and
 * line, setting and deleting a limit. Owns the /api/concurrency-limits keys; a `concurrency`
 * change on the live stream revalidates them.
 */
import useSWR, { mutate } from "swr";
import type { ConcurrencyLimitList, ConcurrencyLimitView } from "@/lib/contracts/concurrency";
import { deleteJson, getJson, putJson } from "./api-fetch";

export type { ConcurrencyLimitList, ConcurrencyLimitView } from "@/lib/contracts/concurrency";
export { CONCURRENCY_KEY_PATTERN, MAX_CONCURRENCY_KEY, MAX_CONCURRENCY_LIMIT } from "@/lib/contracts/concurrency";

export const CONCURRENCY_LIMITS_KEY = "/api/concurrency-limits";
export const concurrencyLimitKey = (key: string): string => `${CONCURRENCY_LIMITS_KEY}/${encodeURIComponent(key)}`;
export const isConcurrencyKey = (key: string): boolean => key === CONCURRENCY_LIMITS_KEY || key.startsWith(`${CONCURRENCY_LIMITS_KEY}/`);

export function useConcurrencyLimits() {
  return useSWR<ConcurrencyLimitList>(CONCURRENCY_LIMITS_KEY, getJson, { keepPreviousData: true });
}

export async function setConcurrencyLimit(key: string, limit: number): Promise<ConcurrencyLimitView> {
  const view = await putJson<ConcurrencyLimitView>(concurrencyLimitKey(key), { limit });
  await mutate(isConcurrencyKey);
  return view;
}

export async function deleteConcurrencyLimit(key: string): Promise<void> {
  await deleteJson(concurrencyLimitKey(key));
  await mutate(isConcurrencyKey);
}
