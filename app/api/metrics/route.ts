import { guardedRoute } from "@/lib/api/route";
import { getEngine } from "@/lib/server";

export const dynamic = "force-dynamic";

/**
 * Prometheus text format (prom-client) of this instance: see docs/API.md › Metrics. A viewer's
 * credential — for a scraper, an API token as `Authorization: Bearer` — once a user exists.
 */
export const GET = guardedRoute({ role: "viewer" }, async () => {
  const { contentType, text } = await getEngine().metrics();
  return new Response(text, { headers: { "content-type": contentType, "cache-control": "no-store" } });
});
