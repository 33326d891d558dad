/**
 * A tiny external store of how the dashboard's link to the server is doing: whether the live
 * event stream is open and whether the last API fetches failed. The banner reads it.
 */
import { useSyncExternalStore } from "react";

export interface ConnectionHealth {
  /** The /api/events stream: "connecting" before the first open, then "open" or "down". */
  stream: "connecting" | "open" | "down";
  /** Message of the last failed fetch when fetches are failing, else null. */
  fetchError: string | null;
  /** The browser says it has no network at all. */
  offline: boolean;
}

let state: ConnectionHealth = { stream: "connecting", fetchError: null, offline: false };
const listeners = new Set<() => void>();

function set(patch: Partial<ConnectionHealth>): void {
  const next = { ...state, ...patch };
  if (next.stream === state.stream && next.fetchError === state.fetchError && next.offline === state.offline) return;
  state = next;
  for (const l of listeners) l();
}

export const connectionHealth = {
  streamOpen: () => set({ stream: "open" }),
  streamDown: () => set({ stream: "down" }),
  fetchFailed: (message: string) => set({ fetchError: message }),
  fetchSucceeded: () => set({ fetchError: null }),
  browserOnline: (online: boolean) => set({ offline: !online }),
};

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};
const serverSnapshot: ConnectionHealth = { stream: "connecting", fetchError: null, offline: false };

export function useConnectionHealth(): ConnectionHealth {
  return useSyncExternalStore(subscribe, () => state, () => serverSnapshot);
}
