"use client";
/**
 * The flow page (/flows/{id}): what the flow is, who serves it, the Run button; its runs over a
 * window (24 h / 7 d / 30 d, kept in the URL's `?window=`) as figures and a chart; each task's
 * duration statistics with its thresholds; its concurrency; its parameters, tasks and schedules.
 * Everything follows the live event stream (see hooks/use-flow-summary.ts).
 */
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import type { FlowSummaryView, FlowSummaryWindow, FlowView, TaskStatView } from "@/lib/contracts/dashboard";
import { RUN_STATES } from "@/lib/domain/states";
import { ApiRequestError } from "@/hooks/api-fetch";
import { useFlow } from "@/hooks/use-flows";
import { FLOW_WINDOWS, parseFlowWindow, useFlowActiveRuns, useFlowSummary, useFlowTaskStats } from "@/hooks/use-flow-summary";
import { useCan } from "@/hooks/use-me";
import { formatRate } from "@/components/charts/format";
import { RunsChart } from "@/components/charts/runs-chart";
import { ChartLegend, DurationChart } from "@/components/stats/duration-chart";
import { formatDuration } from "@/components/ui/time-format";
import { OnlineDot, StateBadge } from "@/components/ui/state-badge";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { TagChips } from "@/components/ui/tag-chips";
import { showBidiControls } from "@/lib/text/bidi";
import { SchedulesPanel } from "./schedules-panel";
import { TaskWeights } from "./task-weights";
import { TriggerDialog } from "./trigger-dialog";

export function FlowPage({ id }: { id: string }) {
  const { data: flow, error } = useFlow(id);
  const [triggering, setTriggering] = useState(false);
  if (error && !flow) {
    if (error instanceof ApiRequestError && (error.status === 404 || error.status === 400)) {
      return (
        <EmptyState title={`Flow ${id} not found`} testId="flow-not-found">
          <Link href="/">Back to the flows</Link>
        </EmptyState>
      );
    }
    return <ErrorState title="Could not load this flow" error={error} />;
  }
  if (!flow) return <LoadingBlock lines={3} label="Loading flow" />;
  return (
    <div data-testid="flow-page" data-flow-id={flow.id}>
      <FlowHeader flow={flow} onRun={() => setTriggering(true)} />
      <SummaryCard flow={flow} />
      <div className="mt-5 grid grid-cols-1 gap-5 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0 space-y-5">
          <TaskStatsCard flow={flow} />
          <SchedulesPanel flow={flow} />
        </div>
        <div className="min-w-0 space-y-5">
          <ConcurrencyCard flow={flow} />
          <ParametersCard flow={flow} />
          <TasksCard flow={flow} />
        </div>
      </div>
      {triggering ? <TriggerDialog flow={flow} onClose={() => setTriggering(false)} /> : null}
    </div>
  );
}

