"use client";
/**
 * Run history. Pages are chained: each page asks for the runs older than the previous page's
 * *current* last run, so when a new run arrives live at the top nothing slips between pages.
 */
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import type { RunSummary } from "@/lib/contracts/dashboard";
import { filtersFromSearch, searchFromFilters, useRunsPage, type RunFilters } from "@/hooks/use-runs";
import { useNow } from "@/hooks/use-now";
import { ProgressBar } from "@/components/ui/progress-bar";
import { StateBadge } from "@/components/ui/state-badge";
import { ErrorState } from "@/components/ui/status-views";
import { formatDateTime, formatDuration, formatPercent } from "@/components/ui/time-format";
import { WarningBadge } from "@/components/ui/warning-badge";
import { LateBadge, ScheduledLabel, isScheduledRun } from "@/components/runs/schedule-badges";
import { HistoryFilters } from "./history-filters";
import { showBidiControls } from "@/lib/text/bidi";

const COLUMNS = 9;

export function HistoryView() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const filters = filtersFromSearch(new URLSearchParams(params?.toString() ?? ""));
  const filterKey = searchFromFilters(filters).toString();
  const [pages, setPages] = useState({ key: filterKey, extra: 0 });
  const extra = pages.key === filterKey ? pages.extra : 0;

  const apply = (f: RunFilters) => {
    const qs = searchFromFilters(f).toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  };

  return (
    <>
      <HistoryFilters filters={filters} onApply={apply} />
      <div className="card overflow-hidden">
        <div className="table-wrap">
          <table className="data-table stack-sm sm:min-w-[980px]" data-testid="history-table">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Flow</th>
                <th scope="col">State</th>
                <th scope="col" className="w-40">
                  Progress
                </th>
                <th scope="col">Client</th>
                <th scope="col">Tags</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
                <th scope="col">Warning</th>
              </tr>
            </thead>
            <tbody>
              <RunPage filters={filters} cursor={null} depth={extra} first onMore={() => setPages({ key: filterKey, extra: extra + 1 })} />
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

function RunPage({
  filters,
  cursor,
  depth,
  first = false,
  onMore,
}: {
  filters: RunFilters;
  cursor: string | null;
  depth: number;
  first?: boolean;
  onMore: () => void;
}) {
  const { data, error, isLoading } = useRunsPage(filters, cursor);
  if (error && !data) {
    return (
      <tr>
        <td colSpan={COLUMNS}>
          <ErrorState title="Could not load runs" error={error} />
        </td>
      </tr>
    );
  }
  if (!data || (isLoading && !data)) {
    return (
      <tr>
        <td colSpan={COLUMNS} className="py-6 text-center text-muted" role="status">
          Loading runs…
        </td>
      </tr>
    );
  }
  return (
    <>
      {data.runs.map((r) => (
        <HistoryRow key={r.id} run={r} />
      ))}
      {first && !data.runs.length ? (
        <tr>
          <td colSpan={COLUMNS} className="py-10 text-center" data-testid="history-empty">
            <p className="font-semibold text-ink">No runs match.</p>
            <p className="mt-1 text-sm text-muted">Trigger a flow from the Flows page, or loosen the filters.</p>
          </td>
        </tr>
      ) : null}
      {data.nextCursor ? (
        depth > 0 ? (
          <RunPage filters={filters} cursor={data.nextCursor} depth={depth - 1} onMore={onMore} />
        ) : (
          <tr>
            <td colSpan={COLUMNS} className="py-3 text-center">
              <button type="button" className="btn" onClick={onMore} data-testid="history-load-more">
                Load older runs
              </button>
            </td>
          </tr>
        )
      ) : null}
    </>
  );
}

function HistoryRow({ run }: { run: RunSummary }) {
  const now = useNow(run.state === "RUNNING" ? 1000 : 0);
  const live = run.state === "RUNNING" && run.startedAt && now ? now - Date.parse(run.startedAt) : run.durationMs;
  return (
    <tr className="animate-fade-in" data-testid="history-row" data-run-id={run.id} data-state={run.state} data-trigger={run.trigger}>
      <td data-label="Run">
        <Link href={`/runs/${run.id}`} className="mono" data-testid="history-run-link">
          #{run.id}
        </Link>
      </td>
      <td className="max-w-64" data-label="Flow">
        <Link href={`/flows/${encodeURIComponent(run.flowId)}`} className="break-words text-ink" data-testid="history-flow">
          {showBidiControls(run.flowName)}
        </Link>
        {run.parentRunId ? (
          <Link href={`/runs/${run.parentRunId}`} className="ml-2 inline-block align-middle text-xs text-muted" data-testid="history-subflow-of" title={`Subflow of run #${run.parentRunId}`}>
            subflow of #{run.parentRunId}
          </Link>
        ) : null}
        {isScheduledRun(run) ? (
          <span className="ml-2 inline-block align-middle">
            <ScheduledLabel run={run} testId="history-scheduled" />
          </span>
        ) : null}
        {run.triggeredBy && run.triggeredBy !== "schedule" ? (
          <span className="ml-2 inline-block align-middle text-xs text-muted" data-testid="history-triggered-by" title="Who triggered this run">
            by {showBidiControls(run.triggeredBy)}
          </span>
        ) : null}
      </td>
      <td data-label="State">
        <StateBadge state={run.state} testId="history-state" />
        {run.cancelRequested && run.state === "RUNNING" ? <span className="ml-1 text-xs text-st-cancelled">cancelling</span> : null}
        {run.late ? (
          <span className="ml-1 inline-block align-middle">
            <LateBadge run={run} testId="history-late" />
          </span>
        ) : null}
        {run.waitingForWorker ? (
          <span className="ml-1 text-xs text-st-pending" data-testid="history-waiting" title="No online worker serves this flow yet">
            waiting for a worker
          </span>
        ) : null}
      </td>
      <td data-label="Progress">
        <div className="flex items-center gap-2">
          <div className="flex-1">
            <ProgressBar value={run.progress} state={run.state} label={`Run ${run.id} progress`} />
          </div>
          <span className="mono w-10 text-right text-xs text-muted">{formatPercent(run.progress)}</span>
        </div>
      </td>
      <td className="mono text-xs text-muted" data-label="Client">
        {run.clientId}
      </td>
      <td className="cell-wide min-w-56" data-label="Tags">
        <div className="flex flex-wrap gap-1">
          {Object.entries(run.tags).map(([k, v]) => (
            <span key={k} className="chip" data-testid="history-tag">
              <span className="chip-key">{k}</span>
              <span className="text-faint">:</span>
              {v}
            </span>
          ))}
        </div>
      </td>
      <td className="mono text-xs whitespace-nowrap text-muted" data-label="Created">
        {formatDateTime(run.createdAt)}
      </td>
      <td className="mono text-xs whitespace-nowrap text-ink" data-label="Duration">
        {formatDuration(live)}
      </td>
      <td data-label="Warning">
        {run.warning ? <WarningBadge warning={run.warning} testId="history-warning" detail="a task of this run was flagged" /> : null}
        {run.stalled ? <span className="badge st-STALLED ml-1">STALLED</span> : null}
        {!run.warning && !run.stalled ? <span className="text-faint">—</span> : null}
      </td>
    </tr>
  );
}
