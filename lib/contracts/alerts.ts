/**
 * The Alerts API (docs/API.md › Alerts): the delivery log's query, the test alert's body and
 * the views both answer. Shared by the routes, the Alerts page and the tests.
 */
import { z } from "zod";
import { ALERT_EVENTS, DELIVERY_STATES } from "../domain/states";

export const MAX_DELIVERY_PAGE = 200;

export const deliveryListQuerySchema = z.object({
  state: z.enum(DELIVERY_STATES).optional(),
  destination: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_DELIVERY_PAGE).default(50),
  /** The nextCursor of the previous page. */
  cursor: z.string().regex(/^\d{1,15}$/, { message: "expected a cursor from a previous page" }).optional(),
});
export type DeliveryListQuery = z.infer<typeof deliveryListQuerySchema>;

export const testAlertBodySchema = z.object({
  destinationId: z.string().min(1).max(100),
});

export interface AlertRuleView {
  index: number;
  on: (typeof ALERT_EVENTS)[number][];
  flows: string[] | null;
  tags: Record<string, string> | null;
  clients: string[] | null;
  to: string[];
  throttleSeconds: number;
}

export interface DestinationView {
  id: string;
  type: "webhook" | "slack";
  /** Scheme, host and path only: a query string may hold a token (Slack's URL is itself the secret). */
  url: string;
  signed: boolean;
  health: {
    pending: number;
    delivered: number;
    dead: number;
    throttled: number;
    lastSuccessAt: string | null;
    lastFailureAt: string | null;
  };
}

export interface AlertsOverview {
  file: string | null;
  /** The last edit's problem while the previous rules stay in force; null when the file loaded. */
  loadError: string | null;
  loadedAt: string;
  rules: AlertRuleView[];
  destinations: DestinationView[];
  /** Destination ids that have deliveries but are no longer in the file. */
  formerDestinations: string[];
}

export interface AttemptView {
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  destinationId: string;
  type: string;
  runId: string | null;
  flowName: string | null;
  state: (typeof DELIVERY_STATES)[number];
  attempts: AttemptView[];
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
  /** The body as sent (the Standard Webhooks envelope). */
  payload: unknown;
}

export interface DeliveryPage {
  deliveries: DeliveryView[];
  nextCursor: string | null;
}
