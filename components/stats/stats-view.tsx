"use client";
import { useTaskStats } from "@/hooks/use-task-stats";
import { useNow } from "@/hooks/use-now";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { formatAgo, formatDuration } from "@/components/ui/time-format";
import { ChartLegend, DurationChart } from "./duration-chart";

export function StatsView() {
  const { data, error, isLoading } = useTaskStats();
  const now = useNow(5000);
  if (error && !data) return <ErrorState title="Could not load statistics" error={error} />;
  if (isLoading || !data) return <LoadingBlock lines={3} label="Loading statistics" />;
  if (!data.stats.length) {
    return (
      <EmptyState title="No statistics yet" testId="empty-stats">
        Every completed task run adds a sample. Warnings (SLOW / CRITICAL) start once a task has 5 samples.
      </EmptyState>
    );
  }
  const stats = [...data.stats].sort((a, b) => a.flowName.localeCompare(b.flowName) || 0);
  return (
    <div className="card overflow-hidden">
      <div className="border-b border-line px-5 py-3">
        <ChartLegend />
      </div>
      <div className="table-wrap">
        <table className="data-table stack-sm sm:min-w-[1100px]" data-testid="stats-table">
          <thead>
            <tr>
              <th scope="col">Flow</th>
              <th scope="col">Task</th>
              <th scope="col" className="text-right">
                Mean
              </th>
              <th scope="col" className="text-right">
                σ
              </th>
              <th scope="col" className="text-right">
                Samples
              </th>
              <th scope="col">Updated</th>
              <th scope="col">Sensitivity</th>
              <th scope="col">Threshold</th>
              <th scope="col">Recent durations</th>
            </tr>
          </thead>
          <tbody>
            {stats.map((s) => (
              <tr key={`${s.flowId}:${s.taskName}`} data-testid="stats-row" data-flow={s.flowName} data-task={s.taskName}>
                <td className="max-w-48 break-words text-ink" data-label="Flow">
                  {s.flowName}
                </td>
                <td className="mono break-all text-ink" data-label="Task">
                  {s.taskName}
                </td>
                <td className="mono text-ink sm:text-right" data-label="Mean">
                  {formatDuration(s.meanMs)}
                </td>
                <td className="mono text-muted sm:text-right" data-label="σ">
                  {formatDuration(s.stddevMs)}
                </td>
                <td className="mono text-muted sm:text-right" data-label="Samples">
                  {s.samples}
                </td>
                <td className="mono text-xs whitespace-nowrap text-muted" title={s.updatedAt} data-label="Updated">
                  {formatAgo(s.updatedAt, now)}
                </td>
                <td className="text-muted" data-label="Sensitivity">
                  {s.sensitivity}
                </td>
                <td className="mono text-xs whitespace-nowrap" data-label="Threshold" data-testid="stats-threshold">
                  {s.threshold !== null ? (
                    <>
                      <span className="text-ink">z ≥ {s.threshold}</span>
                      <span className="block text-st-slow">SLOW ≥ {formatDuration(s.slowAtMs)}</span>
                      <span className="block text-st-critical">CRIT ≥ {formatDuration(s.criticalAtMs)}</span>
                    </>
                  ) : (
                    <span className="text-faint">needs 5 samples</span>
                  )}
                </td>
                <td className="cell-wide" data-label="Recent durations">
                  <DurationChart stat={s} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
