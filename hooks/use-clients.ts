"use client";
/** Configured clients with liveness and workers. */
import useSWR from "swr";
import type { ClientView } from "@/lib/contracts/dashboard";
import { getJson } from "./api-fetch";

export const CLIENTS_KEY = "/api/clients";
export const isClientsKey = (key: string): boolean => key === CLIENTS_KEY;

export function useClients() {
  // A client that goes silent while idle publishes no change event: poll as a safety net.
  return useSWR<{ clients: ClientView[] }>(CLIENTS_KEY, getJson, { refreshInterval: 2000 });
}
