"use client";
/**
 * An admin list (users, tokens): the list from `url` and actions on it. `act(fn)` runs one
 * action, refreshes the list after it and keeps the action's error message for the form or row
 * that started it (one `useAction` per place an error is shown).
 */
import { useCallback, useState } from "react";
import useSWR from "swr";
import { ApiRequestError, getJson } from "./api-fetch";

export const errorMessage = (e: unknown) => (e instanceof ApiRequestError ? e.message : String(e));

export function useAdminList<T>(url: string) {
  const { data, error, mutate } = useSWR<T>(url, getJson);
  return { data, error, mutate };
}

/** One place's action state: `act(fn)` → the action's result, or `undefined` with `error` set. */
export function useAction(refresh: () => Promise<unknown>) {
  const [error, setError] = useState<string | null>(null);
  const act = useCallback(
    async <R,>(fn: () => Promise<R>): Promise<R | undefined> => {
      setError(null);
      try {
        const result = await fn();
        await refresh();
        return result;
      } catch (err) {
        setError(errorMessage(err));
        return undefined;
      }
    },
    [refresh],
  );
  return { error, act };
}
