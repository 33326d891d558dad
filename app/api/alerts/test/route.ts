import { dashboardMutation, parseWith } from "@/lib/api/route";
import { testAlertBodySchema } from "@/lib/contracts/alerts";

export const dynamic = "force-dynamic";

/** Queues an alert.test delivery to one destination through the outbox: 202 with the delivery. */
export const POST = dashboardMutation(({ engine, body }) => engine.sendTestAlert(parseWith(testAlertBodySchema, body).destinationId), 202);