function FlowHeader({ flow, onRun }: { flow: FlowView; onRun: () => void }) {
  // Viewers get no Run button (the server refuses their trigger anyway: 403).
  const canOperate = useCan("operator");
  return (
    <header className="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div className="min-w-0">
        <p className="mono text-xs text-faint">
          <Link href="/">Flows</Link> / flow <span className="text-muted">#{flow.id}</span>
        </p>
        <h1 className="glow-text mt-1 text-2xl font-bold break-words text-ink sm:text-3xl" data-testid="flow-title">
          {showBidiControls(flow.name)}
        </h1>
        {flow.description ? (
          <p className="mt-1 max-w-3xl text-sm break-words text-muted" data-testid="flow-description">
            {flow.description}
          </p>
        ) : null}
        <div className="mt-3 flex flex-wrap items-center gap-3">
          <TagChips tags={flow.tags} />
          <span className="flex items-center gap-2 text-sm" data-testid="flow-client">
            <OnlineDot online={flow.online} testId="flow-client-online" />
            <span className="text-muted">{flow.clientName}</span>
            <span className="mono text-xs text-faint">{flow.clientId}</span>
          </span>
          {flow.lastRun ? (
            <Link href={`/runs/${flow.lastRun.id}`} className="flex items-center gap-2 text-sm no-underline!" aria-label={`Last run ${flow.lastRun.id}: ${flow.lastRun.state}`}>
              <span className="text-xs text-faint">last run</span>
              <StateBadge state={flow.lastRun.state} testId="flow-last-run-state" />
              <span className="mono text-xs">#{flow.lastRun.id}</span>
            </Link>
          ) : null}
        </div>
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <Link className="btn" href={`/runs?flowId=${encodeURIComponent(flow.id)}`} data-testid="flow-history-link">
          Runs in history
        </Link>
        {canOperate ? (
<button
          type="button"
          className="btn btn-primary"
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
    </header>
  );
}

function ParametersCard({ flow }: { flow: FlowView }) {
  return (
    <section className="card p-5" aria-labelledby="flow-parameters-title">
      <h2 id="flow-parameters-title" className="section-title mb-3">
        Parameters
      </h2>
      {flow.parameters.length === 0 ? (
        <p className="text-sm text-faint">This flow takes no parameters.</p>
      ) : (
        <dl className="space-y-2 text-sm" data-testid="flow-parameters">
          {flow.parameters.map((p) => (
            <div key={p.name} className="grid grid-cols-[minmax(0,1fr)_auto] gap-x-2" data-testid="flow-parameter">
              <dt className="mono min-w-0 truncate text-ink" title={p.name}>
                {p.name}
                {p.required ? (
                  <span className="text-st-critical" title="required">
                    {" "}
                    * <span className="sr-only">required</span>
                  </span>
                ) : null}
              </dt>
              <dd className="mono text-right text-xs text-faint">{p.type}</dd>
              <dd className="mono col-span-2 text-xs break-words whitespace-pre-wrap text-muted">
                {p.default === undefined ? (p.required ? "no default" : "—") : `default ${JSON.stringify(p.default)}`}
              </dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

function TasksCard({ flow }: { flow: FlowView }) {
  return (
    <section className="card p-5" aria-labelledby="flow-tasks-title">
      <h2 id="flow-tasks-title" className="section-title mb-3">
        Tasks · weight
      </h2>
      <TaskWeights tasks={flow.tasks} />
    </section>
  );
}

const WINDOW_LABELS: Record<FlowSummaryWindow, { short: string; long: string }> = {
  "24h": { short: "24 h", long: "the last 24 hours" },
  "7d": { short: "7 d", long: "the last 7 days" },
  "30d": { short: "30 d", long: "the last 30 days" },
};

/** The window in the URL (`?window=7d`; 24h when absent or unknown), and moving to another one (a history entry: back returns). */
function useWindowParam(): [FlowSummaryWindow, (w: FlowSummaryWindow) => void] {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const window = parseFlowWindow(params?.get("window"));
  const choose = (w: FlowSummaryWindow) => {
    const q = new URLSearchParams(params?.toString() ?? "");
    q.set("window", w);
    router.push(`${pathname}?${q}`, { scroll: false });
  };
  return [window, choose];
}

function SummaryCard({ flow }: { flow: FlowView }) {
  const [window, setWindow] = useWindowParam();
  const { data, error } = useFlowSummary(flow.id, window);
  const shown = data && data.window === window ? data : undefined;
  return (
    <section className="card p-5" aria-labelledby="flow-summary-title" data-testid="flow-summary" data-window={window} data-loaded={shown ? "true" : "false"}>
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <h2 id="flow-summary-title" className="section-title">
          Runs in {WINDOW_LABELS[window].long}
        </h2>
        <div role="group" aria-label="Time window" className="flex gap-1" data-testid="window-selector">
          {FLOW_WINDOWS.map((w) => (
            <button
              key={w}
              type="button"
              className={`btn btn-sm ${w === window ? "btn-primary" : ""}`}
              aria-pressed={w === window}
              onClick={() => (w === window ? undefined : setWindow(w))}
              data-testid={`window-${w}`}
            >
              <span className="sr-only">Last </span>
              {WINDOW_LABELS[w].short}
            </button>
          ))}
        </div>
      </div>
      {error && !data ? (
        <ErrorState title="Could not load this flow's runs" error={error} testId="flow-summary-error" />
      ) : !shown ? (
        <LoadingBlock lines={2} label="Loading the flow's runs" />
      ) : (
        <SummaryBody summary={shown} label={WINDOW_LABELS[window].long} />
      )}
    </section>
  );
}

function Figure({ label, value, testId, raw }: { label: string; value: string; testId: string; raw: number | null }) {
  return (
    <div className="min-w-0 rounded-md border border-line px-3 py-2">
      <dt className="text-xs text-faint">{label}</dt>
      <dd className="mono mt-0.5 text-lg text-ink" data-testid={testId} data-value={raw ?? ""}>
        {value}
      </dd>
    </div>
  );
}

function SummaryBody({ summary, label }: { summary: FlowSummaryView; label: string }) {
  const states = RUN_STATES.filter((s) => (summary.counts[s] ?? 0) > 0);
  const finished = summary.runs.filter((r) => r.durationMs !== null).length;
  const caption = `${summary.total} runs in ${label}${states.length ? ` (${states.map((s) => `${summary.counts[s]} ${s.toLowerCase()}`).join(", ")})` : ""}; the chart shows the newest ${summary.runs.length}, ${finished} of them with a duration: success rate ${formatRate(summary.successRate)}, p50 ${formatDuration(summary.p50Ms)}, p95 ${formatDuration(summary.p95Ms)}.`;
  return (
    <>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4" data-testid="flow-figures">
        <Figure label="Runs" value={String(summary.total)} raw={summary.total} testId="summary-total" />
        <Figure label="Success rate" value={formatRate(summary.successRate)} raw={summary.successRate} testId="summary-success-rate" />
        <Figure label="p50 duration" value={formatDuration(summary.p50Ms)} raw={summary.p50Ms} testId="summary-p50" />
        <Figure label="p95 duration" value={formatDuration(summary.p95Ms)} raw={summary.p95Ms} testId="summary-p95" />
      </dl>
      <ul className="mt-3 flex flex-wrap gap-2" aria-label="Runs per state" data-testid="summary-counts">
        {RUN_STATES.map((s) => (
          <li key={s} className="flex items-center gap-1.5 text-sm" data-testid={`summary-count-${s}`} data-value={summary.counts[s] ?? 0}>
            <StateBadge state={s} testId={`summary-state-${s}`} />
            <span className="mono text-ink">{summary.counts[s] ?? 0}</span>
          </li>
        ))}
      </ul>
      <div className="mt-4">
        {summary.runs.length ? (
          <RunsChart runs={summary.runs} caption={caption} />
        ) : (
          <p className="text-sm text-faint" data-testid="flow-runs-empty">
            No runs in {label}. Press Run, or pick a longer window.
          </p>
        )}
      </div>
    </>
  );
}

function TaskStatsCard({ flow }: { flow: FlowView }) {
  const { data, error } = useFlowTaskStats(flow.id);
  const byTask = new Map((data?.stats ?? []).map((s) => [s.taskName, s]));
  const names = [...flow.tasks.map((t) => t.name), ...[...byTask.keys()].filter((n) => !flow.tasks.some((t) => t.name === n))];
  return (
    <section className="card p-5" aria-labelledby="flow-task-stats-title" data-testid="flow-task-stats">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-3">
        <h2 id="flow-task-stats-title" className="section-title">
          Task durations
        </h2>
        <ChartLegend />
      </div>
      {error && !data ? (
        <ErrorState title="Could not load the task statistics" error={error} testId="flow-task-stats-error" />
      ) : !data ? (
        <LoadingBlock lines={2} label="Loading task statistics" />
      ) : names.length === 0 ? (
        <p className="text-sm text-faint">This flow declares no tasks.</p>
      ) : (
        <ul className="space-y-4">
          {names.map((name) => (
            <TaskStat key={name} name={name} stat={byTask.get(name)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function TaskStat({ name, stat }: { name: string; stat: TaskStatView | undefined }) {
  return (
    <li className="min-w-0 border-t border-line pt-3 first:border-t-0 first:pt-0" data-testid="flow-task-stat" data-task={name}>
      <div className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1">
        <span className="mono break-all text-ink">{name}</span>
        {stat ? (
          <dl className="mono flex flex-wrap gap-x-4 gap-y-1 text-xs text-muted">
            <div className="flex gap-1">
              <dt className="text-faint">mean</dt>
              <dd data-testid="task-stat-mean">{formatDuration(stat.meanMs)}</dd>
            </div>
            <div className="flex gap-1">
              <dt className="text-faint">σ</dt>
              <dd data-testid="task-stat-stddev">{formatDuration(stat.stddevMs)}</dd>
            </div>
            <div className="flex gap-1">
              <dt className="text-faint">samples</dt>
              <dd data-testid="task-stat-samples">{stat.samples}</dd>
            </div>
            <div className="flex gap-1" data-testid="task-stat-threshold">
              <dt className="text-faint">thresholds</dt>
              {stat.slowAtMs !== null ? (
                <dd>
                  <span className="text-st-slow">SLOW ≥ {formatDuration(stat.slowAtMs)}</span> · <span className="text-st-critical">CRIT ≥ {formatDuration(stat.criticalAtMs)}</span>
                </dd>
              ) : (
                <dd className="text-faint">need 5 samples</dd>
              )}
            </div>
          </dl>
        ) : null}
      </div>
      {stat ? (
        <div className="mt-2">
          <DurationChart stat={stat} height={110} className="w-full" axes />
        </div>
      ) : (
        <p className="mt-1 text-sm text-faint" data-testid="task-stat-none">
          No samples yet: every finished run of this task adds one.
        </p>
      )}
    </li>
  );
}

function ConcurrencyCard({ flow }: { flow: FlowView }) {
  const { data, error } = useFlowActiveRuns(flow.id);
  const running = data?.runs.filter((r) => r.state === "RUNNING").length ?? 0;
  const pending = data?.runs.filter((r) => r.state === "PENDING").length ?? 0;
  const more = data?.nextCursor ? "+" : "";
  return (
    <section className="card p-5" aria-labelledby="flow-concurrency-title" data-testid="flow-concurrency">
      <h2 id="flow-concurrency-title" className="section-title mb-3">
        Concurrency
      </h2>
      <dl className="space-y-2 text-sm">
        <div className="flex justify-between gap-2">
          <dt className="text-muted">Max active runs</dt>
          <dd className="mono text-ink" data-testid="flow-max-active-runs" data-value={flow.maxActiveRuns ?? ""}>
            {flow.maxActiveRuns === null ? "no limit" : flow.maxActiveRuns}
          </dd>
        </div>
        {error && !data ? (
          <div className="text-st-failed" role="alert">
            Could not load the active runs: {error instanceof Error ? error.message : String(error)}
          </div>
        ) : (
          <>
            <div className="flex justify-between gap-2">
              <dt className="text-muted">Running now</dt>
              <dd className="mono text-ink" data-testid="flow-active-running" data-value={data ? running : ""}>
                {data ? `${running}${more}` : "…"}
              </dd>
            </div>
            <div className="flex justify-between gap-2">
              <dt className="text-muted">Waiting (pending)</dt>
              <dd className="mono text-ink" data-testid="flow-active-pending" data-value={data ? pending : ""}>
                {data ? `${pending}${more}` : "…"}
              </dd>
            </div>
          </>
        )}
      </dl>
      <p className="mt-3 text-xs text-muted">
        Global limits by key, shared across flows: <Link href="/concurrency">concurrency limits</Link>.
      </p>
    </section>
  );
}
