"use client";
/**
 * A flow's schedules: each one's wording, where it is defined (code or API), whether it is
 * active, its policies, parameters and next five fire times; create, edit, pause, delete and
 * backfill. Schedules declared in code can only be paused or resumed here.
 */
import Link from "next/link";
import { useState } from "react";
import { useCan } from "@/hooks/use-me";
import type { FlowView } from "@/lib/contracts/dashboard";
import {
  CATCHUP_HELP,
  OVERLAP_HELP,
  deleteSchedule,
  updateSchedule,
  useFlowSchedules,
  type ScheduleView,
} from "@/hooks/use-schedules";
import { ErrorState } from "@/components/ui/status-views";
import { formatDateTime, formatUtc } from "@/components/ui/time-format";
import { BackfillDialog } from "./backfill-dialog";
import { ScheduleForm } from "./schedule-form";

type Editing = { mode: "create" } | { mode: "edit"; schedule: ScheduleView } | null;

export function SchedulesPanel({ flow }: { flow: FlowView }) {
  const { data, error } = useFlowSchedules(flow.id);
  const [editing, setEditing] = useState<Editing>(null);
  const [backfilling, setBackfilling] = useState<ScheduleView | null>(null);
  const schedules = data?.schedules ?? [];
  const canOperate = useCan("operator");
  return (
    <section id="schedules" className="card p-5" aria-labelledby="schedules-title" data-testid="schedules-panel">
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <div>
          <h2 id="schedules-title" className="section-title">
            Schedules
          </h2>
          <p className="mt-1 text-xs text-faint">Times in your time zone; hover one for UTC.</p>
        </div>
        {canOperate ? (
          <button type="button" className="btn" onClick={() => setEditing({ mode: "create" })} data-testid="schedule-new">
            <span aria-hidden="true">+</span> New schedule
          </button>
        ) : null}
      </div>
      {error && !data ? <ErrorState title="Could not load the schedules" error={error} /> : null}
      {!data && !error ? (
        <p className="text-sm text-muted" role="status">
          Loading schedules…
        </p>
      ) : null}
      {data && !schedules.length ? (
        <p className="text-sm text-muted" data-testid="schedules-empty">
          No schedules: this flow runs only when someone triggers it.
        </p>
      ) : null}
      {schedules.length ? (
        <ul className="space-y-3" data-testid="schedule-list">
          {schedules.map((s) => (
            <ScheduleRow key={s.id} schedule={s} onEdit={() => setEditing({ mode: "edit", schedule: s })} onBackfill={() => setBackfilling(s)} />
          ))}
        </ul>
      ) : null}
      {editing ? (
        <ScheduleForm
          key={editing.mode === "edit" ? editing.schedule.id : "new"}
          flow={flow}
          schedule={editing.mode === "edit" ? editing.schedule : null}
          onClose={() => setEditing(null)}
        />
      ) : null}
      {backfilling ? <BackfillDialog key={backfilling.id} flow={flow} schedule={backfilling} onClose={() => setBackfilling(null)} /> : null}
    </section>
  );
}

