"use client";
import Link from "next/link";
import type { FlowView } from "@/lib/contracts/dashboard";
import { useCan } from "@/hooks/use-me";
import { useNow } from "@/hooks/use-now";
import { useFlowSchedules } from "@/hooks/use-schedules";
import { useSeen } from "@/hooks/use-seen";
import { OnlineDot, StateBadge } from "@/components/ui/state-badge";
import { TagChips } from "@/components/ui/tag-chips";
import { formatAgo, formatDateTime, formatShortTime, formatUtc } from "@/components/ui/time-format";
import { WarningBadge } from "@/components/ui/warning-badge";
import { ClockIcon } from "@/components/ui/clock-icon";
import { showBidiControls } from "@/lib/text/bidi";
import { TaskWeights } from "./task-weights";

/** One registered flow: what it is, its tasks and their weights, who serves it, its last run. */
export function FlowCard({ flow, onRun }: { flow: FlowView; onRun: () => void }) {
  // Viewers get no Run button (the server refuses their trigger anyway: 403).
  const canOperate = useCan("operator");
  const now = useNow(5000);
  const headingId = `flow-${flow.id}-name`;
  const [seenRef, seen] = useSeen<HTMLElement>();
  return (
    <article ref={seenRef} className="card flex min-w-0 flex-col gap-4 p-5" data-testid="flow-card" data-flow-name={flow.name} data-flow-id={flow.id} aria-labelledby={headingId}>
      <div className="flex items-start justify-between gap-3">
        <div className="min-w-0">
          <h2 id={headingId} className="text-lg font-bold break-words" data-testid="flow-name">
            <Link href={`/flows/${encodeURIComponent(flow.id)}`} className="text-ink hover:text-accent" data-testid="flow-link">
              {showBidiControls(flow.name)}
            </Link>
          </h2>
          {flow.description ? <p className="mt-1 text-sm break-words text-muted">{flow.description}</p> : null}
          <FlowScheduleLine flowId={flow.id} enabled={seen} now={now} />
        </div>
        {canOperate ? (
<button
          type="button"
          className="btn btn-primary shrink-0"
          onClick={onRun}
          disabled={flow.clientRemoved}
          title={flow.clientRemoved ? `client ${flow.clientId} was removed from clients.json` : undefined}
          data-testid="trigger-button"
          aria-label={`Run ${flow.name}`}
        >
          <span aria-hidden="true">▶</span> Run
        </button>
) : null}
      </div>

      <TagChips tags={flow.tags} />

      <div>
        <p className="section-title mb-2">Tasks · weight</p>
        <TaskWeights tasks={flow.tasks} />
      </div>

      <div className="mt-auto flex flex-wrap items-center justify-between gap-3 border-t border-line pt-3 text-sm">
        <div className="flex min-w-0 items-center gap-2" data-testid="flow-client">
          <OnlineDot online={flow.online} testId="flow-client-online" />
          <span className="truncate text-muted" title={flow.clientId}>
            {flow.clientName}
          </span>
        </div>
        <div className="flex flex-wrap items-center gap-2" data-testid="flow-last-run">
          {flow.lastRun ? (
            <>
              <span className="text-xs text-faint">last run</span>
              <Link href={`/runs/${flow.lastRun.id}`} className="flex items-center gap-2 no-underline!" aria-label={`Last run ${flow.lastRun.id}: ${flow.lastRun.state}`}>
                <StateBadge state={flow.lastRun.state} testId="flow-last-run-state" />
                <span className="mono text-xs text-accent underline-offset-2 hover:underline">#{flow.lastRun.id}</span>
              </Link>
              {flow.lastRun.warning ? <WarningBadge warning={flow.lastRun.warning} testId="flow-last-run-warning" detail="a task of this run was flagged" /> : null}
              <span className="mono text-xs text-faint">{formatAgo(flow.lastRun.createdAt, now)}</span>
            </>
          ) : (
            <span className="text-xs text-faint">never run</span>
          )}
        </div>
      </div>
    </article>
  );
}

/**
 * "⏱ 2 schedules · next 06:00" when the flow has active schedules; nothing otherwise. Asked for
 * once the card has been on screen, one small request per card.
 */
function FlowScheduleLine({ flowId, enabled, now }: { flowId: string; enabled: boolean; now: number }) {
  const { data } = useFlowSchedules(flowId, { enabled });
  const active = data?.schedules.filter((s) => s.active) ?? [];
  if (!active.length) return null;
  const next = active
    .map((s) => s.nextFireAt ?? s.nextRuns[0] ?? null)
    .filter((t): t is string => Boolean(t))
    .sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  return (
    <p className="mt-1.5 text-xs text-muted" data-testid="flow-schedules" data-count={active.length}>
      <Link href={`/flows/${encodeURIComponent(flowId)}#schedules`} className="text-muted! hover:text-accent!">
        <ClockIcon /> {active.length} schedule{active.length === 1 ? "" : "s"}
        {next ? (
          <>
            {" · next "}
            <time className="mono" dateTime={next} title={`${formatDateTime(next)} (${formatUtc(next)})`} data-testid="flow-schedules-next">
              {formatShortTime(next, now)}
            </time>
          </>
        ) : null}
      </Link>
    </p>
  );
}
