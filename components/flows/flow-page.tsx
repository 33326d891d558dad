"use client";
/**
 * The flow page (/flows/{id}): what the flow is, who serves it, the Run button, its parameters
 * and tasks, and its schedules. Kept small on purpose: charts and statistics come with issue #20.
 */
import Link from "next/link";
import { useState } from "react";
import type { FlowView } from "@/lib/contracts/dashboard";
import { ApiRequestError } from "@/hooks/api-fetch";
import { useFlow } from "@/hooks/use-flows";
import { useCan } from "@/hooks/use-me";
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
      <div className="grid grid-cols-1 gap-5 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0">
          <SchedulesPanel flow={flow} />
        </div>
        <div className="min-w-0 space-y-5">
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
