import { dashboardMutation } from "@/lib/api/route";

export const dynamic = "force-dynamic";

export const POST = dashboardMutation(({ engine, params }) => engine.cancelRun(params.id));
