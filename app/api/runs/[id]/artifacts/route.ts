import { dashboardRead } from "@/lib/api/route";

export const dynamic = "force-dynamic";

export const GET = dashboardRead(({ engine, params }) => engine.listArtifacts(params.id));
