import { handleApiError } from "@/lib/api/errors";
import { getEngine } from "@/lib/server";

export const dynamic = "force-dynamic";

/** Answers once the database is open and migrated (getEngine opens and migrates it). */
export function GET(): Response {
  try {
    getEngine();
    return Response.json({ ok: true });
  } catch (e) {
    return handleApiError(e);
  }
}
