"use client";
import type { TaskRunView } from "@/lib/contracts/dashboard";
import { useNow } from "@/hooks/use-now";
import { ProgressBar } from "@/components/ui/progress-bar";
import { StateBadge } from "@/components/ui/state-badge";
import { formatDuration, formatPercent } from "@/components/ui/time-format";
import { WarningBadge } from "@/components/ui/warning-badge";
import { showBidiControls } from "@/lib/text/bidi";

export function liveDuration(t: TaskRunView, now: number): number | null {
  if (t.state === "RUNNING" && t.startedAt && now) return Math.max(now - Date.parse(t.startedAt), t.durationMs ?? 0);
  return t.durationMs;
}

/** One row per task run: its own bar, state, attempt, live duration and performance flags. */
export function TaskTable({ tasks }: { tasks: TaskRunView[] }) {
  const now = useNow(tasks.some((t) => t.state === "RUNNING") ? 250 : 0);
  return (
    <section className="card overflow-hidden" aria-labelledby="tasks-title">
      <h2 id="tasks-title" className="section-title px-5 pt-4">
        Tasks
      </h2>
      <div className="table-wrap">
        <table className="data-table stack-sm sm:min-w-[720px]" data-testid="task-table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col" className="w-[22%]">
                Progress
              </th>
              <th scope="col">Attempt</th>
              <th scope="col">Duration</th>
              <th scope="col">Expected</th>
              <th scope="col">Flags</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id} data-testid="task-row" data-task-name={t.name} data-state={t.state}>
                <td className="mono cell-hide-sm text-faint">{t.position + 1}</td>
                <td className="cell-wide" data-label="Task">
                  <span className="mono break-words text-ink">{showBidiControls(t.name)}</span>
                  {t.error ? (
                    <p className="mono mt-1 max-w-md text-xs break-words whitespace-pre-wrap text-st-failed" data-testid="task-error">
                      {t.error}
                    </p>
                  ) : null}
                </td>
                <td data-label="State">
                  <StateBadge state={t.state} testId="task-state" />
                </td>
                <td className="cell-wide" data-label="Progress">
                  <div className="flex items-center gap-2">
                    <div className="flex-1">
                      <ProgressBar value={t.progress} state={t.state} label={`${t.name} progress`} testId="task-progress" />
                    </div>
                    <span className="mono w-10 text-right text-xs text-muted">{formatPercent(t.progress)}</span>
                  </div>
                </td>
                <td className="mono text-muted" data-label="Attempt" data-testid="task-attempt">
                  {t.attempt}
                </td>
                <td className="mono whitespace-nowrap text-ink" data-label="Duration" data-testid="task-duration">
                  {formatDuration(liveDuration(t, now))}
                </td>
                <td className="mono text-xs whitespace-nowrap text-muted" data-label="Expected">
                  {t.meanMs !== null && t.samples >= 5 ? (
                    <span title={`mean over ${t.samples} runs`}>
                      {formatDuration(t.meanMs)}
                      {t.stddevMs !== null ? <span className="text-faint"> σ {formatDuration(t.stddevMs)}</span> : null}
                    </span>
                  ) : (
                    <span title="estimatedTime (fewer than 5 samples)">~{formatDuration(t.expectedMs)}</span>
                  )}
                </td>
                <td data-label="Flags">
                  <div className="flex flex-wrap gap-1">
                    {t.warning ? <WarningBadge warning={t.warning} zScore={t.zScore} threshold={t.threshold} meanMs={t.meanMs} testId="task-warning" /> : null}
                    {t.stalled ? (
                      <span className="badge st-STALLED" data-testid="task-stalled" title="its reported progress has not moved for unusually long">
                        STALLED
                      </span>
                    ) : null}
                    {!t.warning && !t.stalled ? <span className="text-xs text-faint">—</span> : null}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {tasks.length === 0 ? <p className="px-5 pb-4 text-sm text-faint">This run has no task runs yet.</p> : null}
    </section>
  );
}
