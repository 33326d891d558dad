import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { deliveryListQuerySchema } from "@/lib/contracts/alerts";

export const dynamic = "force-dynamic";

/** The delivery log, newest first, with each delivery's attempts. */
export const GET = dashboardRead(({ engine, req }) => engine.listAlertDeliveries(parseWith(deliveryListQuerySchema, queryOf(req))));
