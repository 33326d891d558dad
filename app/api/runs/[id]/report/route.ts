import { handleApiError } from "@/lib/api/errors";
import { authorize } from "@/lib/api/route";
import { getEngine } from "@/lib/server";
import { renderRunReport } from "@/lib/report/run-report";

export const dynamic = "force-dynamic";

/** A self-contained HTML report, downloaded as a file; no scripts may run in it at all. */
export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    await authorize(req, "viewer");
    const { id } = await ctx.params;
    const engine = getEngine();
    const run = await engine.getRun(id);
    const { logs } = await engine.listLogs(id, { after: 0, level: [], limit: 100_000 });
    const { artifacts } = await engine.listArtifacts(id);
    return new Response(renderRunReport(run, logs, new Date(), artifacts), {
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Disposition": `attachment; filename="perfect-run-${run.id}.html"`,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        "X-Content-Type-Options": "nosniff",
      },
    });
  } catch (e) {
    return handleApiError(e);
  }
}
