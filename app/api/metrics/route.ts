import { handleApiError } from "@/lib/api/errors";
import { getEngine } from "@/lib/server";

export const dynamic = "force-dynamic";

/** Prometheus text format (prom-client) of this instance: see docs/API.md › Metrics. */
export async function GET(): Promise<Response> {
  try {
    const { contentType, text } = await getEngine().metrics();
    return new Response(text, { headers: { "content-type": contentType, "cache-control": "no-store" } });
  } catch (e) {
    return handleApiError(e);
  }
}
