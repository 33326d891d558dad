"use client";
import type { RunView } from "@/lib/contracts/dashboard";
import { useNow } from "@/hooks/use-now";
import { ProgressBar } from "@/components/ui/progress-bar";
import { formatClock, formatDuration, formatPercent, formatSeconds } from "@/components/ui/time-format";

/** Weighted progress (Σ wᵢ·pᵢ / Σ wᵢ) with the ETA and its ±1σ band. */
export function RunProgress({ run }: { run: RunView }) {
  const now = useNow(run.state === "RUNNING" ? 1000 : 0);
  const active = run.state === "RUNNING" || run.state === "PENDING";
  const elapsed = run.startedAt ? (run.endedAt ? Date.parse(run.endedAt) : now || Date.parse(run.startedAt)) - Date.parse(run.startedAt) : null;
  const band = run.etaLowMs !== null && run.etaHighMs !== null ? (run.etaHighMs - run.etaLowMs) / 2 : 0;
  return (
    <section className="card p-5" aria-label="Progress">
      <div className="mb-3 flex flex-wrap items-end justify-between gap-3">
        <div>
          <p className="section-title">Weighted progress</p>
          <p className="mono mt-1 text-4xl font-bold text-ink" data-testid="run-progress-text" aria-live="off">
            {formatPercent(run.progress)}
          </p>
        </div>
        <div className="text-sm sm:text-right" data-testid="run-eta">
          {run.state === "RUNNING" && run.etaMs !== null && run.etaMs < 500 ? (
            <p className="text-st-slow">taking longer than expected</p>
          ) : active && run.etaMs !== null ? (
            <>
              <p className="mono text-ink">
                ≈ {formatSeconds(run.etaMs)} left
                {band >= 500 ? <span className="text-muted"> ± {formatSeconds(band)}</span> : null}
              </p>
              <p className="mono text-xs text-muted">
                ETA {run.eta ? formatClock(run.eta) : "—"}
                {run.etaLowMs !== null && run.etaHighMs !== null && band >= 500
                  ? ` (${formatSeconds(run.etaLowMs)}–${formatSeconds(run.etaHighMs)})`
                  : ""}
              </p>
            </>
          ) : active ? (
            <p className="text-muted">ETA unknown</p>
          ) : (
            <p className="mono text-muted">
              {run.state === "COMPLETED" ? "finished" : run.state.toLowerCase()} {run.endedAt ? `at ${formatClock(run.endedAt)}` : ""}
            </p>
          )}
          <p className="mono text-xs text-faint">elapsed {formatDuration(elapsed)}</p>
        </div>
      </div>
      <ProgressBar value={run.progress} state={run.state} large label="Run progress" testId="run-progress" />
      {run.error ? (
        <p className="mono mt-3 rounded-md border border-st-failed/40 bg-st-failed/10 px-3 py-2 text-sm break-words whitespace-pre-wrap text-st-failed" data-testid="run-error">
          {run.error}
        </p>
      ) : null}
    </section>
  );
}
