"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { RunView } from "@/lib/contracts/dashboard";
import { cancelRun, reportUrl, retryRun } from "@/hooks/use-run";
import { useCan } from "@/hooks/use-me";
import { StateBadge } from "@/components/ui/state-badge";
import { WarningBadge } from "@/components/ui/warning-badge";
import { showBidiControls } from "@/lib/text/bidi";
import { LateBadge, ScheduledLabel } from "./schedule-badges";

/** Flow name, state, flags, retry links and the run's actions (cancel, retry, report download). */
export function RunHeader({ run }: { run: RunView }) {
  // Viewers see no Cancel / Retry (the server refuses them anyway: 403).
  const canOperate = useCan("operator");
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
          {run.retryOf ? (
            <Link className="badge" href={`/runs/${encodeURIComponent(run.retryOf)}`} data-testid="retry-of">
              retry of #{run.retryOf}
            </Link>
          ) : null}
          {run.retries.map((id) => (
            <Link key={id} className="badge" href={`/runs/${encodeURIComponent(id)}`} data-testid="retried-as">
              retried as #{id}
            </Link>
          ))}
          {run.waitingForSlot ? (
            <span className="badge st-PENDING" data-testid="waiting-for-slot" title="The flow's max_active_runs slots are all taken: this run starts when one of its runs ends.">
              waiting for a slot (max active runs)
            </span>
          ) : null}
          {run.cancelRequested && (run.state === "RUNNING" || run.state === "PENDING") ? (
            <span className="badge st-CANCELLED" data-testid="cancel-requested">
              cancel requested
            </span>
          ) : null}
        </div>
        {run.triggeredBy || run.cancelledBy ? (
          <p className="mt-2 text-sm text-muted" data-testid="run-audit">
            {run.triggeredBy ? (
              <>
                triggered by{" "}
                <Link href={`/runs?triggeredBy=${encodeURIComponent(run.triggeredBy)}`} className="font-semibold" data-testid="run-triggered-by">
                  {showBidiControls(run.triggeredBy)}
                </Link>
              </>
            ) : null}
            {run.triggeredBy && run.cancelledBy ? " · " : null}
            {run.cancelledBy ? (
              <>
                cancelled by <span className="font-semibold" data-testid="run-cancelled-by">{showBidiControls(run.cancelledBy)}</span>
              </>
            ) : null}
          </p>
        ) : null}
      </div>
      <div className="flex flex-wrap items-center gap-2">
        {canOperate && (run.state === "PENDING" || run.state === "RUNNING") && !run.cancelRequested ? <CancelControl runId={run.id} /> : null}
        {canOperate && (run.state === "COMPLETED" || run.state === "FAILED" || run.state === "CANCELLED") ? <RetryControl runId={run.id} /> : null}
        <a className="btn" href={reportUrl(run.id)} download={`perfect-run-${run.id}.html`} data-testid="report-link">
          <span aria-hidden="true">⤓</span> Download report
        </a>
      </div>
    </header>
  );
}

/** Retry: a new run of the same flow and parameters; opens it. */
function RetryControl({ runId }: { runId: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const doRetry = async () => {
    setBusy(true);
    setError(null);
    try {
      const run = await retryRun(runId);
      router.push(`/runs/${encodeURIComponent(run.id)}`);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="btn" onClick={doRetry} disabled={busy} data-testid="retry-button" title="Start a new run of this flow with the same parameters">
        <span aria-hidden="true">↻</span> {busy ? "Retrying…" : "Retry"}
      </button>
      {error ? (
        <span role="alert" className="text-sm text-st-failed">
          {error}
        </span>
      ) : null}
    </>
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
