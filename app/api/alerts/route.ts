import { dashboardRead } from "@/lib/api/route";

export const dynamic = "force-dynamic";

/** The rules in force, each destination's health, and the last edit's problem if any. */
export const GET = dashboardRead(({ engine }) => engine.alertsOverview());
