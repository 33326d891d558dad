"use client";
/** The run's place in its tree of subflows: the parent it was called from, and the child runs it started. */
import Link from "next/link";
import type { RunView } from "@/lib/contracts/dashboard";
import useSWR from "swr";
import { getJson } from "@/hooks/api-fetch";
import { runKey } from "@/hooks/use-run";
import { ProgressBar } from "@/components/ui/progress-bar";
import { StateBadge } from "@/components/ui/state-badge";
import { formatPercent } from "@/components/ui/time-format";

/** "Subflow of run #N (flow)": shown for a child run only. */
export function ParentRunLink({ run }: { run: RunView }) {
  const parentId = run.parentRunId;
  const { data: parent } = useSWR<RunView>(parentId ? runKey(parentId) : null, getJson);
  if (!parentId) return null;
  return (
    <p className="mb-4 text-sm text-muted" data-testid="parent-run">
      Subflow of{" "}
      <Link className="mono text-ink underline" href={`/runs/${encodeURIComponent(parentId)}`} data-testid="parent-run-link">
        run #{parentId}
      </Link>
      {parent ? <span data-testid="parent-run-flow"> ({parent.flowName})</span> : null}
    </p>
  );
}

/** The child runs this run started (each a run of its own), live with the parent's answer. */
export function SubflowsPanel({ run }: { run: RunView }) {
  if (!run.childRuns.length) return null;
  return (
    <section className="card p-5" aria-label="Subflows" data-testid="subflows">
      <p className="section-title mb-3">Subflows</p>
      <ul className="space-y-3">
        {run.childRuns.map((c) => (
          <li key={c.id} data-testid="subflow-row" data-run-id={c.id} data-state={c.state}>
            <div className="mb-1 flex flex-wrap items-center justify-between gap-2">
              <Link className="break-words text-ink" href={`/runs/${encodeURIComponent(c.id)}`} data-testid="subflow-link">
                <span className="mono">#{c.id}</span> {c.flowName}
              </Link>
              <span className="flex items-center gap-2">
                <span className="mono text-xs text-muted" data-testid="subflow-progress-text">{formatPercent(c.progress)}</span>
                <StateBadge state={c.state} testId="subflow-state" />
              </span>
            </div>
            <ProgressBar value={c.progress} state={c.state} label={`Progress of subflow ${c.flowName}`} testId="subflow-progress" />
          </li>
        ))}
      </ul>
    </section>
  );
}
