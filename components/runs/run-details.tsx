import Link from "next/link";
import type { RunView } from "@/lib/contracts/dashboard";
import { TagChips } from "@/components/ui/tag-chips";
import { formatDateTime, formatDuration, formatUtc } from "@/components/ui/time-format";

/** Parameters, tags and bookkeeping of a run; parameter values are shown as JSON text. */
export function RunDetails({ run }: { run: RunView }) {
  const params = Object.entries(run.parameters);
  const meta: [string, string][] = [
    ["Run id", run.id],
    ["Client", run.clientId],
    ["Worker", run.workerId ?? "—"],
    ["Trigger", run.trigger],
    ["Created", formatDateTime(run.createdAt)],
    ["Started", formatDateTime(run.startedAt)],
    ["Ended", formatDateTime(run.endedAt)],
    ["Duration", formatDuration(run.durationMs)],
  ];
  return (
    <section className="card space-y-5 p-5" aria-label="Run details">
      <div>
        <h2 className="section-title mb-2">Parameters</h2>
        {params.length ? (
          <dl className="space-y-1.5 text-sm" data-testid="run-parameters">
            {params.map(([k, v]) => (
              <div key={k} className="grid grid-cols-[minmax(0,9rem)_minmax(0,1fr)] gap-2">
                <dt className="mono truncate text-muted" title={k}>
                  {k}
                </dt>
                <dd className="mono break-words whitespace-pre-wrap text-ink" data-testid={`run-param-${k}`}>
                  {typeof v === "string" ? v : JSON.stringify(v)}
                </dd>
              </div>
            ))}
          </dl>
        ) : (
          <p className="text-sm text-faint">none</p>
        )}
      </div>
      <div>
        <h2 className="section-title mb-2">Tags</h2>
        <TagChips tags={run.tags} testId="run-tag" />
      </div>
      <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-4 gap-y-1.5 text-sm">
        {meta.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-faint">{k}</dt>
            <dd className="mono truncate text-right text-ink" title={v}>
              {v}
            </dd>
          </div>
        ))}
        {run.scheduledFor ? (
          <div className="contents">
            <dt className="text-faint">Scheduled for</dt>
            <dd className="mono truncate text-right text-ink" title={formatUtc(run.scheduledFor)} data-testid="run-scheduled-for">
              <time dateTime={run.scheduledFor}>{formatDateTime(run.scheduledFor)}</time>
            </dd>
          </div>
        ) : null}
        {run.scheduleId ? (
          <div className="contents">
            <dt className="text-faint">Schedule</dt>
            <dd className="mono truncate text-right">
              <Link href={`/flows/${encodeURIComponent(run.flowId)}#schedule-${encodeURIComponent(run.scheduleId)}`} data-testid="run-schedule-link">
                #{run.scheduleId}
              </Link>{" "}
              <Link href={`/runs?scheduleId=${encodeURIComponent(run.scheduleId)}`} className="text-xs">
                (its runs)
              </Link>
            </dd>
          </div>
        ) : null}
      </dl>
    </section>
  );
}
