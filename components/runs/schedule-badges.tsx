"use client";
/**
 * What a schedule adds to a run (docs/API.md › Runs made by a schedule): a "schedule" label with
 * its fire time, and a "late" badge when it started — or is still waiting — past the grace period.
 */
import type { RunSummary } from "@/lib/contracts/dashboard";
import { useNow } from "@/hooks/use-now";
import { ClockIcon } from "@/components/ui/clock-icon";
import { formatDateTime, formatDuration, formatUtc } from "@/components/ui/time-format";

type ScheduledRun = Pick<RunSummary, "id" | "state" | "startedAt" | "trigger" | "scheduleId" | "scheduledFor" | "late" | "lateByMs">;

export const isScheduledRun = (run: Pick<RunSummary, "trigger">): boolean => run.trigger === "schedule";

export function ScheduledLabel({ run, testId = "run-scheduled" }: { run: ScheduledRun; testId?: string }) {
  if (!isScheduledRun(run)) return null;
  const title = run.scheduledFor ? `Started by a schedule, for ${formatDateTime(run.scheduledFor)} (${formatUtc(run.scheduledFor)})` : "Started by a schedule";
  return (
    <span className="badge st-SCHEDULE" title={title} data-testid={testId} data-schedule-id={run.scheduleId ?? ""}>
      <ClockIcon />
      schedule
      <span className="sr-only">{run.scheduledFor ? `, for ${formatDateTime(run.scheduledFor)}` : ""}</span>
    </span>
  );
}

export function LateBadge({ run, testId = "run-late" }: { run: ScheduledRun; testId?: string }) {
  // Still waiting: how late it is grows between fetches, so tick; a started run's figure is fixed.
  const waiting = run.late && run.state === "PENDING" && run.scheduledFor !== null;
  const now = useNow(waiting ? 1000 : 0);
  if (!run.late) return null;
  const by = waiting && now ? Math.max(now - Date.parse(run.scheduledFor!), run.lateByMs ?? 0) : run.lateByMs;
  const text = by !== null && by !== undefined ? `late by ${formatDuration(by)}` : "late";
  return (
    <span
      className="badge st-LATE"
      data-testid={testId}
      title={run.scheduledFor ? `Scheduled for ${formatDateTime(run.scheduledFor)} (${formatUtc(run.scheduledFor)}); ${run.startedAt ? "started" : "not started yet"}` : undefined}
    >
      <ClockIcon />
      {text}
    </span>
  );
}
