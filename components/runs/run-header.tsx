"use client";
import Link from "next/link";
import { useState } from "react";
import type { RunView } from "@/lib/contracts/dashboard";
import { cancelRun, reportUrl } from "@/hooks/use-run";
import { StateBadge } from "@/components/ui/state-badge";
import { WarningBadge } from "@/components/ui/warning-badge";
import { showBidiControls } from "@/lib/text/bidi";
import { LateBadge, ScheduledLabel } from "./schedule-badges";

/** Flow name, state, flags and the run's actions (cancel, report download). */
export function RunHeader({ run }: { run: RunView }) {
  const flagged = run.taskRuns.filter((t) => t.warning);
  const worst = flagged.some((t) => t.warning === "CRITICAL") ? "CRITICAL" : flagged.length ? "SLOW" : null;
  return (
    <header className="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div className="min-w-0">
        <p className="mono text-xs text-faint">
          <Link href="/runs">History</Link> / run <span className="text-muted">#{run.id}</span> ·{" "}
          <Link href={`/flows/${encodeURIComponent(run.flowId)}`} data-testid="run-flow-link">
            flow page
          </Link>
        </p>
        <h1 className="glow-text mt-1 text-2xl font-bold break-words text-ink sm:text-3xl" data-testid="run-title">
          {showBidiControls(run.flowName)}
        </h1>
        <div className="mt-2 flex flex-wrap items-center gap-2">
          <StateBadge state={run.state} testId="run-state" />
          {worst ? (
            <WarningBadge
              warning={worst}
              testId="run-warning"
              detail={`${flagged.length} task${flagged.length > 1 ? "s" : ""} flagged: ${flagged.map((t) => `${t.name} ${t.warning}`).join(", ")}`}
            />
          ) : null}
          <ScheduledLabel run={run} />
          <LateBadge run={run} />
          {run.stalled ? (
            <span className="badge st-STALLED" data-testid="run-stalled">
              STALLED
            </span>
          ) : null}
          {run.waitingForWorker ? (
            <span className="badge st-PENDING" data-testid="waiting-for-worker" title="No online worker serves this flow at the version this run was triggered with; it starts when one does.">
              waiting for a worker
            </span>
          ) : null}
          {run.cancelRequested && (run.state === "RUNNING" || run.state === "PENDING") ? (
            <span className="badge st-CANCELLED" data-testid="cancel-requested">
              cancel requested
            </span>
          ) : null}
        </div>
      </div>
      <div className="flex flex-wrap items-center gap-2">
        {(run.state === "PENDING" || run.state === "RUNNING") && !run.cancelRequested ? <CancelControl runId={run.id} /> : null}
        <a className="btn" href={reportUrl(run.id)} download={`perfect-run-${run.id}.html`} data-testid="report-link">
          <span aria-hidden="true">⤓</span> Download report
        </a>
      </div>
    </header>
  );
}

function CancelControl({ runId }: { runId: string }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const doCancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await cancelRun(runId);
      setConfirming(false);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (!confirming) {
    return (
      <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)} data-testid="cancel-button">
        <span aria-hidden="true">■</span> Cancel run
      </button>
    );
  }
  return (
    <div className="flex flex-wrap items-center gap-2" role="group" aria-label="Confirm cancellation">
      <span className="text-sm text-muted">Cancel this run?</span>
      <button type="button" className="btn btn-danger" onClick={doCancel} disabled={busy} data-testid="cancel-confirm" autoFocus>
        {busy ? "Cancelling…" : "Yes, cancel"}
      </button>
      <button type="button" className="btn" onClick={() => setConfirming(false)} disabled={busy}>
        Keep running
      </button>
      {error ? (
        <span role="alert" className="text-sm text-st-failed">
          {error}
        </span>
      ) : null}
    </div>
  );
}
