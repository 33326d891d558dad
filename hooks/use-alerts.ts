"use client";
/**
 * The Alerts page's data (docs/API.md › Alerts): rules in force, destination health and the
 * delivery log. Owns the /api/alerts keys; an `alert` change on the live stream revalidates them.
 */
import useSWR, { mutate } from "swr";
import type { AlertsOverview, DeliveryPage, DeliveryView } from "@/lib/contracts/alerts";
import { getJson, postJson } from "./api-fetch";

export type { AlertsOverview, DeliveryPage, DeliveryView } from "@/lib/contracts/alerts";

export const ALERTS_KEY = "/api/alerts";
export const isAlertsKey = (key: string): boolean => key === ALERTS_KEY || key.startsWith(`${ALERTS_KEY}/`) || key.startsWith(`${ALERTS_KEY}?`);

export function deliveriesKey(q: { state?: string; destination?: string; cursor?: string }): string {
  const p = new URLSearchParams();
  if (q.state) p.set("state", q.state);
  if (q.destination) p.set("destination", q.destination);
  if (q.cursor) p.set("cursor", q.cursor);
  const s = p.toString();
  return `${ALERTS_KEY}/deliveries${s ? `?${s}` : ""}`;
}

export function useAlertsOverview() {
  return useSWR<AlertsOverview>(ALERTS_KEY, getJson, { keepPreviousData: true });
}

export function useDeliveries(q: { state?: string; destination?: string; cursor?: string }) {
  return useSWR<DeliveryPage>(deliveriesKey(q), getJson, { keepPreviousData: true });
}

export async function sendTestAlert(destinationId: string): Promise<DeliveryView> {
  const d = await postJson<DeliveryView>(`${ALERTS_KEY}/test`, { destinationId });
  await mutate(isAlertsKey);
  return d;
}
