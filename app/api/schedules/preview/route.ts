import { dashboardRead, parseWith, queryOf } from "@/lib/api/route";
import { schedulePreviewQuerySchema } from "@/lib/contracts/dashboard";

export const dynamic = "force-dynamic";

/** The next fire times of a definition (the schedule form's live preview); nothing is stored. */
export const GET = dashboardRead(({ engine, req }) => engine.previewSchedule(parseWith(schedulePreviewQuerySchema, queryOf(req))));