function ScheduleRow({ schedule: s, onEdit, onBackfill }: { schedule: ScheduleView; onEdit: () => void; onBackfill: () => void }) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const params = Object.entries(s.parameters ?? {});
  const code = s.source === "code";
  const descId = `schedule-${s.id}-description`;
  // Viewers see schedules but cannot pause, edit, delete or backfill them (the server refuses: 403).
  const canOperate = useCan("operator");

  const act = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li
      id={`schedule-${s.id}`}
      className="rounded-lg border border-line bg-void/40 p-4"
      data-testid="schedule-row"
      data-schedule-id={s.id}
      data-active={s.active ? "true" : "false"}
      data-source={s.source}
      aria-labelledby={descId}
    >
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <p id={descId} className="font-semibold break-words text-ink" data-testid="schedule-description">
            {s.description}
          </p>
          <p className="mono mt-0.5 text-xs break-words text-muted" data-testid="schedule-expression">
            {s.cron !== null && s.cron !== undefined ? `cron ${s.cron}` : `every ${s.intervalSeconds} s`} · {s.timezone}
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <span
            className={`badge ${code ? "st-SCHEDULE" : "st-PENDING"}`}
            data-testid="schedule-source"
            title={code ? "Declared in the flow's code (@flow(schedules=[…]))" : "Created in the dashboard or the API"}
          >
            {code ? "code" : "api"}
          </span>
          <button
            type="button"
            role="switch"
            aria-checked={s.active}
            aria-label={`Active: ${s.description}`}
            className={`badge cursor-pointer ${s.active ? "st-ACTIVE" : "st-PAUSED"}`}
            onClick={() => void act(() => updateSchedule(s, { active: !s.active }))}
            disabled={busy || !canOperate}
            title={s.active ? "Active: click to pause" : "Paused: click to resume"}
            data-testid="schedule-toggle"
          >
            <span className={`badge-dot ${s.active ? "pulse" : ""}`} aria-hidden="true" />
            <span data-testid="schedule-state">{s.active ? "active" : "paused"}</span>
          </button>
        </div>
      </div>

      <dl className="mt-3 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-2">
        <div>
          <dt className="text-xs text-faint">Catch-up</dt>
          <dd className="text-ink" data-testid="schedule-catchup" title={CATCHUP_HELP[s.catchup]}>
            <span className="mono">{s.catchup}</span> <span className="text-xs text-muted">— {CATCHUP_HELP[s.catchup]}</span>
          </dd>
        </div>
        <div>
          <dt className="text-xs text-faint">Overlap</dt>
          <dd className="text-ink" data-testid="schedule-overlap" title={OVERLAP_HELP[s.overlap]}>
            <span className="mono">{s.overlap}</span> <span className="text-xs text-muted">— {OVERLAP_HELP[s.overlap]}</span>
          </dd>
        </div>
        <div className="sm:col-span-2">
          <dt className="text-xs text-faint">Parameters</dt>
          <dd>
            {params.length ? (
              <ul className="mt-0.5 flex flex-wrap gap-1.5" data-testid="schedule-parameters">
                {params.map(([k, v]) => (
                  <li key={k} className="chip">
                    <span className="chip-key">{k}</span>
                    <span className="text-faint">=</span>
                    {typeof v === "string" ? v : JSON.stringify(v)}
                  </li>
                ))}
              </ul>
            ) : (
              <span className="text-xs text-muted">the flow&apos;s defaults</span>
            )}
          </dd>
        </div>
        <div className="sm:col-span-2">
          <dt className="text-xs text-faint">Next runs</dt>
          <dd>
            {s.active && s.nextRuns.length ? (
              <ol className="mono mt-0.5 flex flex-wrap gap-x-4 gap-y-1 text-xs text-ink" data-testid="schedule-next-runs">
                {s.nextRuns.map((t) => (
                  <li key={t}>
                    <time dateTime={t} title={formatUtc(t)} data-testid="schedule-next-run">
                      {formatDateTime(t)}
                    </time>
                  </li>
                ))}
              </ol>
            ) : (
              <span className="text-xs text-muted" data-testid="schedule-no-next-runs">
                {s.active ? "none upcoming" : "paused: no upcoming runs"}
              </span>
            )}
          </dd>
        </div>
        {s.lastFiredFor ? (
          <div className="sm:col-span-2">
            <dt className="text-xs text-faint">Last fired for</dt>
            <dd className="mono text-xs text-muted">
              <time dateTime={s.lastFiredFor} title={formatUtc(s.lastFiredFor)}>
                {formatDateTime(s.lastFiredFor)}
              </time>
            </dd>
          </div>
        ) : null}
      </dl>

      <div className="mt-3 flex flex-wrap items-center gap-2 border-t border-line pt-3">
        {code ? (
          <p className="w-full text-xs text-muted" data-testid="schedule-code-note">
            Defined in code: change it in the flow&apos;s <span className="mono">@flow(schedules=[…])</span>; here it can only be paused or resumed.
          </p>
        ) : null}
        <Link className="btn btn-sm" href={`/runs?scheduleId=${encodeURIComponent(s.id)}`} data-testid="schedule-runs-link">
          Runs
        </Link>
        {canOperate ? (
          <button type="button" className="btn btn-sm" onClick={onBackfill} data-testid="schedule-backfill">
            Backfill…
          </button>
        ) : null}
        {!code && canOperate ? (
          <>
            <button type="button" className="btn btn-sm" onClick={onEdit} data-testid="schedule-edit" aria-label={`Edit schedule: ${s.description}`}>
              Edit
            </button>
            {confirming ? (
              <span className="flex flex-wrap items-center gap-2" role="group" aria-label="Confirm deletion">
                <span className="text-sm text-muted">Delete this schedule? Its runs stay.</span>
                <button
                  type="button"
                  className="btn btn-sm btn-danger"
                  onClick={() => void act(() => deleteSchedule(s))}
                  disabled={busy}
                  autoFocus
                  data-testid="schedule-delete-confirm"
                >
                  {busy ? "Deleting…" : "Yes, delete"}
                </button>
                <button type="button" className="btn btn-sm" onClick={() => setConfirming(false)} disabled={busy}>
                  Keep it
                </button>
              </span>
            ) : (
              <button
                type="button"
                className="btn btn-sm btn-danger"
                onClick={() => setConfirming(true)}
                data-testid="schedule-delete"
                aria-label={`Delete schedule: ${s.description}`}
              >
                Delete
              </button>
            )}
          </>
        ) : null}
      </div>
      {error ? (
        <p role="alert" className="mt-2 text-sm text-st-failed" data-testid="schedule-error">
          {error}
        </p>
      ) : null}
    </li>
  );
}
