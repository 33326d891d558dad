import { dashboardRead } from "@/lib/api/route";

export const dynamic = "force-dynamic";

/** The flows page's summary strip: running and pending now, failed in 24 h, late, workers and clients online. */
export const GET = dashboardRead(({ engine }) => engine.summary());
